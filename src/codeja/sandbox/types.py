"""The value types of the sandbox: limits, jobs and results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace

#: Every status a :class:`SandboxResult` can carry. Only ``ok`` means the program ran and exited 0.
STATUSES = ("ok", "failed", "timeout", "memory", "output-limit", "killed", "toolchain-missing", "sandbox-error")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one program. ``None`` means "the language's default" (see ``LANGUAGES``)."""

    wall_s: float | None = None  # wall-clock seconds for the run step; the watchdog kills the whole tree
    cpu_s: float | None = None  # CPU seconds (RLIMIT_CPU), summed over threads of a process
    # memory of the whole program: all its processes, tmpfs files, shared memory (a cgroup, where there is one);
    # each process is also held to it by RLIMIT_AS (RLIMIT_DATA for the JVM / V8), the only limit without cgroups
    memory_mb: int | None = None
    processes: int | None = None  # processes + threads of the program (pids cgroup and RLIMIT_NPROC)
    output_bytes: int | None = None  # cap on captured stdout and on stderr, each; more -> output-limit
    file_size_mb: int | None = None  # largest file the program may write (RLIMIT_FSIZE)
    compile_wall_s: float | None = None  # wall-clock seconds for the compile step of compiled languages
    tmpfs_mb: int | None = None  # size of each writable file system (/box, /tmp, /dev/shm: RAM, never host disk)

    def over(self, base: Limits) -> Limits:
        """These limits with every unset field taken from ``base``."""
        return replace(base, **{f.name: getattr(self, f.name) for f in fields(self)
                                if getattr(self, f.name) is not None})


@dataclass
class Job:
    """One program to run; ``key`` is the caller's id, echoed back in the result."""

    source: str
    language: str
    stdin: str | None = None
    args: Sequence[str] = ()
    files: dict[str, str] | None = None
    limits: Limits | None = None
    key: object = None
    # pass only if the program ran to its end: the language's end-of-program marker (see Language.mark_end) must
    # appear, so os._exit(0) / sys.exit() / exit(0) / an atexit hook before the last statement is a failure
    end_marker: bool = False


@dataclass
class SandboxResult:
    """What happened to one program. ``status`` is one of :data:`STATUSES`."""

    status: str
    exit_code: int | None = None  # the program's exit code; None when killed by a signal or never run
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_s: float = 0.0  # run step only (compile time is in compile_wall_s)
    cpu_s: float = 0.0
    # the program's total (all processes, tmpfs, shared memory) under a cgroup; the largest single process's
    # resident set under resource_control "rlimit"
    peak_memory_mb: float = 0.0
    isolation: str = "none"  # "bwrap" or "rlimit" ("none" when nothing ran)
    resource_control: str = "none"  # "cgroup-v2", "cgroup-v1" or "rlimit" (per process only: weaker)
    language: str = ""
    signal: int | None = None  # the signal that ended the program, if any
    compile_status: str | None = None  # compiled languages: "ok", "failed", "timeout", "cached-ok", ...
    compile_stderr: str = ""
    compile_wall_s: float = 0.0
    leftover_processes: int = 0  # processes still alive after the program ended (all were killed)
    key: object = None
    detail: str = ""  # a human-readable note for sandbox-error / toolchain-missing / memory heuristics
    limits: dict = field(default_factory=dict)  # the resolved limits used
    attempts: int = 1  # runs it took: >1 when the sandbox itself failed and the program was run again
    end_reached: bool | None = None  # Job.end_marker: whether the marker came (None: not asked, or no marker)

    @property
    def infra_failure(self) -> bool:
        """The sandbox failed, not (necessarily) the program: it could not start, or its Python zygote vanished
        without a reply. A program that kills its own zygote looks the same, so such results are run again in a
        fresh sandbox (see ``run_many``): a hostile program is ``killed`` every time, a correct one that met a
        transient failure (seen on a saturated machine) passes the next time."""
        return self.status == "sandbox-error" or (self.status == "killed" and "sandbox" in self.detail)

    @property
    def passed(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict:
        d = asdict(self)
        if not isinstance(d["key"], (str, int, float, type(None))):
            d["key"] = repr(d["key"])
        return d
