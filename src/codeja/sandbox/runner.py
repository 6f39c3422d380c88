"""``run`` and ``run_many``: one program or many, through compile cache, sandbox and status mapping."""

from __future__ import annotations

import atexit
import json
import os
import queue
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
from codeja.sandbox.isolation import (
    choose_isolation,
    full_bwrap_argv,
    minimal_env,
    nproc_base,
    prlimit_argv,
    slot_uid,
)
from codeja.sandbox.languages import BOX, BUILD, Language, Step, get_language
from codeja.sandbox.process import Execution, execute
from codeja.sandbox.types import Job, Limits, SandboxResult
from codeja.sandbox.zygote import PythonZygote, ZygoteDied

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


class Slot:
    """A worker's identity: its sandbox uid and, lazily, its Python zygote."""

    def __init__(self, index: int):
        self.index, self.uid = index, slot_uid(index)
        self.zygote: PythonZygote | None = None

    def python(self) -> PythonZygote:
        if self.zygote is None:
            self.zygote = PythonZygote(self.uid)
        return self.zygote

    def close(self):
        if self.zygote is not None:
            self.zygote.close()


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
    """Stop every pre-started worker (also done at exit)."""
    for s in _all_slots:
        s.close()


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


class _Runner:
    def __init__(self, slot: Slot, isolation: str):
        self.slot, self.isolation = slot, isolation

    def _exec(self, step: Step, workdir: str, limits: Limits, lang: Language, *, stdin: str | None,
              wall_s: float, extra_ro=(), extra_rw=(), memory_rlimit: str | None = None) -> Execution:
        mem_mode = memory_rlimit or lang.memory_rlimit
        env = minimal_env(step.env)
        pl = prlimit_argv(limits, memory_rlimit=mem_mode, nproc_base=nproc_base())
        stdin_b = stdin.encode("utf-8") if stdin is not None else None
        if self.isolation == "bwrap":
            ro = [(p, p) for p in lang.host_binds()] + list(step.ro_binds) + list(extra_ro)
            argv = full_bwrap_argv(workdir=workdir, env=env, ro_binds=ro, rw_binds=list(step.rw_binds) + list(extra_rw))
            return execute(argv + pl + step.argv, stdin=stdin_b, wall_s=wall_s, output_bytes=limits.output_bytes,
                           env={}, uid=self.slot.uid, via_bwrap=True)
        mapping = {BOX: workdir, **{inside: host for host, inside in [*step.ro_binds, *step.rw_binds, *extra_ro,
                                                                        *extra_rw]}}
        local = _relocate(step, mapping)
        env = minimal_env(local.env)
        env["TMPDIR"] = env["HOME"] = workdir
        ex = execute(pl + local.argv, stdin=stdin_b, wall_s=wall_s, output_bytes=limits.output_bytes, env=env,
                     cwd=workdir, uid=self.slot.uid, via_bwrap=False)
        self._kill_uid()
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

    def _workdir(self, source_name: str, source: str, files: dict[str, str]) -> str:
        wd = tempfile.mkdtemp(prefix="codeja-sbx-")
        for name, text in files.items():
            p = Path(wd, name)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        Path(wd, source_name).write_text(source, encoding="utf-8", errors="surrogatepass")
        if self.slot.uid is not None:
            for root, dirs, fs in os.walk(wd):
                for n in [root] + [os.path.join(root, x) for x in dirs + fs]:
                    os.chown(n, self.slot.uid, self.slot.uid)
        return wd

    # -- compile -----------------------------------------------------------------------------------------------
    def compile(self, lang: Language, job: Job, limits: Limits, files: dict[str, str]):
        """(artifact dir or None, compile_status, compile_stderr, compile_wall_s)."""
        from codeja.sandbox.crates import build_context

        ctx = build_context(lang)
        step = lang.compile_step(job.source, limits, ctx)
        key = lang.cache_key(job.source, files, step)
        final = cache_root() / lang.name / key
        with _key_lock(key):
            meta_p = final / "compile.json"
            if meta_p.exists():
                meta = json.loads(meta_p.read_text())
                st = "cached-ok" if meta["status"] == "ok" else meta["status"]
                return (final if meta["status"] == "ok" else None), st, meta["stderr"], 0.0
            final.parent.mkdir(parents=True, exist_ok=True)
            build = final.parent / f".tmp-{uuid.uuid4().hex}"
            build.mkdir()
            if self.slot.uid is not None:
                os.chown(build, self.slot.uid, self.slot.uid)
            wd = self._workdir(lang.source_name(job.source), job.source, files)
            try:
                climits = replace(limits, memory_mb=max(limits.memory_mb, 4096), processes=max(limits.processes, 512),
                                  cpu_s=limits.compile_wall_s * 4, file_size_mb=max(limits.file_size_mb, 512),
                                  output_bytes=max(limits.output_bytes, 1 << 20))
                ex = self._exec(step, wd, climits, lang, stdin=None, wall_s=limits.compile_wall_s,
                                extra_rw=[(str(build), BUILD)], memory_rlimit="data")
            finally:
                shutil.rmtree(wd, ignore_errors=True)
            status = classify(ex, climits)
            stderr = (ex.stdout + ex.stderr).decode("utf-8", "replace")
            if status == "ok" or status == "failed":
                (build / "compile.json").write_text(json.dumps({"status": status, "stderr": stderr,
                                                                "argv": step.argv}))
                os.chmod(build, 0o755)
                try:
                    os.rename(build, final)
                except OSError:
                    shutil.rmtree(build, ignore_errors=True)  # another process cached it first
            else:
                shutil.rmtree(build, ignore_errors=True)  # timeouts depend on load: never cache them
            return (final if status == "ok" else None), status, stderr, ex.wall_s

    # -- run ---------------------------------------------------------------------------------------------------
    def run(self, job: Job) -> SandboxResult:
        lang = get_language(job.language)
        limits = (job.limits or Limits()).over(lang.defaults)
        files = _check_files(job.files)
        base = dict(language=lang.name, key=job.key, limits=asdict(limits), isolation=self.isolation)
        missing = lang.missing_tools()
        if missing:
            return SandboxResult(status="toolchain-missing", detail=f"{lang.name}: {', '.join(missing)} not found; "
                                 f"{lang.install_hint()}",
                                 **{**base, "isolation": "none"})
        if lang.name == "python" and self.isolation == "bwrap":
            return self._run_python_zygote(job, limits, files, base)
        extra = dict(compile_status=None)
        build_ro = []
        if lang.compiled:
            art, cstatus, cerr, cwall = self.compile(lang, job, limits, files)
            extra = dict(compile_status=cstatus, compile_stderr=cerr[-limits.output_bytes:], compile_wall_s=cwall)
            if art is None:
                status = "timeout" if cstatus == "timeout" else "failed"
                return SandboxResult(status=status, detail=f"compile step: {cstatus}", **extra, **base)
            build_ro = [(str(art), BUILD)]
        wd = self._workdir(lang.source_name(job.source), job.source, files)
        try:
            step = lang.run_step(job.source, list(job.args), limits)
            ex = self._exec(step, wd, limits, lang, stdin=job.stdin, wall_s=limits.wall_s, extra_ro=build_ro)
        finally:
            shutil.rmtree(wd, ignore_errors=True)
        if ex.start_error:
            return SandboxResult(status="sandbox-error", detail=ex.start_error, **extra, **base)
        return SandboxResult(status=classify(ex, limits), exit_code=ex.exit_code, signal=ex.signal,
                             stdout=ex.stdout.decode("utf-8", "replace"), stderr=ex.stderr.decode("utf-8", "replace"),
                             stdout_truncated=ex.stdout_truncated, stderr_truncated=ex.stderr_truncated,
                             wall_s=ex.wall_s, cpu_s=ex.cpu_s, peak_memory_mb=ex.peak_memory_mb, **extra, **base)

    def _run_python_zygote(self, job: Job, limits: Limits, files: dict[str, str], base: dict) -> SandboxResult:
        req = {"source": job.source, "stdin": job.stdin, "args": [str(a) for a in job.args], "files": files,
               "limits": asdict(limits), "env": minimal_env(get_language("python").env)}
        zyg = self.slot.python()
        try:
            r = zyg.run(req)
        except ZygoteDied as e:
            try:
                r = zyg.run(req)  # one fresh start; a zygote that cannot start at all is a sandbox error
            except ZygoteDied:
                return SandboxResult(status="sandbox-error", detail=str(e), **base)
        ex = Execution(r["exit_code"], r["signal"], r["stdout"].encode(), r["stderr"].encode(), r["stdout_truncated"],
                       r["stderr_truncated"], r["wall_s"], r["cpu_s"], r["peak_memory_mb"], r["timed_out"], False)
        status = classify(ex, limits)
        if r.get("detail") and not r["timed_out"]:
            status = "killed"
        return SandboxResult(status=status, exit_code=r["exit_code"], signal=r["signal"], stdout=r["stdout"],
                             stderr=r["stderr"], stdout_truncated=r["stdout_truncated"],
                             stderr_truncated=r["stderr_truncated"], wall_s=r["wall_s"], cpu_s=r["cpu_s"],
                             peak_memory_mb=r["peak_memory_mb"], leftover_processes=r.get("leftover", 0),
                             detail=r.get("detail", ""), **base)


def _run_job(job: Job, isolation: str) -> SandboxResult:
    slot = _acquire()
    try:
        return _Runner(slot, isolation).run(job)
    except InputError:
        raise
    except Exception as e:  # a bug or a broken host, never the program's fault
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
        files: dict[str, str] | None = None, limits: Limits | None = None,
        require_isolation: bool = False) -> SandboxResult:
    """Run one program in the sandbox and say what happened (never raises for the program's behaviour)."""
    return run_many([Job(source, language, stdin, tuple(args), files, limits)], workers=1,
                    require_isolation=require_isolation)[0]
