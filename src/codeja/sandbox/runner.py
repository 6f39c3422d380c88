"""``run`` and ``run_many``: one program or many, through compile cache, sandbox and status mapping."""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import secrets
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

from codeja.errors import InputError
from codeja.sandbox.cgroups import Cgroups, SlotCgroup, Usage, host_selection
from codeja.sandbox.isolation import (
    bwrap_argv,
    choose_isolation,
    join_cgroup_argv,
    memfd_with,
    minimal_env,
    nproc_base,
    prlimit_argv,
    seccomp_fd,
    slot_uid,
)
from codeja.sandbox.languages import BOX, BUILD, END_ENV, EndMark, Language, Step, get_language
from codeja.sandbox.process import Execution, execute
from codeja.sandbox.seccomp import filter_bytes
from codeja.sandbox.types import Job, Limits, SandboxResult
from codeja.sandbox.zygote import PythonZygote, ZygoteDied

log = logging.getLogger("codeja.sandbox")
OUT = "/out"  # compile steps copy /build (a tmpfs) here, a host folder of the compile cache
PIDS_OVERHEAD = 4  # bwrap's own process (outside the sandbox, inside the cgroup) and the wrappers it execs

# What runtimes print when an allocation fails under the memory limit.
MEMORY_MARKERS = ("MemoryError", "std::bad_alloc", "out of memory", "Cannot allocate memory", "OutOfMemoryError",
                  "memory allocation of", "JavaScript heap out of memory", "cannot allocate memory", "xmalloc",
                  "failed to allocate memory")


def cache_root() -> Path:
    """Compile cache: $CODEJA_SANDBOX_CACHE, else /var/tmp/codeja-sandbox-<uid>.

    Not under $CODEJA_HOME: bwrap binds artifacts as the unprivileged sandbox uid, which must be able to
    reach the folder, and home dirs (/root in particular) are usually closed to other users.
    """
    env = os.environ.get("CODEJA_SANDBOX_CACHE")
    root = Path(env) if env else Path("/var/tmp") / f"codeja-sandbox-{os.geteuid()}"
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
    return root


def classify(ex: Execution, limits: Limits) -> str:
    """Map how a program ended onto a status (the order matters: a flood that was killed is output-limit)."""
    if ex.output_exceeded or ex.stdout_truncated or ex.stderr_truncated:
        return "output-limit"
    if ex.oom_killed:
        return "memory"  # its cgroup's total went over the limit: the kernel killed part or all of it
    if ex.timed_out:
        return "timeout"
    if ex.exit_code == 0 and ex.signal is None:
        return "ok"
    tail = ex.stderr[-4096:].decode("utf-8", "replace") if isinstance(ex.stderr, bytes) else ex.stderr[-4096:]
    if any(m in tail for m in MEMORY_MARKERS):
        return "memory"
    if ex.signal == signal.SIGXCPU:
        return "timeout"  # the CPU-time limit
    if ex.signal == signal.SIGKILL and limits.cpu_s and ex.cpu_s >= 0.95 * limits.cpu_s:
        return "timeout"  # the hard CPU-time limit (busy threads reach it before the soft SIGXCPU is handled)
    if ex.signal == signal.SIGKILL and ex.peak_memory_mb >= 0.9 * limits.memory_mb:
        return "memory"
    if ex.signal is not None:
        return "killed"
    return "failed"


def _check_files(files: dict[str, str] | None) -> dict[str, str]:
    files = dict(files or {})
    for name in files:
        parts = Path(name).parts
        if not name or Path(name).is_absolute() or ".." in parts or name.startswith("."):
            raise InputError(f"extra file name {name!r} must be a relative path inside the work dir", field="files")
    return files


# -- worker slots ------------------------------------------------------------------------------------------------


_cgroups: Cgroups | None = None
_cgroups_tried = False
_cgroups_lock = threading.Lock()


def cgroups() -> Cgroups | None:
    """This process's cgroup folder, made on first use; None when the host gives none (see ``cgroups.py``)."""
    global _cgroups, _cgroups_tried
    with _cgroups_lock:
        if not _cgroups_tried:
            _cgroups_tried = True
            sel = host_selection()
            if sel.mode != "rlimit":
                try:
                    _cgroups = Cgroups(sel)
                except OSError as e:
                    log.warning("codeja.sandbox: cannot set up %s cgroups (%s); per-process rlimits only", sel.mode, e)
        return _cgroups


def resource_control() -> str:
    """"cgroup-v2", "cgroup-v1" or "rlimit": what bounds a program's memory and processes as a whole here."""
    cg = cgroups()
    return cg.mode if cg else "rlimit"


_zygote_unusable: str | None = None  # why Python cannot use the zygote on this host (None: it can)


def _zygote_unusable_because(reason: str) -> None:
    global _zygote_unusable
    if _zygote_unusable is None:
        _zygote_unusable = reason
        log.warning("codeja.sandbox: the Python zygote cannot run here (%s); Python programs get a fresh bwrap each "
                    "(slower)", reason)


def describe() -> dict:
    """What protects programs on this host, for manifests: isolation, resource control, seccomp, and under
    ``weaker`` each way this host falls short of the full sandbox (see docs/sandbox.md)."""
    iso = choose_isolation(False)
    rc = resource_control()
    seccomp = iso == "bwrap" and filter_bytes() is not None
    weaker = []
    if iso != "bwrap":
        weaker.append("no bubblewrap: programs run with rlimits and a watchdog only; they can read the caller's files "
                      "and reach the network")
    if rc == "rlimit":
        weaker.append("no cgroup: memory and process limits hold per process only (a program's processes together, "
                      "its tmpfs files and shared memory are not bounded; peak_memory_mb is its largest process)")
    if iso == "bwrap" and not seccomp:
        weaker.append("no seccomp filter for this architecture: ptrace and process_vm_readv are not blocked")
    return {"isolation": iso, "resource_control": rc, "seccomp": seccomp, "weaker": weaker}


class Slot:
    """A worker's identity: its sandbox uid, its cgroups and, lazily, its Python zygote."""

    def __init__(self, index: int):
        self.index, self.uid = index, slot_uid(index)
        self.zygote: PythonZygote | None = None
        cg = cgroups()
        self.cgroup: SlotCgroup | None = cg.slot(index) if cg else None

    def python(self, tmpfs_mb: int) -> PythonZygote:
        if self.zygote is not None and self.zygote.tmpfs_mb != tmpfs_mb:
            self.zygote.close()  # its file systems were sized for other limits
            self.zygote = None
        if self.zygote is None:
            self.zygote = PythonZygote(self.uid, tmpfs_mb, self.cgroup)
        return self.zygote

    def close(self):
        if self.zygote is not None:
            self.zygote.close()
        if self.cgroup is not None:
            self.cgroup.close()


_slots: queue.LifoQueue[Slot] = queue.LifoQueue()
_all_slots: list[Slot] = []
_slots_lock = threading.Lock()


def _acquire() -> Slot:
    try:
        return _slots.get_nowait()
    except queue.Empty:
        with _slots_lock:
            s = Slot(len(_all_slots))
            _all_slots.append(s)
            return s


def shutdown() -> None:
    """Stop every pre-started worker and remove this process's cgroups (also done at exit)."""
    global _cgroups, _cgroups_tried
    with _slots_lock:
        for s in _all_slots:
            s.close()
        _all_slots.clear()
        while not _slots.empty():
            _slots.get_nowait()
    with _cgroups_lock:
        if _cgroups is not None:
            _cgroups.close()
        _cgroups, _cgroups_tried = None, False


atexit.register(shutdown)

_key_locks: dict[str, threading.Lock] = {}
_key_locks_guard = threading.Lock()


def _key_lock(key: str) -> threading.Lock:
    with _key_locks_guard:
        return _key_locks.setdefault(key, threading.Lock())


# -- one program ------------------------------------------------------------------------------------------------


def _relocate(step: Step, mapping: dict[str, str]) -> Step:
    """Rewrite sandbox paths (/box, /build, ...) to host paths, for the rlimit-only mode that has no mounts."""
    def fix(s: str) -> str:
        for inside, host in mapping.items():
            if (s == inside or s.startswith((inside + "/", inside + ":", f"dependency={inside}"))
                    or f"={inside}/" in s or f":{inside}/" in s):  # also class paths, -out:/build/x
                s = s.replace(inside, host, 1)
        return s
    return Step([fix(a) for a in step.argv], {k: fix(v) for k, v in step.env.items()})


def _with_usage(ex: Execution, usage: Usage | None) -> Execution:
    """The program's totals from its cgroup in place of the largest process's."""
    if usage is not None:
        if usage.peak_mb is not None:
            ex.peak_memory_mb = usage.peak_mb
        if usage.cpu_s is not None:
            ex.cpu_s = round(max(ex.cpu_s, usage.cpu_s), 4)
        ex.oom_killed = usage.oom_kills > 0
    return ex


class _Runner:
    def __init__(self, slot: Slot, isolation: str):
        self.slot, self.isolation = slot, isolation

    def _exec(self, step: Step, files: dict[str, str], limits: Limits, lang: Language, *, stdin: str | None,
              wall_s: float, extra_ro=(), extra_rw=(), tmpfs=(), memory_rlimit: str | None = None) -> Execution:
        """Run one step; ``files`` (name -> text) are the contents of /box."""
        mem_mode = memory_rlimit or lang.memory_rlimit
        env = minimal_env(step.env)
        pl = prlimit_argv(limits, memory_rlimit=mem_mode, nproc_base=nproc_base())
        stdin_b = stdin.encode("utf-8", "surrogatepass") if stdin is not None else None
        cg = self.slot.cgroup
        join = cg.join_fds(resident=False) if cg else []
        if cg:
            cg.kill()
            cg.before(limits.memory_mb, limits.processes + PIDS_OVERHEAD)
        if self.isolation == "bwrap":
            ro = [(p, p) for p in lang.host_binds()] + list(step.ro_binds) + list(extra_ro)
            fds = [memfd_with(text.encode("utf-8", "surrogatepass"), name) for name, text in files.items()]
            sfd = seccomp_fd()
            try:
                argv = join_cgroup_argv(join) + bwrap_argv(
                    env=env, tmpfs_mb=limits.tmpfs_mb, files=[(fd, f"{BOX}/{n}") for fd, n in zip(fds, files)],
                    ro_binds=ro, rw_binds=list(step.rw_binds) + list(extra_rw), tmpfs=tmpfs, seccomp_fd=sfd)
                ex = execute(argv + pl + step.argv, stdin=stdin_b, wall_s=wall_s, output_bytes=limits.output_bytes,
                             env={}, uid=self.slot.uid, via_bwrap=True,
                             pass_fds=(*fds, *join, *([sfd] if sfd is not None else [])))
            finally:
                for fd in fds + ([sfd] if sfd is not None else []):
                    os.close(fd)
        else:
            wd = self._workdir(files)
            try:
                mapping = {BOX: wd, **{inside: host for host, inside in [*step.ro_binds, *step.rw_binds, *extra_ro,
                                                                          *extra_rw]}}
                local = _relocate(step, mapping)
                env = minimal_env(local.env)
                env["TMPDIR"] = env["HOME"] = wd
                ex = execute(join_cgroup_argv(join) + pl + local.argv, stdin=stdin_b, wall_s=wall_s,
                             output_bytes=limits.output_bytes, env=env, cwd=wd, uid=self.slot.uid, via_bwrap=False,
                             pass_fds=tuple(join))
                self._kill_uid()
            finally:
                shutil.rmtree(wd, ignore_errors=True)
        if cg:
            cg.kill()
            ex = _with_usage(ex, cg.after())
        return ex

    def _kill_uid(self):
        """rlimit mode: a private uid lets us find and kill every process the program left behind."""
        uid = self.slot.uid
        if uid is None:
            return
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    if os.stat(f"/proc/{d}").st_uid == uid:
                        os.kill(int(d), signal.SIGKILL)
                except OSError:
                    pass

    def _workdir(self, files: dict[str, str]) -> str:
        """rlimit mode only (no bwrap, so no tmpfs): the program's files in a host temp dir."""
        wd = tempfile.mkdtemp(prefix="codeja-sbx-")
        for name, text in files.items():
            p = Path(wd, name)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8", errors="surrogatepass")
        if self.slot.uid is not None:
            for root, dirs, fs in os.walk(wd):
                for n in [root] + [os.path.join(root, x) for x in dirs + fs]:
                    os.chown(n, self.slot.uid, self.slot.uid)
        return wd

    # -- compile -----------------------------------------------------------------------------------------------
    def compile(self, lang: Language, source: str, limits: Limits, files: dict[str, str]):
        """(artifact dir or None, compile_status, compile_stderr, compile_wall_s).

        The compile step runs under the program's own memory limit (its cgroup counts the compiler, its files in
        /tmp and the output in the /build tmpfs), with ``compile_wall_s``. Outcomes are cached by source and
        toolchain: ok and failed always; timeout and memory with the limits they had, reused only under limits
        no larger (a timeout only when the compiler was busy, not starved by a loaded machine).
        """
        from codeja.sandbox.crates import build_context  # import cycle: crates imports runner

        ctx = build_context(lang)
        step = lang.compile_step(source, limits, ctx)
        key = lang.cache_key(source, files, step)
        final = cache_root() / lang.name / key
        with _key_lock(key):
            meta_p = final / "compile.json"
            if meta_p.exists():
                meta = json.loads(meta_p.read_text())
                st = meta["status"]
                if st in ("ok", "failed") or (
                        st == "timeout" and limits.compile_wall_s <= meta.get("compile_wall_s", 0)) or (
                        st == "memory" and limits.memory_mb <= meta.get("memory_mb", 0)):
                    return (final if st == "ok" else None), f"cached-{st}", meta["stderr"], 0.0
            final.parent.mkdir(parents=True, exist_ok=True)
            build = final.parent / f".tmp-{uuid.uuid4().hex}"
            build.mkdir()
            if self.slot.uid is not None:
                os.chown(build, self.slot.uid, self.slot.uid)
            # memory, tmpfs and the wall clock are the program's; compilers need more processes, CPU (threads) and
            # room for their output files
            climits = replace(limits, processes=max(limits.processes, 512), cpu_s=limits.compile_wall_s * 4,
                              file_size_mb=max(limits.file_size_mb, 256),
                              output_bytes=max(limits.output_bytes, 1 << 20))
            src_files = {**files, lang.source_name(source): source}
            if self.isolation == "bwrap":
                # the compiler writes into a tmpfs /build; only what is there at the end is copied to the cache
                cstep = Step(["/bin/sh", "-c", f'"$@" && exec cp -R {BUILD}/. {OUT}/', "codeja-compile", *step.argv],
                             step.env, step.ro_binds, step.rw_binds)
                ex = self._exec(cstep, src_files, climits, lang, stdin=None, wall_s=limits.compile_wall_s,
                                extra_rw=[(str(build), OUT)], tmpfs=[BUILD], memory_rlimit="data")
            else:
                ex = self._exec(step, src_files, climits, lang, stdin=None, wall_s=limits.compile_wall_s,
                                extra_rw=[(str(build), BUILD)], memory_rlimit="data")
            status = classify(ex, climits)
            stderr = (ex.stdout + ex.stderr).decode("utf-8", "replace")
            busy = ex.cpu_s >= 0.5 * ex.wall_s  # a timeout of a starved compiler says nothing about the source
            if status in ("ok", "failed", "memory") or (status == "timeout" and busy):
                (build / "compile.json").write_text(json.dumps({
                    "status": status, "stderr": stderr, "argv": step.argv, "compile_wall_s": limits.compile_wall_s,
                    "memory_mb": limits.memory_mb, "cpu_s": ex.cpu_s, "wall_s": ex.wall_s}))
                os.chmod(build, 0o755)
                if final.exists():
                    shutil.rmtree(final, ignore_errors=True)  # an outcome under smaller limits
                try:
                    os.rename(build, final)
                except OSError:
                    shutil.rmtree(build, ignore_errors=True)  # another process cached it first
            else:
                shutil.rmtree(build, ignore_errors=True)
            return (final if status == "ok" else None), status, stderr, ex.wall_s

    # -- run ---------------------------------------------------------------------------------------------------
    def run(self, job: Job) -> SandboxResult:
        lang = get_language(job.language)
        limits = (job.limits or Limits()).over(lang.defaults)
        files = _check_files(job.files)
        base = dict(language=lang.name, key=job.key, limits=asdict(limits), isolation=self.isolation,
                    resource_control=self.slot.cgroup.mode if self.slot.cgroup else "rlimit")
        missing = lang.missing_tools()
        if missing:
            return SandboxResult(status="toolchain-missing", detail=f"{lang.name}: {', '.join(missing)} not found; "
                                 f"{lang.install_hint()}",
                                 **{**base, "isolation": "none"})
        mark = lang.mark_end(job.source) if job.end_marker else None
        source = mark.source if mark else job.source
        token = secrets.token_hex(16) if mark is not None and mark.expect is None else None
        env = {END_ENV: token} if token else {}
        result = None
        if lang.name == "python" and self.isolation == "bwrap" and _zygote_unusable is None:
            result = self._run_python_zygote(job, source, env, limits, files, base)
        if result is None:
            result = self._run_steps(lang, job, source, env, limits, files, base)
        if job.end_marker:
            _check_end(result, lang, mark, token)
        return result

    def _run_steps(self, lang: Language, job: Job, source: str, env: dict[str, str], limits: Limits,
                   files: dict[str, str], base: dict) -> SandboxResult:
        extra = dict(compile_status=None)
        build_ro = []
        if lang.compiled:
            art, cstatus, cerr, cwall = self.compile(lang, source, limits, files)
            extra = dict(compile_status=cstatus, compile_stderr=cerr[-limits.output_bytes:], compile_wall_s=cwall)
            if art is None:
                status = cstatus.removeprefix("cached-")
                return SandboxResult(status=status if status in ("timeout", "memory", "sandbox-error") else "failed",
                                     detail=f"compile step: {cstatus}", **extra, **base)
            build_ro = [(str(art), BUILD)]
        step = lang.run_step(source, list(job.args), limits)
        step = replace(step, env={**step.env, **env})
        ex = self._exec(step, {**files, lang.source_name(source): source}, limits, lang, stdin=job.stdin,
                        wall_s=limits.wall_s, extra_ro=build_ro)
        if ex.start_error:
            return SandboxResult(status="sandbox-error", detail=ex.start_error, **extra, **base)
        return SandboxResult(status=classify(ex, limits), exit_code=ex.exit_code, signal=ex.signal,
                             stdout=ex.stdout.decode("utf-8", "replace"), stderr=ex.stderr.decode("utf-8", "replace"),
                             stdout_truncated=ex.stdout_truncated, stderr_truncated=ex.stderr_truncated,
                             wall_s=ex.wall_s, cpu_s=ex.cpu_s, peak_memory_mb=ex.peak_memory_mb, **extra, **base)

    def _run_python_zygote(self, job: Job, source: str, env: dict[str, str], limits: Limits,
                           files: dict[str, str], base: dict) -> SandboxResult | None:
        """The run through the slot's zygote; None when the zygote cannot run on this host."""
        req = {"source": source, "stdin": job.stdin, "args": [str(a) for a in job.args], "files": files,
               "limits": asdict(limits), "env": minimal_env({**get_language("python").env, **env})}
        zyg = self.slot.python(limits.tmpfs_mb)
        cg = self.slot.cgroup

        def once() -> dict:
            # no cg.kill() here: the next program's process, forked ahead, already waits in the cgroup; the zygote
            # kills whatever a program leaves in its pid namespace
            if cg:
                cg.before(limits.memory_mb, limits.processes + PIDS_OVERHEAD)
            return zyg.run(req)

        try:
            try:
                r = once()
            except ZygoteDied:
                r = once()  # one fresh start
        except ZygoteDied as e:
            # twice, and never the program's doing (it fails before any of the program runs): this job goes the
            # way of the other languages, a fresh bwrap. When the zygote cannot start or cannot give a program its
            # namespaces, this host cannot run it at all (a setuid bwrap refusing --cap-add, mounts denied in user
            # namespaces...): every later Python job does the same, slower and as safe.
            if "did not start" in str(e) or "cannot set the program up" in str(e):
                _zygote_unusable_because(str(e))
            return None
        ex = Execution(r["exit_code"], r["signal"], r["stdout"].encode(), r["stderr"].encode(), r["stdout_truncated"],
                       r["stderr_truncated"], r["wall_s"], r["cpu_s"], r["peak_memory_mb"], r["timed_out"], False)
        if cg:
            ex = _with_usage(ex, cg.after())
        status = classify(ex, limits)
        if r.get("detail") and not r["timed_out"]:
            status = "killed"
        return SandboxResult(status=status, exit_code=r["exit_code"], signal=r["signal"], stdout=r["stdout"],
                             stderr=r["stderr"], stdout_truncated=r["stdout_truncated"],
                             stderr_truncated=r["stderr_truncated"], wall_s=r["wall_s"], cpu_s=ex.cpu_s,
                             peak_memory_mb=ex.peak_memory_mb, leftover_processes=r.get("leftover", 0),
                             detail=r.get("detail", ""), **base)


def _check_end(r: SandboxResult, lang: Language, mark: EndMark | None, token: str | None) -> None:
    """Job.end_marker: a run that exited 0 without its end-of-program marker failed; the token leaves stdout."""
    if mark is None:
        r.detail = _note(r.detail, f"{lang.name}: no end-of-program marker for this program, so exit 0 counts "
                                   "(a premature exit would pass)")
        return
    if token is not None:
        r.end_reached = token in r.stdout
        r.stdout = r.stdout.replace(token + "\n" if token + "\n" in r.stdout else token, "", 1)
    else:
        r.end_reached = bool(mark.expect.search(r.stdout))
    if r.status == "ok" and not r.end_reached:
        r.status = "failed"
        r.detail = _note(r.detail, "the program exited before its end (no end-of-program marker: os._exit / "
                                   "sys.exit / exit(0) before the tests finished)")


def _note(detail: str, more: str) -> str:
    return f"{detail}; {more}" if detail else more


def _run_job(job: Job, isolation: str) -> SandboxResult:
    slot = _acquire()
    try:
        return _Runner(slot, isolation).run(job)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - a bug or a broken host, never the program's fault
        return SandboxResult(status="sandbox-error", detail=f"{type(e).__name__}: {e}", key=job.key,
                             language=job.language, isolation=isolation)
    finally:
        _slots.put(slot)


def run_many(jobs: Sequence[Job], *, workers: int | None = None, progress: bool = False,
             require_isolation: bool = False, infra_retries: int = 2) -> list[SandboxResult]:
    """Run many programs on a pool of ``workers`` (default: the CPU count); results come back in job order.

    A job whose result is an infrastructure failure (``SandboxResult.infra_failure``) is run again, up to
    ``infra_retries`` times; ``attempts`` on the result says how many runs it took.
    """
    isolation = choose_isolation(require_isolation)
    for j in jobs:  # fail fast on caller errors, before anything runs
        get_language(j.language)
        _check_files(j.files)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    bar = None
    if progress:
        # start-up path (codeja.cli imports the sandbox): tqdm loads only when a bar is shown
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="sandbox", unit="prog")

    def one(job):
        r = _run_job(job, isolation)
        attempts = 1
        while r.infra_failure and attempts <= infra_retries:
            r = _run_job(job, isolation)
            attempts += 1
        r.attempts = attempts
        if bar is not None:
            bar.update(1)
        return r

    try:
        if workers == 1:
            return [one(j) for j in jobs]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, jobs))
    finally:
        if bar is not None:
            bar.close()


def run(source: str, language: str, *, stdin: str | None = None, args: Sequence[str] = (),
        files: dict[str, str] | None = None, limits: Limits | None = None, end_marker: bool = False,
        require_isolation: bool = False) -> SandboxResult:
    """Run one program in the sandbox and say what happened (never raises for the program's behaviour)."""
    return run_many([Job(source, language, stdin, tuple(args), files, limits, end_marker=end_marker)], workers=1,
                    require_isolation=require_isolation)[0]
