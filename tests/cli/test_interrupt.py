"""Ctrl-C at work: exit 130 with a resume hint, never exit 0 (so `codeja eval run ... && codeja report ...` stops).

Each test starts a real ``codeja`` process in its own session, waits until it is busy in the phase under test
(generation in the main thread, sandbox jobs in worker threads, datatrove tasks in forked worker processes), then
sends SIGINT to the whole process group, as a terminal does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def interrupt_when(argv: list[str], marker: str, *, env: dict | None = None, cwd=None, timeout: float = 240):
    """Run ``codeja argv``; SIGINT its process group once ``marker`` shows on stderr; return (rc, stderr)."""
    cmd = [sys.executable, "-c", "import sys; from codeja.cli import main; sys.exit(main())", *argv]
    # SIGINT back to its default in the child: a test run started in the background (`pytest &` from a script)
    # inherits SIGINT ignored, and Python then never installs its KeyboardInterrupt handler
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, **(env or {})}, cwd=cwd,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: proc.stderr.read(1), b"")), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while marker.encode() not in b"".join(chunks):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"never saw {marker!r}; rc={proc.poll()} stderr:\n{b''.join(chunks).decode(errors='replace')}")
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        rc = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # leave nothing running behind a failed test
        raise
    reader.join(timeout=10)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def _assert_interrupted(rc: int, err: str) -> None:
    assert rc == 130, err
    assert "interrupted; rerun the same command to resume" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_ctrl_c_during_generation(tiny_random_model_dir):
    rc, err = interrupt_when(["generate", "-m", str(tiny_random_model_dir), "-p", "def f():", "--n", "4",
                              "--temperature", "1", "--max-new-tokens", "100000"], "tok/s")
    _assert_interrupted(rc, err)


@pytest.mark.slow
def test_ctrl_c_during_sandbox_scoring(tmp_path):
    """The sandbox runs programs from worker threads; the interrupt must still reach the exit code."""
    samples = tmp_path / "s.jsonl"
    rows = [{"task_id": f"HumanEval/{i}", "completion": "    import time\n    time.sleep(60)\n"} for i in range(4)]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rc, err = interrupt_when(["eval", "score", "-b", "humaneval", "--limit", "4", "-s", str(samples),
                              "-o", str(tmp_path / "out"), "--timeout", "60"], "%|")
    _assert_interrupted(rc, err)


@pytest.mark.slow
def test_ctrl_c_during_datatrove_tasks(tmp_path):
    """Curation runs in datatrove worker processes; --verbose shows datatrove's own log (quiet otherwise)."""
    cfg = tmp_path / "curate.yaml"
    cfg.write_text("sources:\n  - {name: stdlib, kind: files, path: stdlib, glob: '**/*.py', limit: 300}\n"
                   "executor: {kind: local, tasks: 2, workers: 2, start_method: fork}\nprogress: false\n",
                   encoding="utf-8")
    rc, err = interrupt_when(["--verbose", "curate", "run", str(cfg), "-o", str(tmp_path / "out")],
                             "Launching pipeline")
    _assert_interrupted(rc, err)
