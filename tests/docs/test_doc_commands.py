"""The documentation's commands run as written: every shell block of the READMEs, docs/ja/ and the guides either
runs here, top to bottom, or carries a tag that says what it needs (doc_blocks.TAGS).

Each document runs in a fresh temporary checkout: a copy of examples/, the recipes, and a ``.venv/bin/activate``
that puts this test's Python first on PATH, so ``. .venv/bin/activate`` and ``cd examples`` work as a user's clone
does, and nothing depends on ``make demo`` having run or on the working directory of the test run. The blocks of a
document share one bash session per block and one folder, in order, so a later block may use an earlier one's
outputs. Documents whose runnable commands are the same (README.md and README.ja.md) run once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import REPO, TAGS, Block, doc_paths, fenced_blocks

DOCS = doc_paths()


def _blocks(path: Path) -> list[Block]:
    return [b for b in fenced_blocks(path) if b.lang in ("bash", "sh", "shell")]


def _key(path: Path) -> tuple:
    return tuple(tuple(map(tuple, b.commands)) for b in _blocks(path) if b.runs or b.tags == ["llamacpp"])


def test_every_shell_block_runs_or_says_why_not():
    assert {p.name for p in DOCS} >= {"README.md", "README.ja.md", "quickstart.md", "serving.md", "gpu-node.md",
                                      "cluster.md", "own-data.md", "scaling.md"}
    counts = {"run": 0, **dict.fromkeys(TAGS, 0)}
    for path in DOCS:
        for b in _blocks(path):
            unknown = [t for t in b.tags if t not in TAGS]
            assert not unknown, f"{b.where}: unknown tag(s) {unknown}; use one of {', '.join(TAGS)}"
            assert b.commands, f"{b.where}: an empty shell block"
            counts["run" if b.runs else b.tags[0]] += len(b.commands)
    print("doc commands:", counts)  # the figures for the closing note (pytest -s)
    assert counts["run"] >= 30


def test_the_japanese_quick_use_is_the_english_one():
    """README.ja.md's Quick use runs the very commands README.md's does (so one run covers both)."""
    assert _key(REPO / "README.ja.md") == _key(REPO / "README.md")


def _checkout(tmp: Path) -> Path:
    """What a user's clone offers the documented commands: examples/, recipes/, an activatable virtualenv."""
    root = tmp / "codeja"
    shutil.copytree(REPO / "examples", root / "examples", ignore=shutil.ignore_patterns("out", "runs"))
    shutil.copytree(REPO / "recipes", root / "recipes")
    activate = root / ".venv" / "bin" / "activate"
    activate.parent.mkdir(parents=True)
    activate.write_text(f'export VIRTUAL_ENV="{Path(sys.prefix)}"\nexport PATH="{Path(sys.executable).parent}:$PATH"\n')
    return root


def _llamacpp() -> bool:
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return False
    return True


RUNNABLE, seen = [], set()
for _p in DOCS:
    if _key(_p) and _key(_p) not in seen:  # the same commands in another language run once
        seen.add(_key(_p))
        RUNNABLE.append(_p)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("doc", RUNNABLE, ids=lambda p: str(p.relative_to(REPO)))
def test_documented_commands_run(doc, tmp_path):
    root = _checkout(tmp_path)
    # a reader's shell: the virtualenv active, and each block goes on in the folder where the last one ended
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cwd_file = tmp_path / "cwd"
    cwd_file.write_text(str(root))
    ran = 0
    for b in _blocks(doc):
        if not b.runs and b.tags != ["llamacpp"]:
            continue
        if b.tags == ["llamacpp"] and not _llamacpp():
            continue  # counted by the tag test; CI's set-up installs llama-cpp-python[server]
        # background jobs a block starts (a server) end with it
        # the trace names the document's own line numbers (the block's text starts on script line 6)
        script = (f"set -euo pipefail\ntrap 'pwd > \"{cwd_file}\"; kill $(jobs -p) 2>/dev/null || true' EXIT\n"
                  f"cd \"$(cat '{cwd_file}')\"\nPS4='+ [{b.path.name}:$((LINENO + {b.line - 5}))] '\nset -x\n{b.text}")
        proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=3000)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{b.where}: exit {proc.returncode}\n{out[-6000:]}"
        assert "Traceback (most recent call last)" not in out, f"{b.where}:\n{out[-6000:]}"
        ran += 1
    assert ran
