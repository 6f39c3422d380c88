"""The Python zygote: runs INSIDE a bwrap sandbox, as its pid 1, and forks a fresh supervisor per program.

This file is executed by the sandboxed interpreter (``python3 -I -c <this source> <cgroup fds>``); it imports
nothing from codeja. Three kinds of process, so that no program sees another's data or can forge a reply:

- **the zygote** (pid 1) imports what programs commonly need, then only forks supervisors and reaps. It never
  reads a request or builds a reply, so each supervisor (and each program) starts from a state that held no
  other program's source, stdin or output.
- **a supervisor** per program reads ONE request from stdin, writes the program's files into /box and its stdin
  into a memfd, forks the program, acks ``{"forked": true}``, and only then reads the reply nonce (the harness
  sends it after the ack, so the program's memory never held it). It waits for the program (wall limit), kills
  whatever is left in the pid namespace, empties /box, /tmp, /dev/shm, /dev/mqueue and every SysV IPC object,
  and writes the reply, which carries the nonce. Then it exits and the zygote forks the next one.
- **the program**: joins the slot's program cgroup (descriptors opened by the harness), sets its session,
  rlimits, stdio (memfds, invisible in /box) and environment, then executes the source as ``__main__``: what
  ``python3 main.py`` does, without paying interpreter start-up and site imports again.

Protocol, one JSON object per line: zygote -> ``{"ready": true}`` once; then per program harness -> request,
supervisor -> ``{"forked": true}``, harness -> ``{"nonce": ...}``, supervisor -> reply with that nonce.
Every process here is non-dumpable and under the seccomp filter (no ptrace, no process_vm_readv), so a program
can neither read the supervisor's memory nor make it write. A program can kill its supervisor (same uid); the
zygote then exits, which ends the sandbox, and the harness sees end of file. As pid 1 the zygote ignores every
signal sent from inside the namespace.
"""

# Pre-import what benchmark programs commonly import: the fork inherits them for free.
import ast  # noqa: F401
import atexit
import ctypes
import heapq  # noqa: F401
import io
import json
import os
import resource
import select
import shutil
import signal
import sys
import threading
import time
import traceback
import types

PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
IPC_RMID = 0
LIBC = ctypes.CDLL(None, use_errno=True)
BOX = "/box"
WIPED = (BOX, "/tmp", "/dev/shm", "/dev/mqueue")
EXIT_EOF, EXIT_UNCLEAN, EXIT_JOIN = 2, 3, 125


def _read_line(fd):
    """One line from ``fd``, read unbuffered (nothing past it is consumed); None at end of file."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return None
        buf += chunk
    if buf.index(b"\n") != len(buf) - 1:
        os._exit(EXIT_UNCLEAN)  # the harness never sends ahead: anything else is not the protocol
    return bytes(buf)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _program(req, stdin_fd, out_fd, err_fd, join_w, cgroup_fds):
    code = 1
    try:
        try:
            for fd in cgroup_fds:
                os.write(fd, b"0")  # "me": from here on everything this program does is counted in its cgroup
        except OSError as e:
            os.write(join_w, f"cannot join the program's cgroup: {e}".encode())
            os._exit(EXIT_JOIN)
        os.setsid()
        os.chdir(BOX)
        os.dup2(stdin_fd if stdin_fd is not None else os.open("/dev/null", os.O_RDONLY), 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.closerange(3, 65536)  # the request pipe, cgroup and memfd descriptors, the supervisor's pidfd...
        lim = req["limits"]
        cpu = max(1, int(lim["cpu_s"] + 0.999))
        mem = lim["memory_mb"] << 20
        fsz = lim["file_size_mb"] << 20
        for res, value in ((resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_AS, (mem, mem)),
                           (resource.RLIMIT_FSIZE, (fsz, fsz)), (resource.RLIMIT_CORE, (0, 0)),
                           (resource.RLIMIT_NOFILE, (1024, 1024)),
                           (resource.RLIMIT_NPROC, (lim["processes"] + 3, lim["processes"] + 3))):
            resource.setrlimit(res, value)
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGXFSZ):
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(req["env"])
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
        path = os.path.join(BOX, "main.py")
        sys.argv = [path, *req.get("args", [])]
        sys.path[0:0] = [BOX]
        main = types.ModuleType("__main__")
        main.__file__ = path
        main.__builtins__ = __builtins__
        sys.modules["__main__"] = main
        source = req.pop("source")
        code = 0
        try:
            exec(compile(source, path, "exec"), main.__dict__)
        except SystemExit as e:
            if e.code is None:
                code = 0
            elif isinstance(e.code, int):
                code = e.code & 0xFF
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        try:
            threading._shutdown()  # like interpreter exit: wait for non-daemon threads
            atexit._run_exitfuncs()
        except BaseException:
            traceback.print_exc()
    except BaseException:
        try:
            traceback.print_exc()
        except BaseException:
            pass
    finally:
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except BaseException:
                pass
        os._exit(code)


def _others(me):
    return [int(d) for d in os.listdir("/proc") if d.isdigit() and int(d) not in (1, me)]


def _sweep():
    """Kill every process in our pid namespace but the zygote and us; (how many, True when none is left)."""
    me = os.getpid()
    killed = 0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        pids = _others(me)
        if not pids:
            return killed, True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:  # orphans come to us: we are their subreaper
                pass
        except ChildProcessError:
            pass
        time.sleep(0.005)
    return killed, not _others(me)


def _read_capped(fd, cap):
    size = os.fstat(fd).st_size
    data = os.pread(fd, cap, 0)
    return data.decode("utf-8", "replace"), size > cap


def _wipe(d):
    """Empty ``d`` (also what the program made unreadable); True when it is empty."""
    for name in os.listdir(d):
        p = os.path.join(d, name)
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                for root, dirs, _files in os.walk(p):
                    os.chmod(root, 0o700)
                    for sub in dirs:
                        os.chmod(os.path.join(root, sub), 0o700)
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        except OSError:
            pass
    return not os.listdir(d)


def _wipe_ipc():
    """Remove every SysV shared memory segment, semaphore set and message queue; True when none is left."""
    left = 0
    for kind, remove in (("shm", lambda i: LIBC.shmctl(i, IPC_RMID, None)),
                         ("sem", lambda i: LIBC.semctl(i, 0, IPC_RMID)),
                         ("msg", lambda i: LIBC.msgctl(i, IPC_RMID, None))):
        for attempt in range(2):
            try:
                with open(f"/proc/sysvipc/{kind}") as f:
                    ids = [int(line.split()[1]) for line in f.read().splitlines()[1:] if line.strip()]
            except OSError:
                ids = []
            if attempt:
                left += len(ids)
            else:
                for i in ids:
                    remove(i)
    return left == 0


def _supervise(cgroup_fds):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an input over our file-size limit fails, it does not kill us
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    line = _read_line(0)
    if line is None:
        os._exit(EXIT_EOF)
    req = json.loads(line)
    del line
    for name, text in (req.get("files") or {}).items():
        p = os.path.normpath(os.path.join(BOX, name))
        if not p.startswith(BOX + "/"):
            continue  # the harness validated names; never write outside the work dir
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(BOX, "main.py"), "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write(req["source"])
    stdin_fd = None
    if req.get("stdin") is not None:
        stdin_fd = os.memfd_create("stdin", 0)
        _write_all(stdin_fd, req.pop("stdin").encode("utf-8", "surrogatepass"))
        os.lseek(stdin_fd, 0, os.SEEK_SET)
    out_fd, err_fd = os.memfd_create("stdout", 0), os.memfd_create("stderr", 0)
    join_r, join_w = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _program(req, stdin_fd, out_fd, err_fd, join_w, cgroup_fds)
    os.close(join_w)
    lim = req["limits"]
    del req
    _write_all(1, b'{"forked": true}\n')  # from here on, a dead supervisor is the program's doing
    nonce_line = _read_line(0)
    if nonce_line is None:
        os._exit(EXIT_EOF)
    nonce = json.loads(nonce_line)["nonce"]
    pidfd = os.pidfd_open(pid)
    ready, _, _ = select.select([pidfd], [], [], max(0.0, t0 + lim["wall_s"] - time.monotonic()))
    timed_out = not ready
    if timed_out:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        os.kill(pid, signal.SIGKILL)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    leftover, clean = _sweep()
    join_error = os.read(join_r, 4096).decode("utf-8", "replace")
    cap = lim["output_bytes"]
    so, so_t = _read_capped(out_fd, cap)
    se, se_t = _read_capped(err_fd, cap)
    clean = _wipe_ipc() and all([_wipe(d) for d in WIPED]) and clean
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    reply = {"nonce": nonce, "exit_code": code, "signal": sig, "timed_out": timed_out, "wall_s": round(wall, 4),
             "cpu_s": round(ru.ru_utime + ru.ru_stime, 4), "peak_memory_mb": round(ru.ru_maxrss / 1024, 1),
             "stdout": so, "stderr": se, "stdout_truncated": so_t, "stderr_truncated": se_t,
             "leftover": leftover, "clean": clean, "cgroup_error": join_error}
    _write_all(1, (json.dumps(reply) + "\n").encode("utf-8", "surrogatepass"))
    # not clean: exit so that the zygote exits and the harness starts a fresh sandbox
    os._exit(0 if clean else EXIT_UNCLEAN)


def serve():
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # inherited by every fork: no /proc/<pid>/mem, environ, fd
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cgroup_fds = [int(a) for a in sys.argv[1:]]
    _write_all(1, b'{"ready": true}\n')
    while True:
        pid = os.fork()
        if pid == 0:
            try:
                _supervise(cgroup_fds)
            except BaseException:
                traceback.print_exc()
            os._exit(EXIT_UNCLEAN)
        while True:
            got, status = os.wait()  # also reaps orphans that reached us after their supervisor ended
            if got == pid:
                break
        if status != 0:
            return  # end of input, a dead or unclean supervisor: the sandbox ends with us


if __name__ == "__main__":
    serve()
