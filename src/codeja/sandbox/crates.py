"""Prebuilt Rust crates for HumanEvalPack (``use rand::Rng; use regex::Regex; use md5;`` in every declaration).

Built once, offline, with cargo from Debian's vendored crate sources (``librust-rand-dev``,
``librust-regex-dev``, ``librust-md5-dev`` install them under /usr/share/cargo/registry) and the same rustc the
sandbox compiles with, into ``<cache>/rust-crates/<rustc version hash>/``. Programs then compile with
``rustc --extern rand=... -L dependency=...`` against these rlibs: no cargo and no network per sample.
The build runs trusted Debian sources only, so it runs outside the sandbox.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from functools import cache
from pathlib import Path

from codeja.sandbox.languages import BuildContext, Language, find_tool, tool_version

REGISTRY = Path("/usr/share/cargo/registry")
_lock = threading.Lock()

_MANIFEST = """[package]
name = "codeja-sandbox-crates"
version = "0.0.0"
edition = "2021"

[dependencies]
rand = "0.8"
regex = "1"
md5 = "0.7"

[profile.dev]
debug = 0
"""


def _cache_root() -> Path:
    from codeja.sandbox.runner import cache_root  # import cycle: runner imports crates

    return cache_root()


@cache
def rust_crates_dir() -> str | None:
    """The folder of prebuilt rlibs, building it on first use; None when cargo or the sources are missing."""
    rustc, cargo = find_tool("rustc"), find_tool("cargo")
    if not rustc or not cargo or not REGISTRY.is_dir():
        return None
    tag = hashlib.sha256((tool_version(rustc) + _MANIFEST).encode()).hexdigest()[:16]
    out = _cache_root() / "rust-crates" / tag
    with _lock:
        if (out / ".done").exists():
            return str(out)
        work = Path(tempfile.mkdtemp(prefix="codeja-crates-"))
        try:
            (work / "src").mkdir()
            (work / "src" / "lib.rs").write_text("")
            (work / "Cargo.toml").write_text(_MANIFEST)
            (work / ".cargo").mkdir()
            (work / ".cargo" / "config.toml").write_text(
                f'[source.crates-io]\nreplace-with = "debian"\n[source.debian]\ndirectory = "{REGISTRY}"\n'
                '[net]\noffline = true\n')
            env = {**os.environ, "RUSTC": rustc, "CARGO_HOME": str(work / ".cargo"),
                   "CARGO_TARGET_DIR": str(work / "target")}
            r = subprocess.run([cargo, "build", "--offline", "-q"], cwd=work, env=env, capture_output=True, text=True,
                               timeout=900)
            if r.returncode != 0:
                return None
            tmp = out.with_name(out.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for f in (work / "target" / "debug" / "deps").iterdir():
                if f.suffix in (".rlib", ".rmeta"):
                    shutil.copy2(f, tmp / f.name)
            (tmp / ".done").write_text("ok")
            shutil.rmtree(out, ignore_errors=True)
            os.rename(tmp, out)
            for p in [out, *out.iterdir()]:
                os.chmod(p, 0o755 if p.is_dir() else 0o644)
            return str(out)
        except (OSError, subprocess.SubprocessError):
            return None
        finally:
            shutil.rmtree(work, ignore_errors=True)


def go_cache_dir() -> str:
    d = _cache_root() / "go-build"
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o1777)  # shared by every slot uid; the go toolchain (not the program) writes it
    return str(d)


def build_context(lang: Language) -> BuildContext:
    if lang.name == "go":
        return BuildContext(go_cache=go_cache_dir())
    if lang.name == "rust":
        return BuildContext(rust_crates=rust_crates_dir())
    return BuildContext()
