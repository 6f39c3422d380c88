"""Kill -9 in the middle of a run, rerun with the same config: completes, and the output is byte-identical to an
uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUNNER = """
import sys
from codeja.config import load_config
from codeja.curate.config import CurateConfig
from codeja.curate.pipeline import run_curate

if __name__ == "__main__":
    cfg = load_config(sys.argv[1], CurateConfig, ["progress=false"], stage="curate")
    run_curate(cfg, sys.argv[2])
"""


def _corpus(folder: Path) -> None:
    folder.mkdir()
    for shard in range(4):
        rows = []
        for i in range(500):
            body = "\n".join(f"    total += values[{j}] * {i % 7 + j}" for j in range(12))
            code = (f"def f_{shard}_{i}(values):\n    \"\"\"Weighted sum number {i} of shard {shard}.\"\"\"\n"
                    f"    total = 0\n{body}\n    return total\n")
            if i % 97 == 0:
                code = f"def g_{i}(x):\n    # TODO: implement this function\n    pass\n" + "# filler line\n" * 3
            rows.append(json.dumps({"id": f"s{shard}-{i}", "content": code, "path": f"p{shard}/m{i}.py",
                                    "lang": "Python"}))
        rows.insert(5, "{broken json")
        (folder / f"shard{shard}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for sub in ("kept", "removed", "quarantine")
            for p in sorted((out / sub).rglob("*.jsonl"))}


@pytest.mark.slow
def test_kill_and_resume_gives_identical_output(tmp_path):
    data = tmp_path / "data"
    _corpus(data)
    cfg = tmp_path / "curate.yaml"
    cfg.write_text(f"sources: [{{name: code, kind: jsonl, path: {data}}}]\n"
                   "executor: {tasks: 4, workers: 1, start_method: fork}\n"
                   "dedup: {num_buckets: 4}\ndecont: {enabled: false}\n", encoding="utf-8")
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(runner), str(cfg), str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    completions = killed / "logs" / "filter" / "completions"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if completions.is_dir() and len(list(completions.iterdir())) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(completions.iterdir()))
    assert 1 <= done_before < 4
    assert json.loads((killed / "manifest.json").read_text())["status"] == "running"

    # rerun with the same config: resumes (completed tasks are skipped) and finishes
    subprocess.run([sys.executable, str(runner), str(cfg), str(killed)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed_from"]["filter"] == done_before

    clean = tmp_path / "clean"
    subprocess.run([sys.executable, str(runner), str(cfg), str(clean)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    a, b = _snapshot(killed), _snapshot(clean)
    assert a.keys() == b.keys() and a == b
    stats = json.loads((killed / "stats.json").read_text())
    assert stats["balanced"] and stats["in"] == 4 * 501 and stats["quarantined"]["docs"] == 4
    assert stats == json.loads((clean / "stats.json").read_text())
