"""Resource control of a program as a whole: its memory, processes and CPU time, counted over all its processes.

rlimits bound each process alone: under RLIMIT_AS a program of six processes uses six times its memory limit,
and tmpfs files, memfds and SysV shared memory count against no rlimit at all. A cgroup counts all of these.

Layout: below the cgroup the harness itself runs in (so the host's own limits on it still hold), one folder per
harness, ``codeja-<pid>``, and in it two cgroups per worker slot: ``slot-<k>`` holds the program (its limits
are set and its counters reset before every run, read after it) and ``slot-<k>-z`` the slot's resident
processes (bwrap and the Python zygote). A process joins by writing "0" to a ``cgroup.procs`` descriptor the
harness opened as root and handed down (a program in the sandbox never sees /sys/fs/cgroup), so the sandbox
needs no write access to the cgroup tree itself.

Modes, probed once per process and never fatal (:func:`select` is the pure decision, unit-tested on fake trees):

- ``cgroup-v2``: a cgroup2 mount where our own cgroup offers the memory and pids controllers, is writable, and
  has them enabled for its children or lets us enable them (a cgroup that holds other processes cannot: run
  under a delegated one, e.g. ``systemd-run --scope -p Delegate=yes``, or point ``CODEJA_SANDBOX_CGROUP`` at one).
- ``cgroup-v1``: a writable v1 memory hierarchy (plus pids and cpuacct where mounted and writable).
- ``rlimit``: neither (or ``CODEJA_SANDBOX_CGROUP=off``): per-process rlimits only, which is weaker. Every
  result says so in ``resource_control``, and a warning is logged once.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

log = logging.getLogger("codeja.sandbox")

V2_NEEDS = ("memory", "pids")
V1_OPTIONAL = ("pids", "cpuacct")


@dataclass(frozen=True)
class Selection:
    mode: str  # "cgroup-v2", "cgroup-v1" or "rlimit"
    dirs: dict[str, str] = field(default_factory=dict)  # controller ("unified" for v2) -> our own cgroup's dir
    reason: str = ""  # why not a better mode


def parse_mountinfo(text: str) -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, fs type, super options) of each cgroup / cgroup2 mount in /proc/self/mountinfo."""
    out = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        f, r = left.split(), right.split()
        if len(f) >= 5 and len(r) >= 3 and r[0] in ("cgroup", "cgroup2"):
            out.append((f[3], f[4], r[0], set(r[2].split(","))))
    return out


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """controller -> path from /proc/self/cgroup; the v2 entry ("0::/path") under the key ""."""
    out = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for c in (parts[1].split(",") if parts[1] else [""]):
                out[c] = parts[2]
    return out


def _join(root: str, mount_root: str, mount_point: str, path: str) -> str:
    # a container may mount only its own subtree: /proc/self/cgroup then still names the full path
    rel = path[len(mount_root):] if mount_root != "/" and path.startswith(mount_root) else path
    return os.path.normpath(os.path.join(root, mount_point.lstrip("/"), rel.lstrip("/")))


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def enable_controllers(d: str, controllers: list[str]) -> str:
    """Enable controllers for the children of ``d``; "" on success, else why not."""
    try:
        with open(os.path.join(d, "cgroup.subtree_control"), "w") as f:
            f.write(" ".join(f"+{c}" for c in controllers))
        return ""
    except OSError as e:
        if e.errno == errno.EBUSY:
            return f"{d} holds processes, so its children cannot have controllers (not delegated)"
        return f"cannot enable {'+'.join(controllers)} in {d}: {e.strerror}"


def _writable(d: str) -> bool:
    return os.path.isdir(d) and os.access(d, os.W_OK)


def select(mountinfo: str, proc_cgroup: str, *, root: str = "/", env: str | None = None,
           enable: Callable[[str, list[str]], str] = enable_controllers,
           writable: Callable[[str], bool] = _writable) -> Selection:
    """Which resource control this host gives us (see the module docstring).

    ``mountinfo`` and ``proc_cgroup`` are the texts of /proc/self/mountinfo and /proc/self/cgroup; ``root``
    prefixes every path, ``enable`` and ``writable`` act on the tree (the tests pass fakes).
    """
    if env is not None and env.strip().lower() in ("off", "0", "no", "rlimit", "none"):
        return Selection("rlimit", reason=f"disabled by CODEJA_SANDBOX_CGROUP={env}")
    mounts = parse_mountinfo(mountinfo)
    own = parse_proc_cgroup(proc_cgroup)
    why = []
    explicit = env.strip() if env and env.strip().startswith("/") else None
    # -- v2 ------------------------------------------------------------------------------------------------------
    v2 = [m for m in mounts if m[2] == "cgroup2"]
    if v2 or explicit:
        if explicit:
            d = os.path.join(root, explicit.lstrip("/"))
        elif "" in own:
            d = _join(root, v2[0][0], v2[0][1], own[""])
        else:
            d = None
        if d is None:
            why.append("cgroup v2: this process has no v2 cgroup")
        else:
            have = (_read(os.path.join(d, "cgroup.controllers")) or "").split()
            missing = [c for c in V2_NEEDS if c not in have]
            if missing:
                why.append(f"cgroup v2: {d} offers no {'/'.join(missing)} controller")
            elif not writable(d):
                why.append(f"cgroup v2: {d} is not writable (not delegated to this user)")
            else:
                on = (_read(os.path.join(d, "cgroup.subtree_control")) or "").split()
                off = [c for c in V2_NEEDS if c not in on]
                err = enable(d, off) if off else ""
                if not err:
                    return Selection("cgroup-v2", {"unified": d})
                why.append(f"cgroup v2: {err}")
    if explicit:
        return Selection("rlimit", reason="; ".join(why))
    # -- v1 ------------------------------------------------------------------------------------------------------
    dirs = {}
    for mroot, point, fstype, opts in mounts:
        if fstype != "cgroup":
            continue
        for c in ("memory", *V1_OPTIONAL):
            if c in opts and c in own and c not in dirs:
                d = _join(root, mroot, point, own[c])
                if writable(d):
                    dirs[c] = d
                elif c == "memory":
                    why.append(f"cgroup v1: {d} is not writable")
    if "memory" in dirs:
        return Selection("cgroup-v1", dirs)
    if not any(m[2] == "cgroup" and "memory" in m[3] for m in mounts):
        why.append("cgroup v1: no memory hierarchy mounted")
    return Selection("rlimit", reason="; ".join(why) or "no cgroup file system mounted")


@lru_cache(maxsize=1)
def host_selection() -> Selection:
    """This process's mode (probed once)."""
    sel = select(_read("/proc/self/mountinfo") or "", _read("/proc/self/cgroup") or "",
                 env=os.environ.get("CODEJA_SANDBOX_CGROUP"))
    if sel.mode == "rlimit":
        log.warning("codeja.sandbox: no usable cgroup (%s); memory and process limits are per process only "
                    "(a program's processes together, its tmpfs files and shared memory are not bounded by the "
                    "memory limit, and peak_memory_mb is its largest process)", sel.reason)
    return sel


@dataclass
class Usage:
    """What a program used, read from its cgroup after it ended (None: this kernel does not say)."""

    peak_mb: float | None
    oom_kills: int
    cpu_s: float | None


def _write(path: str, value: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(value)
        return True
    except OSError:
        return False


def _field(text: str | None, name: str) -> int:
    for line in (text or "").splitlines():
        k, _, v = line.partition(" ")
        if k == name:
            return int(v)
    return 0


class SlotCgroup:
    """The program cgroup (``slot-<k>``) and resident cgroup (``slot-<k>-z``) of one worker slot."""

    def __init__(self, mode: str, bases: dict[str, str], name: str):
        self.mode = mode
        self.prog = {c: os.path.join(b, name) for c, b in bases.items()}
        self.resident = {c: os.path.join(b, f"{name}-z") for c, b in bases.items()}
        for d in (*self.prog.values(), *self.resident.values()):
            os.makedirs(d, exist_ok=True)
        self._fds: dict[str, list[int]] = {}
        self._limits: dict[str, str] = {}
        self._oom0 = 0
        self._cpu0 = 0
        self._peak_fd: int | None = None
        if mode == "cgroup-v2":
            d = self.prog["unified"]
            _write(os.path.join(d, "memory.oom.group"), "1")  # an OOM kill takes the whole program, not a part
            _write(os.path.join(d, "memory.swap.max"), "0")
            try:  # since Linux 6.12 a write resets the peak as seen through this descriptor
                self._peak_fd = os.open(os.path.join(d, "memory.peak"), os.O_RDWR | os.O_CLOEXEC)
                os.write(self._peak_fd, b"reset")
            except OSError:
                if self._peak_fd is not None:
                    os.close(self._peak_fd)
                self._peak_fd = None
        else:
            _write(os.path.join(self.prog["memory"], "memory.swappiness"), "0")
        for d in self.resident.values():  # bwrap + zygote + supervisor + a program before it moves out
            _write(os.path.join(d, "pids.max"), "64")

    def join_fds(self, resident: bool) -> list[int]:
        """Descriptors of ``cgroup.procs`` (one per hierarchy) to hand to the process that must join."""
        key = "resident" if resident else "prog"
        if key not in self._fds:
            dirs = self.resident if resident else self.prog
            self._fds[key] = [os.open(os.path.join(d, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
                              for d in dirs.values()]
        return self._fds[key]

    def _set(self, d: str, name: str, value: str) -> None:
        path = os.path.join(d, name)
        if self._limits.get(path) != value and _write(path, value):
            self._limits[path] = value

    def before(self, memory_mb: int, processes: int) -> None:
        """Limits for the next run, counters zeroed; the program cgroup must be empty (see :meth:`kill`)."""
        mem = str(memory_mb << 20)
        if self.mode == "cgroup-v2":
            d = self.prog["unified"]
            self._set(d, "memory.max", mem)
            self._set(d, "pids.max", str(processes))
            if self._peak_fd is not None:
                os.pwrite(self._peak_fd, b"reset", 0)
            self._oom0 = _field(_read(os.path.join(d, "memory.events")), "oom_kill")
            self._cpu0 = _field(_read(os.path.join(d, "cpu.stat")), "usage_usec") * 1000
        else:
            d = self.prog["memory"]
            if self._limits.get(os.path.join(d, "memory.limit_in_bytes")) != mem:
                _write(os.path.join(d, "memory.force_empty"), "0")  # leftover page cache would block a lower limit
            self._set(d, "memory.limit_in_bytes", mem)
            _write(os.path.join(d, "memory.max_usage_in_bytes"), "0")
            self._oom0 = _field(_read(os.path.join(d, "memory.oom_control")), "oom_kill")
            if "pids" in self.prog:
                self._set(self.prog["pids"], "pids.max", str(processes))
            if "cpuacct" in self.prog:
                _write(os.path.join(self.prog["cpuacct"], "cpuacct.usage"), "0")

    def after(self) -> Usage:
        if self.mode == "cgroup-v2":
            d = self.prog["unified"]
            peak = None
            if self._peak_fd is not None:
                peak = int(os.pread(self._peak_fd, 64, 0).split()[0]) / (1 << 20)
            cpu = _field(_read(os.path.join(d, "cpu.stat")), "usage_usec") * 1000 - self._cpu0
            oom = _field(_read(os.path.join(d, "memory.events")), "oom_kill") - self._oom0
            return Usage(peak, oom, cpu / 1e9)
        d = self.prog["memory"]
        peak = int(_read(os.path.join(d, "memory.max_usage_in_bytes")) or 0) / (1 << 20)
        oom = _field(_read(os.path.join(d, "memory.oom_control")), "oom_kill") - self._oom0
        cpu = None
        if "cpuacct" in self.prog:
            cpu = int(_read(os.path.join(self.prog["cpuacct"], "cpuacct.usage")) or 0) / 1e9
        return Usage(round(peak, 1), oom, cpu)

    def pids(self, resident: bool = False) -> list[int]:
        dirs = self.resident if resident else self.prog
        d = dirs.get("unified") or dirs["memory"]
        return [int(p) for p in (_read(os.path.join(d, "cgroup.procs")) or "").split()]

    def kill(self, resident: bool = False, timeout: float = 2.0) -> int:
        """SIGKILL every process in the program (or resident) cgroup; how many there were."""
        n = 0
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids(resident)
            if not pids or time.monotonic() > deadline:
                return n
            n = max(n, len(pids))
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.005)

    def close(self) -> None:
        for resident in (False, True):
            self.kill(resident)
        for fds in self._fds.values():
            for fd in fds:
                os.close(fd)
        self._fds.clear()
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None
        for d in (*self.prog.values(), *self.resident.values()):
            try:
                os.rmdir(d)
            except OSError:
                pass


class Cgroups:
    """This harness's cgroup folder(s) and its slots' cgroups."""

    def __init__(self, sel: Selection):
        self.mode = sel.mode
        self.bases = {c: os.path.join(d, f"codeja-{os.getpid()}") for c, d in sel.dirs.items()}
        for c, d in sel.dirs.items():
            _remove_stale(d)
            os.makedirs(self.bases[c], exist_ok=True)
        if self.mode == "cgroup-v2":
            err = enable_controllers(self.bases["unified"], list(V2_NEEDS))
            if err:
                raise OSError(err)

    def slot(self, index: int) -> SlotCgroup:
        return SlotCgroup(self.mode, self.bases, f"slot-{index}")

    def close(self) -> None:
        for d in self.bases.values():
            try:
                os.rmdir(d)
            except OSError:
                pass


def _remove_stale(parent: str) -> None:
    """Empty ``codeja-<pid>`` folders whose harness is gone (one killed before it could clean up)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if not name.startswith("codeja-") or not name[7:].isdigit() or os.path.exists(f"/proc/{name[7:]}"):
            continue
        top = os.path.join(parent, name)
        for sub in os.listdir(top) if os.path.isdir(top) else []:
            try:
                os.rmdir(os.path.join(top, sub))
            except OSError:
                pass
        try:
            os.rmdir(top)
        except OSError:
            pass
