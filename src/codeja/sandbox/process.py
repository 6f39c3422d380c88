"""Run one sandboxed command: feed stdin, cap stdout/stderr, enforce the wall clock, collect rusage.

The child is started in its own session (process group); bwrap is that group's leader and the whole sandbox
lives below it, so the watchdog's ``killpg(SIGKILL)`` takes everything down (and bwrap's pid-namespace init
takes any daemonised grandchild with it). We reap with ``wait4`` to get the CPU time and the peak RSS of the
whole tree (bwrap waits for its children, so their usage is folded into its own).
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass


@dataclass
class Execution:
    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    wall_s: float
    cpu_s: float
    peak_memory_mb: float
    timed_out: bool
    output_exceeded: bool
    start_error: str = ""
    oom_killed: bool = False  # the program's cgroup went over its memory limit (filled in by the runner)


def _decode_status(status: int, via_bwrap: bool) -> tuple[int | None, int | None]:
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    code = os.WEXITSTATUS(status)
    # bwrap (and prlimit via the shell convention) report a child killed by signal N as exit 128+N
    if via_bwrap and 128 < code <= 128 + 64:
        return None, code - 128
    return code, None


def execute(argv: list[str], *, stdin: bytes | None, wall_s: float, output_bytes: int, env: dict[str, str],
            cwd: str | None = None, uid: int | None = None, via_bwrap: bool = True,
            pass_fds: tuple[int, ...] = ()) -> Execution:
    """Run ``argv`` to completion or until the wall clock / output cap; never raises for the program's sake.

    ``pass_fds``: descriptors the command inherits (bwrap's file contents and filter, cgroup handles).
    """
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                             start_new_session=True, close_fds=True, pass_fds=pass_fds, user=uid, group=uid,
                             extra_groups=[] if uid is not None else None)
    except OSError as e:
        return Execution(None, None, b"", b"", False, False, 0.0, 0.0, 0.0, False, False, start_error=str(e))

    # a pipe that holds more than the cap: a program whose writes stop blocking once the pipe is full (node queues
    # them in memory) still shows that it went over the cap, instead of filling its heap behind a full pipe
    for stream in (p.stdout, p.stderr):
        try:
            fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, max(1 << 16, min(2 * output_bytes, 4 << 20)))
        except OSError:
            pass  # over /proc/sys/fs/pipe-max-size for an unprivileged caller: the default size
    exceeded = threading.Event()
    bufs: dict[str, bytearray] = {"out": bytearray(), "err": bytearray()}
    trunc = {"out": False, "err": False}

    def kill():
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def pump(name, stream):
        buf = bufs[name]
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                break
            room = output_bytes - len(buf)
            if len(chunk) > room:
                buf += chunk[:max(room, 0)]
                trunc[name] = True
                exceeded.set()
                kill()  # flood of output: stop it now rather than drain it forever
                break
            buf += chunk
        stream.close()

    def feed():
        try:
            p.stdin.write(stdin)
        except (BrokenPipeError, OSError):
            pass  # the program did not read all of it: that is its business
        finally:
            try:
                p.stdin.close()
            except OSError:
                pass

    threads = [threading.Thread(target=pump, args=("out", p.stdout), daemon=True),
               threading.Thread(target=pump, args=("err", p.stderr), daemon=True)]
    if stdin is not None:
        threads.append(threading.Thread(target=feed, daemon=True))
    for t in threads:
        t.start()

    result: dict = {}

    def reap():
        _, status, ru = os.wait4(p.pid, 0)
        result.update(status=status, ru=ru, t=time.monotonic())

    reaper = threading.Thread(target=reap, daemon=True)
    reaper.start()
    reaper.join(wall_s)
    timed_out = reaper.is_alive()
    if timed_out:
        kill()
        reaper.join()
    p.returncode = -1  # reaped by wait4 above; keep Popen from waiting again
    for t in threads[:2]:
        t.join(5)
    kill()  # anything left in the group (rlimit mode: children that kept the pipes open)
    code, sig = _decode_status(result["status"], via_bwrap)
    ru = result["ru"]
    return Execution(code, sig, bytes(bufs["out"]), bytes(bufs["err"]), trunc["out"], trunc["err"],
                     round(result["t"] - t0, 4), round(ru.ru_utime + ru.ru_stime, 4), round(ru.ru_maxrss / 1024, 1),
                     timed_out, exceeded.is_set())
