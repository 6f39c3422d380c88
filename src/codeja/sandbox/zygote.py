"""Harness side of the Python zygote (see ``_zygote_server.py``): start it in bwrap, send jobs, watch it.

The zygote pays bwrap + interpreter start-up once per worker slot; each program is then a fork inside the
sandbox (about 2 ms instead of about 80 ms for a fresh ``bwrap python3``). The harness still owns the watchdog:
if a reply does not come within the wall limit plus a grace period, or the zygote dies (a program may kill it:
same uid), the whole bwrap is killed, the sample is reported as ``timeout`` / ``killed``, and a fresh zygote is
started for the next sample.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

from codeja.sandbox.isolation import full_bwrap_argv, minimal_env
from codeja.sandbox.languages import find_tool

_SERVER = (Path(__file__).with_name("_zygote_server.py")).read_text(encoding="utf-8")
GRACE_S = 3.0  # the zygote enforces wall_s itself; the harness only steps in when the zygote is stuck


class ZygoteDied(Exception):
    pass


# bwrap's --die-with-parent is PR_SET_PDEATHSIG, which fires when the *thread* that forked it exits. Zygotes
# outlive the run_many worker thread that first needed them, so they are forked from one long-lived thread.
_spawn_q: queue.Queue = queue.Queue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _spawn_loop():
    while True:
        fn, box = _spawn_q.get()
        try:
            box["result"] = fn()
        except BaseException as e:  # handed back to the caller's thread
            box["error"] = e
        box["done"].set()


def spawn_from_stable_thread(fn):
    global _spawner
    with _spawner_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawn_loop, name="codeja-sandbox-spawner", daemon=True)
            _spawner.start()
    box = {"done": threading.Event()}
    _spawn_q.put((fn, box))
    box["done"].wait()
    if "error" in box:
        raise box["error"]
    return box["result"]


class PythonZygote:
    """One long-lived sandboxed Python that forks per program. Not thread-safe: one per worker slot."""

    def __init__(self, uid: int | None, box_mb: int = 256):
        self.uid, self.box_mb = uid, box_mb
        self.proc: subprocess.Popen | None = None
        self._buf = b""
        self._eof = False
        self.starts = 0

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        python = find_tool("python3")
        argv = full_bwrap_argv(workdir=None, env=minimal_env({"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}),
                               tmpfs_box=True, box_mb=self.box_mb, as_pid_1=False) + [python, "-I", "-c", _SERVER]
        import tempfile

        self._log = tempfile.TemporaryFile()  # the zygote's own stderr, quoted when it dies
        self.proc = spawn_from_stable_thread(lambda: subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env={}, start_new_session=True,
            close_fds=True, user=self.uid, group=self.uid, extra_groups=[] if self.uid is not None else None))
        self._buf = b""
        self.starts += 1
        hello = self._read_line(30.0)
        if hello is None or not json.loads(hello).get("ready"):
            self.close()
            raise ZygoteDied("the Python zygote did not start")

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # bwrap leads the group; its pid-ns init takes the rest
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- one program -----------------------------------------------------------------------------------------
    def run(self, request: dict) -> dict:
        """Send one request; the reply dict, or a synthetic one when the zygote hangs or dies."""
        if not self.alive():
            self.close()
            self.start()
        t0 = time.monotonic()
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode("utf-8", "surrogatepass"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.close()
            raise ZygoteDied("the Python zygote went away before the request")
        ack = self._read_line(30.0)
        if ack is None or not json.loads(ack).get("forked"):
            log = self._tail_log()
            self.close()
            raise ZygoteDied(f"the Python zygote failed before running the program: {log}")
        line = self._read_line(request["limits"]["wall_s"] + GRACE_S)
        if line is None:
            # end of file: the zygote died (bwrap itself may take a moment longer to exit, so asking whether the
            # process is alive would race); no reply before the deadline with the process alive: it hung
            hung = not self._eof and self.alive()
            self.close()  # kills the whole sandbox, grandchildren included
            return {"exit_code": None, "signal": signal.SIGKILL, "timed_out": hung,
                    "wall_s": round(time.monotonic() - t0, 4), "cpu_s": 0.0, "peak_memory_mb": 0.0,
                    "stdout": "", "stderr": "", "stdout_truncated": False, "stderr_truncated": False,
                    "leftover": 0, "clean": True,
                    "detail": "the sandbox was stuck and was killed" if hung else
                              "the program killed its sandbox (the zygote)"}
        reply = json.loads(line)
        if not reply.get("clean", True):
            self.close()  # processes it could not kill die with the sandbox
        return reply

    def _tail_log(self) -> str:
        try:
            self._log.seek(0)
            return self._log.read()[-2000:].decode("utf-8", "replace")
        except (OSError, AttributeError, ValueError):
            return ""

    def _read_line(self, timeout: float) -> bytes | None:
        """The next line from the zygote; None at the deadline or at end of file (then ``self._eof`` is set)."""
        self._eof = False
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self._eof = True
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line
