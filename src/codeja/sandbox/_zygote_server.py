"""The Python zygote: runs INSIDE a bwrap sandbox, as its pid 1, and forks one child per program.

This file is executed by the sandboxed interpreter (``python3 -I -c <this source> <tmpfs MB> <request fd> <cgroup
fds>``); it imports nothing from codeja. The zygote imports what programs commonly need and then, per program:

1. forks the program's process *before* anything about the program exists, so the fork holds no other program's
   data: the zygote itself never reads a request (the program reads its own, from a pipe of its own) and never
   reads an output (it moves the program's stdout and stderr to the reply with ``sendfile``, kernel to kernel);
2. reads the control line (the reply nonce, the wall limit, the output cap) from its stdin, which the program
   closed first thing, so the program never holds the nonce;
3. waits for the program (wall limit), kills whatever is left in the pid namespace, and writes the reply: one
   JSON line with the nonce and the sizes, then the stdout and stderr bytes.

The program's process, before it runs anything of the program's: gives up the zygote's pipes, joins the slot's
program cgroup, enters a new mount
and IPC namespace with empty, sized tmpfs at /box, /tmp and /dev/shm and its own POSIX message queues (so no
file, shared memory segment, semaphore or queue of an earlier program can be there, and all of them vanish with
it), drops every capability (the zygote keeps CAP_SYS_ADMIN and CAP_SETPCAP, in the sandbox's user namespace
only, for exactly this), reads its request, writes its files, sets its session,
rlimits, stdio and environment, and executes the source as ``__main__``: what ``python3 main.py`` does, without paying
interpreter start-up and site imports again.

Every process here is non-dumpable and under the seccomp filter (no ptrace, no process_vm_readv): a program can
neither read the zygote's memory nor make it write; as pid 1 the zygote ignores every signal sent from inside.
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
import signal
import sys
import threading
import time
import traceback
import types

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE, PR_CAPBSET_READ, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 4, 23, 24, 47, 4
CAP_SETPCAP = 8
CLONE_NEWNS, CLONE_NEWIPC = 0x00020000, 0x08000000
MS_NOSUID, MS_NODEV = 2, 4
CAP_VERSION_3 = 0x20080522
BOX = "/box"
HEADER = 16  # the request's length, in decimal, before it on the request pipe
EXIT_SETUP = 125


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _fresh_namespaces(tmpfs_mb):
    """New mount + IPC namespaces with empty file systems, then no capabilities at all (checked)."""
    _check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    size = f"size={tmpfs_mb << 20}".encode()
    for target in (b"/box", b"/tmp", b"/dev/shm"):
        _check(LIBC.mount(b"tmpfs", target, b"tmpfs", MS_NOSUID | MS_NODEV, size + b",mode=0755"), "mount tmpfs")
    _check(LIBC.mount(b"mqueue", b"/dev/mqueue", b"mqueue", MS_NOSUID | MS_NODEV, None), "mount mqueue")
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in [c for c in range(last + 1) if c != CAP_SETPCAP] + [CAP_SETPCAP]:  # the one that allows this: last
        _check(LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop the bounding set")
    _check(LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    head, data = _CapHeader(CAP_VERSION_3, 0), (_CapData * 2)()
    _check(LIBC.capset(ctypes.byref(head), data), "capset")
    _check(LIBC.capget(ctypes.byref(head), data), "capget")
    if any(d.effective or d.permitted or d.inheritable for d in data) or any(
            LIBC.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) for cap in range(last + 1)):
        raise OSError("capabilities left after dropping them")


def _read_exactly(fd, n):
    """Exactly ``n`` bytes from ``fd`` (a pipe never returns more than asked); None at end of file."""
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _program(out_fd, err_fd, started_w, req_fd, cgroup_fds, tmpfs_mb):
    code = 1
    try:
        os.dup2(out_fd, 1)  # first of all: the zygote's control and reply pipes and log are gone
        os.dup2(err_fd, 2)
        os.close(0)
        try:
            # "me": from here on everything this process does counts in the program's cgroup. Moving a process
            # between cgroups waits for an RCU grace period (milliseconds on a loaded host): done here, while the
            # harness has not sent the request yet, it is off the program's path.
            for fd in cgroup_fds:
                os.write(fd, b"0")
            _fresh_namespaces(tmpfs_mb)
            head = _read_exactly(req_fd, HEADER)
            req = json.loads(_read_exactly(req_fd, int(head))) if head else None
            if req is None:
                os._exit(EXIT_SETUP)
        except OSError as e:
            os.write(2, f"codeja sandbox: cannot set the program up: {e}\n".encode())
            os._exit(EXIT_SETUP)
        for name, text in (req.get("files") or {}).items():
            p = os.path.normpath(os.path.join(BOX, name))
            if p.startswith(BOX + "/"):  # the harness validated names; never write outside the work dir
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w", encoding="utf-8") as f:
                    f.write(text)
        source = req.pop("source")
        with open(os.path.join(BOX, "main.py"), "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(source)
        if req.get("stdin") is not None:
            stdin_fd = os.memfd_create("stdin", 0)
            data = memoryview(req.pop("stdin").encode("utf-8", "surrogatepass"))
            while data:
                data = data[os.write(stdin_fd, data):]
            os.lseek(stdin_fd, 0, os.SEEK_SET)
            os.dup2(stdin_fd, 0)
        else:
            os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
        os.setsid()
        os.chdir(BOX)
        os.write(started_w, b"R")  # the program's own code runs from here (before: the sandbox's failure)
        os.closerange(3, 65536)  # the request pipe, cgroup handles, the start pipe...
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
        del req
        code = 0
        try:
            exec(compile(source, path, "exec"), main.__dict__)  # noqa: S102 - running the program is the job
        except SystemExit as e:
            if e.code is None:
                code = 0
            elif isinstance(e.code, int):
                code = e.code & 0xFF
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException:  # noqa: BLE001 - the program's own failure: reported, exit status 1
            traceback.print_exc()
            code = 1
        try:
            threading._shutdown()  # like interpreter exit: wait for non-daemon threads
            atexit._run_exitfuncs()
        except BaseException:  # noqa: BLE001 - a failing exit handler, reported
            traceback.print_exc()
    except BaseException:  # noqa: BLE001 - the child must reach os._exit below, whatever happened
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001 - stderr may be gone
            pass
    finally:
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except BaseException:  # noqa: BLE001 - a closed stream must not skip os._exit
                pass
        os._exit(code)


def _sweep():
    """Kill every process in our pid namespace but us (pid 1); (how many, True when none is left)."""
    killed = 0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        pids = [int(d) for d in os.listdir("/proc") if d.isdigit() and d != "1"]
        if not pids:
            return killed, True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:  # as init, every orphan is ours to reap
                pass
        except ChildProcessError:
            pass
        time.sleep(0.002)
    return killed, False


def _send_file(fd, n):
    """Copy the first ``n`` bytes of ``fd`` to stdout inside the kernel (they never enter our memory)."""
    offset = 0
    while offset < n:
        sent = os.sendfile(1, fd, offset, n - offset)
        if sent == 0:
            break
        offset += sent


def _one(control, req_fd, cgroup_fds, tmpfs_mb):
    """Run one program; False at the end of input."""
    out_fd, err_fd = os.memfd_create("stdout"), os.memfd_create("stderr")
    started_r, started_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _program(out_fd, err_fd, started_w, req_fd, cgroup_fds, tmpfs_mb)
    os.close(started_w)
    line = control.readline()
    if not line:
        return False
    ctl = json.loads(line)
    t0 = time.monotonic()
    pidfd = os.pidfd_open(pid)
    ready, _, _ = select.select([pidfd], [], [], ctl["wall_s"])
    os.close(pidfd)
    timed_out = not ready
    if timed_out:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    leftover, clean = _sweep()
    os.set_blocking(started_r, False)
    try:
        started = os.read(started_r, 1) == b"R"
    except BlockingIOError:
        started = False
    os.close(started_r)
    cap = ctl["output_bytes"]
    sizes = [os.fstat(fd).st_size for fd in (out_fd, err_fd)]
    reply = {"nonce": ctl["nonce"], "started": started, "timed_out": timed_out, "wall_s": round(wall, 4),
             "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
             "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
             "cpu_s": round(ru.ru_utime + ru.ru_stime, 4), "peak_memory_mb": round(ru.ru_maxrss / 1024, 1),
             "stdout_bytes": min(sizes[0], cap), "stderr_bytes": min(sizes[1], cap),
             "stdout_truncated": sizes[0] > cap, "stderr_truncated": sizes[1] > cap,
             "leftover": leftover, "clean": clean}
    sys.stdout.buffer.write(json.dumps(reply).encode() + b"\n")
    sys.stdout.buffer.flush()
    _send_file(out_fd, reply["stdout_bytes"])
    _send_file(err_fd, reply["stderr_bytes"])
    os.close(out_fd)
    os.close(err_fd)
    return clean  # not clean: end, and the harness starts a fresh sandbox


def serve():
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # inherited by every fork: no /proc/<pid>/mem, environ, fd
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tmpfs_mb, req_fd, *cgroup_fds = (int(a) for a in sys.argv[1:])
    control = sys.stdin.buffer
    sys.stdout.buffer.write(b'{"ready": true}\n')
    sys.stdout.buffer.flush()
    while _one(control, req_fd, cgroup_fds, tmpfs_mb):
        pass


if __name__ == "__main__":
    serve()
