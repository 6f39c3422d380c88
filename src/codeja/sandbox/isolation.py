"""Isolation: the bubblewrap command line, the per-slot sandbox user and the rlimit wrapper.

Layers, outermost first:

1. **A sandbox user per worker slot** (when codeja runs as root): the program runs as uid
   ``SANDBOX_UID_BASE + k`` (no passwd entry, no groups), so RLIMIT_NPROC counts only that slot's processes
   (a fork bomb hits its own ceiling, not the host's) and root-only files such as /root stay unreadable even in
   the rlimit-only fallback. As a normal user the caller's uid is used and RLIMIT_NPROC is set relative to the
   processes that uid already has.
2. **bubblewrap** (``bwrap``, Debian ``bubblewrap``): new user, pid, network, ipc, uts and cgroup namespaces
   (``--unshare-all``, so no network at all: only a private loopback), ``--cap-drop ALL``, ``--disable-userns``
   (no nested user namespace to regain capabilities), ``--clearenv`` with a minimal environment,
   ``--new-session`` (no TIOCSTI into the caller's terminal), ``--die-with-parent``, and the command as the
   namespace's pid 1 (no bwrap init inside holding the harness's pipes). The filesystem is a fresh root: /usr
   (and the /bin, /lib* links), the few /etc files toolchains read, all read-only; a private /proc; a read-only
   /dev; sized tmpfs (RAM, never the host's disk) for /box (the work dir, the program's files copied in), /tmp
   and /dev/shm. Nothing of /home, /root, the checkout or the caller's cwd is visible. Killing bwrap kills its
   pid-namespace init and with it every process inside.
3. **seccomp** (``seccomp.py``): ptrace, process_vm_readv/writev, pidfd_getfd, kcmp, the keyring, bpf,
   perf_event_open, userfaultfd and io_uring return EPERM for every process in the sandbox.
4. **resource control** (``cgroups.py``): a cgroup per worker slot bounds the memory (all processes, tmpfs, shared
   memory) and processes of the program as a whole, where the host offers one; else per-process rlimits only.
5. **rlimits**, set inside the sandbox by ``prlimit`` (the zygote: by the program's fork) just before the program:
   CPU, address space or data, processes, file size, no core dumps; the zygote itself runs under rlimits too.
6. **A wall-clock watchdog** in the harness (``process.py``) that kills the process group (= the sandbox).

Why the uid drop: bwrap started by root keeps every capability inside the sandbox (checked here: CapEff full),
which would let the program raise its own rlimits or create device nodes. Started as an unprivileged uid it
creates an unprivileged user namespace instead, and ``--cap-drop ALL`` leaves it nothing.

If bwrap is missing or user namespaces are disabled (``kernel.unprivileged_userns_clone=0``, some container
runtimes), the sandbox falls back to rlimits + uid drop + process-group watchdog only, and warns loudly;
``require_isolation=True`` (``--require-isolation``) refuses instead.
"""

from __future__ import annotations

import glob
import logging
import os
import subprocess
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

from codeja.errors import CodejaError
from codeja.sandbox.languages import BOX, SYSTEM_PATH
from codeja.sandbox.seccomp import filter_bytes
from codeja.sandbox.types import Limits

log = logging.getLogger("codeja.sandbox")

SANDBOX_UID_BASE = int(os.environ.get("CODEJA_SANDBOX_UID_BASE", "1200000"))
# Each harness process picks its own block of uids so that two harnesses on one host never share a
# RLIMIT_NPROC budget; 256 slots per block.
_UID_BLOCK = SANDBOX_UID_BASE + (os.getpid() % 4000) * 256

# /etc entries toolchains read (dynamic loader cache, Debian alternatives, the JDK's config links, locale/time).
ETC_RO = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime",
          "/etc/nsswitch.conf", "/etc/host.conf", "/etc/mime.types", "/etc/ssl/openssl.cnf"]
ETC_RO_GLOBS = ["/etc/java-*"]


class IsolationUnavailable(CodejaError):
    """``require_isolation`` was asked for but bubblewrap cannot create a sandbox on this host."""

    exit_code = 1


@dataclass(frozen=True)
class Probe:
    ok: bool
    reason: str = ""


def bwrap_path() -> str | None:
    for p in ("/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"):
        if os.access(p, os.X_OK):
            return p
    return None


def slot_uid(slot: int) -> int | None:
    """The uid a worker slot runs programs as; None when codeja is not root (programs keep the caller's uid)."""
    return _UID_BLOCK + (slot % 256) if os.geteuid() == 0 else None


def minimal_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": SYSTEM_PATH, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "USER": "sandbox", "TERM": "dumb"}
    env.update(extra or {})
    return env


def _root_binds() -> list[str]:
    """Read-only system directories: /usr, and /bin /lib* /sbin as the host has them (links or dirs)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for p in ETC_RO + [p for g in ETC_RO_GLOBS for p in glob.glob(g)]:
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    return args


def bwrap_argv(*, env: dict[str, str], tmpfs_mb: int = 256, files=(), ro_binds=(), rw_binds=(), tmpfs=(),
               seccomp_fd: int | None = None, mqueue: bool = False, caps: tuple[str, ...] = ()) -> list[str]:
    """The bwrap prefix for one sandboxed command.

    Every writable place is a sized tmpfs (RAM, charged to the program's cgroup; never the host's disk): /box
    (the work dir, holding ``files``: (descriptor, path) pairs bwrap copies in), /tmp, /dev/shm and any path in
    ``tmpfs``. /dev itself is read-only. ``mqueue``: a mount point for POSIX message queues at /dev/mqueue.
    ``seccomp_fd``: see :func:`seccomp_fd`. ``caps``: capabilities the command keeps, inside the sandbox's user
    namespace only (the Python zygote: CAP_SYS_ADMIN and CAP_SETPCAP, to give each program fresh namespaces;
    the program's process drops them before it reads its request).

    The command is the pid-namespace init (``--as-pid-1``): bwrap's own init would sit in the sandbox as pid 1,
    holding the harness's descriptors, dumpable and without rlimits. As init, (a) bwrap reaps the command
    directly, so ``wait4`` on bwrap reports its CPU time and peak RSS, and (b) when it exits the kernel kills
    every process left in the namespace: daemonised grandchildren cannot outlive it.
    """
    argv = [bwrap_path(), "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    for cap in caps:
        argv += ["--cap-add", cap]
    for k, v in env.items():
        argv += ["--setenv", k, v]
    argv += _root_binds()
    size = str(tmpfs_mb << 20)
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm"]
    if mqueue:
        argv += ["--mqueue", "/dev/mqueue"]
    argv += ["--remount-ro", "/dev", "--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", BOX]
    for inside in tmpfs:
        argv += ["--size", size, "--tmpfs", inside]
    for fd, inside in files:
        argv += ["--file", str(fd), inside]
    for host, inside in ro_binds:
        argv += ["--ro-bind", host, inside]
    for host, inside in rw_binds:
        argv += ["--bind", host, inside]
    # the root itself is bwrap's scratch tmpfs (mount points for the binds above): make it read-only too,
    # or programs could write /etc/foo and the like (harmless to the host, but not the promise)
    argv += ["--remount-ro", "/", "--chdir", BOX]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    return argv + ["--as-pid-1", "--"]


def seccomp_fd() -> int | None:
    """A descriptor holding the seccomp filter, for one bwrap (it reads and closes it); None without a filter.

    The caller passes it in ``pass_fds`` and closes its own copy once the process has started.
    """
    prog = filter_bytes()
    if prog is None:
        return None
    r, w = os.pipe()
    os.write(w, prog)  # a few hundred bytes: fits the pipe buffer
    os.close(w)
    return r


def memfd_with(data: bytes, name: str = "codeja") -> int:
    """An anonymous in-memory file holding ``data``, positioned at its start (for ``bwrap --file``)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def join_cgroup_argv(fds: list[int]) -> list[str]:
    """A prefix that moves the command into a cgroup before it runs: it writes "0" ("me") to each inherited
    ``cgroup.procs`` descriptor (opened by the harness as root, so the sandbox uid needs no access to the tree),
    closes them and execs the command. bash, since dash takes only one-digit descriptors."""
    if not fds:
        return []
    script = " && ".join(f"echo 0 >&{fd}" for fd in fds) + " && exec " + " ".join(f"{fd}>&-" for fd in fds)
    return ["/bin/bash", "-c", script + ' "$@"', "codeja-join"]


def prlimit_argv(limits: Limits, *, memory_rlimit: str = "as", nproc_base: int = 0) -> list[str]:
    """``prlimit`` options that apply ``limits`` to the program it then execs."""
    mem = limits.memory_mb << 20
    cpu = max(1, int(limits.cpu_s + 0.999))
    argv = ["/usr/bin/prlimit", f"--cpu={cpu}:{cpu + 1}", f"--nproc={nproc_base + limits.processes}",
            f"--fsize={limits.file_size_mb << 20}", "--core=0", "--nofile=1024"]
    argv.append(f"--as={mem}" if memory_rlimit == "as" else f"--data={mem}")
    return argv + ["--"]


def nproc_base() -> int:
    """Processes the program's uid already has: RLIMIT_NPROC counts them all (0 with a private sandbox uid)."""
    if os.geteuid() == 0:
        return 4  # bwrap's two processes and prlimit, in the slot's own uid
    uid, n = os.getuid(), 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat(f"/proc/{d}").st_uid == uid:
                    n += len(os.listdir(f"/proc/{d}/task"))
            except OSError:
                pass
    return n + 8


_probe_lock = threading.Lock()


@lru_cache(maxsize=1)
def probe_bwrap() -> Probe:
    """Can bwrap build our sandbox here? Tried once per process with the exact flags we use."""
    if os.environ.get("CODEJA_SANDBOX_DISABLE_BWRAP") == "1":
        return Probe(False, "disabled by CODEJA_SANDBOX_DISABLE_BWRAP=1")
    if bwrap_path() is None:
        return Probe(False, "bwrap not found (Debian package 'bubblewrap')")
    if not os.access("/usr/bin/prlimit", os.X_OK):
        return Probe(False, "/usr/bin/prlimit not found (Debian package 'util-linux')")
    uid = slot_uid(0)
    sfd = seccomp_fd()
    argv = bwrap_argv(env=minimal_env(), seccomp_fd=sfd, mqueue=True) + ["/bin/sh", "-c", "exit 0"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30, user=uid, group=uid,
                           extra_groups=[] if uid is not None else None, pass_fds=[sfd] if sfd is not None else [])
    except (OSError, subprocess.SubprocessError) as e:
        return Probe(False, f"bwrap failed to start: {e}")
    finally:
        if sfd is not None:
            os.close(sfd)
    if r.returncode != 0:
        return Probe(False, f"bwrap cannot create namespaces here: {r.stderr.strip()[:300]} "
                            "(user namespaces disabled? try sysctl kernel.unprivileged_userns_clone=1)")
    return Probe(True)


_warned = False


def choose_isolation(require_isolation: bool) -> str:
    """"bwrap" when it works; else "rlimit" with a loud warning, or an error when isolation is required."""
    global _warned
    with _probe_lock:
        p = probe_bwrap()
    if p.ok:
        return "bwrap"
    if require_isolation:
        raise IsolationUnavailable(f"sandbox isolation required but unavailable: {p.reason}. Install bubblewrap "
                                   "and allow user namespaces, or drop --require-isolation.")
    if not _warned:
        _warned = True
        msg = (f"codeja.sandbox: bubblewrap isolation unavailable ({p.reason}); running untrusted code with "
               "rlimits and a watchdog ONLY: it can read your files and reach the network.")
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
        log.warning(msg)
    return "rlimit"
