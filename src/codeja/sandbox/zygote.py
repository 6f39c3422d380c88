"""Harness side of the Python zygote (see ``_zygote_server.py``): start it in bwrap, send jobs, verify replies.

The zygote pays bwrap + interpreter start-up once per worker slot; each program is then a fork inside the
sandbox (a few ms instead of about 80 ms for a fresh ``bwrap python3``). The harness still owns the watchdog:
every write and read on the zygote's pipes has a deadline; if a reply does not come within the wall limit plus a
grace period, or the zygote dies (a program may kill its supervisor: same uid), the whole bwrap is killed, the
sample is reported as ``timeout`` / ``killed``, and a fresh zygote is started for the next sample.

Two pipes go in: the request pipe, read only by the program's process (its source, stdin, files, limits), and
the zygote's stdin, which carries one control line per program (the reply nonce, the wall limit, the output
cap) and which the program closes before anything else, so it never holds the nonce. One pipe comes out: per
program a JSON line with the nonce, then exactly the stdout and stderr bytes it announces. A reply without this
request's nonce, or with anything after it, means the sandbox is not what we started: it is killed and the
sample run again (``killed`` with "sandbox" in the detail).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import select
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from codeja.sandbox.cgroups import SlotCgroup
from codeja.sandbox.isolation import bwrap_argv, join_cgroup_argv, minimal_env, seccomp_fd
from codeja.sandbox.languages import find_tool

_SERVER = (Path(__file__).with_name("_zygote_server.py")).read_text(encoding="utf-8")
GRACE_S = 3.0  # the zygote enforces wall_s itself; the harness only steps in when the zygote is stuck
PIPE_S = 30.0  # deadline for a request write or the zygote's start
SETUP_S = 10.0  # time the zygote may take to clean up after a program, on top of its wall limit
LOG_CAP = 64 << 20  # the zygote's log (its stderr) is a host file: its processes may not write more


class ZygoteDied(Exception):
    pass


def _synthetic(detail: str, *, timed_out: bool, wall_s: float) -> dict:
    """The reply for a program whose sandbox was killed before it replied (or whose reply did not verify)."""
    return {"exit_code": None, "signal": signal.SIGKILL, "timed_out": timed_out, "wall_s": round(wall_s, 4),
            "cpu_s": 0.0, "peak_memory_mb": 0.0, "stdout": "", "stderr": "", "stdout_truncated": False,
            "stderr_truncated": False, "leftover": 0, "clean": True, "detail": detail}


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
        except BaseException as e:  # noqa: BLE001 - handed back to the caller's thread
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

    def __init__(self, uid: int | None, tmpfs_mb: int = 256, cgroup: SlotCgroup | None = None):
        self.uid, self.tmpfs_mb, self.cgroup = uid, tmpfs_mb, cgroup
        self.proc: subprocess.Popen | None = None
        self._buf = b""
        self._eof = False
        self.starts = 0

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        python = find_tool("python3")
        resident = self.cgroup.join_fds(resident=True) if self.cgroup else []
        program = self.cgroup.join_fds(resident=False) if self.cgroup else []
        sfd = seccomp_fd()
        req_r, self._req_w = os.pipe()
        # the zygote runs under rlimits too (soft: each program sets its own, up to the hard ones); it keeps
        # CAP_SYS_ADMIN (+ CAP_SETPCAP to drop it) inside the sandbox's user namespace: fresh namespaces per program
        limits = ["/usr/bin/prlimit", "--core=0", f"--fsize={LOG_CAP}:unlimited", "--nofile=1024:4096", "--"]
        argv = (join_cgroup_argv(resident) + limits
                + bwrap_argv(env=minimal_env({"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}),
                             tmpfs_mb=self.tmpfs_mb, seccomp_fd=sfd, mqueue=True,
                             caps=("CAP_SYS_ADMIN", "CAP_SETPCAP"))
                + [python, "-I", "-c", _SERVER, str(self.tmpfs_mb), str(req_r), *map(str, program)])
        self._log = tempfile.TemporaryFile()  # the zygote's own stderr, quoted when it dies
        try:
            self.proc = spawn_from_stable_thread(lambda: subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env={},
                start_new_session=True, close_fds=True,
                pass_fds=[req_r, *resident, *program, *([sfd] if sfd is not None else [])],
                user=self.uid, group=self.uid, extra_groups=[] if self.uid is not None else None))
        finally:
            for fd in [req_r] + ([sfd] if sfd is not None else []):
                os.close(fd)
        for fd in (self.proc.stdin.fileno(), self._req_w):
            os.set_blocking(fd, False)
        self._buf = b""
        self.starts += 1
        hello = self._read_line(PIPE_S)
        if hello is None or self._parse(hello) != {"ready": True}:
            self.close()
            raise ZygoteDied(f"the Python zygote did not start: {self._tail_log()}")

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # bwrap leads the group; the zygote is its pid-ns init
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
        os.close(self._req_w)
        if self.cgroup is not None:
            self.cgroup.kill(resident=True)
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- one program -----------------------------------------------------------------------------------------
    def run(self, request: dict) -> dict:
        """Send one request; the verified reply dict, or a synthetic one when the zygote hangs, dies or lies."""
        if not self.alive():
            self.close()
            self.start()
        t0 = time.monotonic()
        nonce = secrets.token_hex(16)
        body = json.dumps(request).encode("utf-8", "surrogatepass")
        control = {"nonce": nonce, "wall_s": request["limits"]["wall_s"],
                   "output_bytes": request["limits"]["output_bytes"]}
        if not (self._send(self._req_w, b"%15d\n" % len(body) + body, PIPE_S)
                and self._send(self.proc.stdin.fileno(), json.dumps(control).encode() + b"\n", PIPE_S)):
            self.close()
            raise ZygoteDied("the Python zygote did not take the request")
        line = self._read_line(request["limits"]["wall_s"] + GRACE_S + SETUP_S)
        if line is None:
            # end of file: the zygote died (bwrap itself may take a moment longer to exit, so asking whether the
            # process is alive would race); no reply before the deadline with the process alive: it hung
            hung = not self._eof and self.alive()
            self.close()  # kills the whole sandbox, grandchildren included
            return _synthetic("the sandbox was stuck and was killed" if hung else "the sandbox (the zygote) died",
                              timed_out=hung, wall_s=time.monotonic() - t0)
        reply = self._parse(line)
        ok = isinstance(reply, dict) and reply.pop("nonce", None) == nonce
        out = self._read_exactly(reply.get("stdout_bytes", 0) + reply.get("stderr_bytes", 0), PIPE_S) if ok else None
        if out is None or self._buf:
            self.close()
            return _synthetic("the sandbox's reply did not verify (not the nonce of this request, not the bytes it "
                              "announced, or more than one reply): the sandbox was killed", timed_out=False,
                              wall_s=time.monotonic() - t0)
        n = reply.pop("stdout_bytes")
        reply["stdout"] = out[:n].decode("utf-8", "replace")
        reply["stderr"] = out[n:n + reply.pop("stderr_bytes")].decode("utf-8", "replace")
        if not reply.get("started"):
            self.close()
            raise ZygoteDied(f"the Python zygote could not set the program up: {reply['stderr'][-2000:]}")
        if not reply.get("clean", True):
            self.close()  # processes it could not kill die with the sandbox
        return reply

    @staticmethod
    def _parse(line: bytes):
        try:
            return json.loads(line)
        except ValueError:
            return None

    def _send(self, fd: int, data: bytes, timeout: float) -> bool:
        """Write to one of the zygote's pipes before the deadline; False when it does not take it all."""
        data = memoryview(data)
        deadline = time.monotonic() + timeout
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _, w, _ = select.select([], [fd], [], left)
            if not w:
                return False
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                continue
            except OSError:
                return False
        return True

    def _tail_log(self) -> str:
        try:
            self._log.seek(0, os.SEEK_END)
            self._log.seek(max(0, self._log.tell() - 2000))
            return self._log.read().decode("utf-8", "replace")
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

    def _read_exactly(self, n: int, timeout: float) -> bytes | None:
        """The next ``n`` bytes from the zygote; None at the deadline or at end of file."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            r, _, _ = select.select([fd], [], [], max(left, 0))
            chunk = os.read(fd, max(n - len(self._buf), 1 << 16)) if r else b""
            if not chunk:
                return None
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data
