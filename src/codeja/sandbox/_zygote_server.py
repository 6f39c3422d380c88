"""The Python zygote: runs INSIDE a bwrap sandbox and forks one child per program.

This file is executed by the sandboxed interpreter (``python3 -I -c <this source>``); it imports nothing from
codeja. Protocol: one JSON request per line on stdin, one JSON reply per line on stdout, and a first line
``{"ready": true}``. Per program it makes a fresh dir under /box, forks, and the child sets its session,
rlimits, stdio files and environment, then executes the source as ``__main__`` — what ``python3 main.py`` does,
without paying interpreter start-up and site imports again. The zygote itself never runs untrusted code, so
every fork starts from the same clean state. After the child ends the zygote kills every other process left in
its pid namespace (daemonised grandchildren) and wipes /box and /tmp, so nothing survives into the next sample.
It is made non-dumpable so a sample (same uid) cannot ptrace it or open its /proc/<pid>/fd or mem.
"""

# Pre-import what benchmark programs commonly import: the fork inherits them for free.
import ast  # noqa: F401
import atexit
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

PR_SET_DUMPABLE = 4
SELF = os.getpid()


def _set_nondumpable():
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except Exception:
        pass


def _child(req, wd):
    code = 1
    try:
        os.setsid()
        os.chdir(wd)
        fd = os.open(os.path.join(wd, ".stdin") if req.get("stdin") is not None else "/dev/null", os.O_RDONLY)
        os.dup2(fd, 0)
        os.dup2(os.open(os.path.join(wd, ".stdout"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
        os.dup2(os.open(os.path.join(wd, ".stderr"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
        os.closerange(3, 4096)
        lim = req["limits"]
        cpu = max(1, int(lim["cpu_s"] + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        mem = lim["memory_mb"] << 20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        fsz = lim["file_size_mb"] << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsz, fsz))
        resource.setrlimit(resource.RLIMIT_NPROC, (lim["processes"] + 3, lim["processes"] + 3))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(req["env"])
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
        path = os.path.join(wd, "main.py")
        sys.argv = [path, *req.get("args", [])]
        sys.path[0:0] = [wd]
        main = types.ModuleType("__main__")
        main.__file__ = path
        main.__builtins__ = __builtins__
        sys.modules["__main__"] = main
        code = 0
        try:
            exec(compile(req["source"], path, "exec"), main.__dict__)
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


def _others():
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) not in (1, SELF):
            out.append(int(d))
    return out


def _sweep():
    """Kill every process in our pid namespace but init and us; True when none is left."""
    killed = 0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        pids = _others()
        if not pids:
            return killed, True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.005)
    return killed, not _others()


def _read_capped(path, cap):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return "", 0, False
    try:
        import stat

        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "", 0, False
        data = os.read(fd, cap + 1)
        return data[:cap].decode("utf-8", "replace"), st.st_size, st.st_size > cap
    finally:
        os.close(fd)


def _wipe(d):
    for name in os.listdir(d):
        p = os.path.join(d, name)
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        except OSError:
            pass


def serve():
    _set_nondumpable()
    out = sys.stdout
    inp = sys.stdin.buffer
    out.write(json.dumps({"ready": True, "pid": SELF}) + "\n")
    out.flush()
    n = 0
    while True:
        line = inp.readline()
        if not line:
            return
        req = json.loads(line)
        n += 1
        wd = f"/box/s{n}"
        os.mkdir(wd, 0o700)
        os.mkdir(os.path.join(wd, "tmp"), 0o700)
        for name, text in (req.get("files") or {}).items():
            p = os.path.normpath(os.path.join(wd, name))
            if not p.startswith(wd + "/"):
                continue  # the harness validated names; never write outside the sample dir
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(wd, "main.py"), "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(req["source"])
        if req.get("stdin") is not None:
            with open(os.path.join(wd, ".stdin"), "w", encoding="utf-8") as f:
                f.write(req["stdin"])
        req["env"]["TMPDIR"] = os.path.join(wd, "tmp")
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(req, wd)
        out.write('{"forked": true}\n')  # from here on, a dead zygote is the program's doing
        out.flush()
        pidfd = os.pidfd_open(pid)
        ready, _, _ = select.select([pidfd], [], [], req["limits"]["wall_s"])
        timed_out = not ready
        if timed_out:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            os.kill(pid, signal.SIGKILL)
        _, status, ru = os.wait4(pid, 0)
        wall = time.monotonic() - t0
        os.close(pidfd)
        leftover, clean = _sweep()
        cap = req["limits"]["output_bytes"]
        so, so_n, so_t = _read_capped(os.path.join(wd, ".stdout"), cap)
        se, se_n, se_t = _read_capped(os.path.join(wd, ".stderr"), cap)
        _wipe("/box")
        _wipe("/tmp")
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        out.write(json.dumps({
            "exit_code": code, "signal": sig, "timed_out": timed_out, "wall_s": round(wall, 4),
            "cpu_s": round(ru.ru_utime + ru.ru_stime, 4), "peak_memory_mb": round(ru.ru_maxrss / 1024, 1),
            "stdout": so, "stderr": se, "stdout_truncated": so_t, "stderr_truncated": se_t,
            "leftover": leftover, "clean": clean,
        }) + "\n")
        out.flush()
        if not clean:
            return  # the harness restarts us: killing our sandbox kills what we could not


if __name__ == "__main__":
    serve()
