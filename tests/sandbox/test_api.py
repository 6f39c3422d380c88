"""The sandbox API, statuses, CLI and bad input (fast tests)."""

from __future__ import annotations

import json
import signal

import pytest
from typer.testing import CliRunner

from codeja.cli import app
from codeja.errors import InputError
from codeja.sandbox import (
    LANGUAGES,
    STATUSES,
    Job,
    Limits,
    classify,
    get_language,
    java_classes,
    probe_bwrap,
    run,
    run_many,
    toolchain_available,
)
from codeja.sandbox.languages import Language
from codeja.sandbox.process import Execution

needs_bwrap = pytest.mark.skipif(not probe_bwrap().ok, reason=f"bubblewrap unusable here: {probe_bwrap().reason}")


def _ex(**kw):
    base = dict(exit_code=0, signal=None, stdout=b"", stderr=b"", stdout_truncated=False, stderr_truncated=False,
                wall_s=0.1, cpu_s=0.1, peak_memory_mb=10.0, timed_out=False, output_exceeded=False)
    base.update(kw)
    return Execution(**base)


def test_classify_maps_every_ending():
    lim = Limits().over(get_language("python").defaults)
    assert classify(_ex(), lim) == "ok"
    assert classify(_ex(exit_code=1), lim) == "failed"
    assert classify(_ex(exit_code=None, signal=signal.SIGKILL, timed_out=True), lim) == "timeout"
    assert classify(_ex(exit_code=None, signal=signal.SIGXCPU), lim) == "timeout"
    assert classify(_ex(exit_code=1, stderr=b"Traceback...\nMemoryError\n"), lim) == "memory"
    assert classify(_ex(exit_code=None, signal=signal.SIGABRT, stderr=b"std::bad_alloc"), lim) == "memory"
    assert classify(_ex(exit_code=None, signal=signal.SIGKILL, peak_memory_mb=2040.0), lim) == "memory"
    assert classify(_ex(exit_code=None, signal=signal.SIGSEGV), lim) == "killed"
    assert classify(_ex(output_exceeded=True, timed_out=True), lim) == "output-limit"


def test_languages_and_aliases():
    for alias, name in [("py", "python"), ("js", "javascript"), ("ts", "typescript"), ("c++", "cpp"),
                        ("rs", "rust"), ("sh", "bash"), ("java", "java"), ("go", "go")]:
        assert LANGUAGES[alias].name == name
    with pytest.raises(InputError, match="unknown language 'cobol'"):
        get_language("cobol")
    assert set(STATUSES) >= {"ok", "failed", "timeout", "memory", "output-limit", "killed", "toolchain-missing",
                             "sandbox-error"}


def test_limits_override_only_what_is_set():
    lim = Limits(wall_s=1.5).over(get_language("go").defaults)
    assert lim.wall_s == 1.5 and lim.memory_mb == 2048 and lim.compile_wall_s == 60.0


def test_java_file_naming():
    assert java_classes("import java.util.*;\nclass Solution { int f() { return 1; } }\n"
                        "public class Main { public static void main(String[] a) { } }") == ("Main", "Main")
    assert java_classes("class Problem { static class Pair {} public static void main(String[] a) {} }") == \
        (None, "Problem")
    # braces and 'class' inside strings / comments do not confuse it
    assert java_classes('class A { String s = "class B {"; /* class C */ '
                        'public static void main(String[] x){} }')[1] == "A"


def test_missing_toolchain_is_not_a_model_failure(monkeypatch):
    lang = get_language("go")
    monkeypatch.setattr(Language, "missing_tools", lambda self: ["go"] if self is lang else [])
    r = run('package main\nfunc main() {}\n', "go")
    assert r.status == "toolchain-missing" and "golang-go" in r.detail
    assert toolchain_available("python")


def test_bad_extra_file_names():
    for bad in ("../x", "/etc/passwd", ".hidden"):
        with pytest.raises(InputError, match="relative path"):
            run("print(1)", "python", files={bad: "x"})


@needs_bwrap
def test_run_basics_stdin_args_files_and_unicode():
    r = run("import sys\nprint(sys.argv[1:], input()[::-1], open('data/in.txt').read())\n", "python",
            stdin="日本語\n", args=["a", "b"], files={"data/in.txt": "ファイル"})
    assert r.status == "ok", r.stderr
    assert r.stdout == "['a', 'b'] 語本日 ファイル\n"
    assert r.isolation == "bwrap" and r.exit_code == 0 and r.cpu_s >= 0 and r.peak_memory_mb > 0
    # invalid UTF-8 from the program is replaced, not a crash of the harness
    r = run("import sys\nsys.stdout.buffer.write(b'\\xff\\xfeok')\n", "python")
    assert r.status == "ok" and r.stdout.endswith("ok")
    r = run("", "python")  # empty program
    assert r.status == "ok" and r.stdout == ""
    r = run("def f(:\n", "python")
    assert r.status == "failed" and "SyntaxError" in r.stderr


@needs_bwrap
def test_run_many_keeps_order_and_keys():
    jobs = [Job(f"print({i})", "python", key=f"k{i}") for i in range(12)]
    jobs.insert(3, Job("echo shell", "bash", key="sh"))
    res = run_many(jobs, workers=3)
    assert [r.key for r in res] == [j.key for j in jobs]
    assert [r.stdout for r in res][:3] == ["0\n", "1\n", "2\n"] and res[3].stdout == "shell\n"


@needs_bwrap
def test_compile_cache_and_compile_errors():
    src = '#include <cstdio>\nint main(){ puts("cached"); }\n'
    first, second = run(src, "cpp"), run(src, "cpp")
    assert first.status == second.status == "ok" and second.compile_status == "cached-ok"
    bad = run("int main( { }", "cpp")
    assert bad.status == "failed" and bad.compile_status in ("failed", "cached-failed")
    assert "error" in bad.compile_stderr
    assert bad.exit_code is None  # never ran


def test_cli_json_exit_zero_whatever_the_program_did(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("import sys\nprint('out')\nsys.exit(4)\n")
    res = CliRunner().invoke(app, ["sandbox", "run", "--lang", "py", str(prog), "--timeout", "5", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["status"] == "failed" and d["exit_code"] == 4 and d["stdout"] == "out\n"
    assert set(d) >= {"status", "exit_code", "stdout", "stderr", "stdout_truncated", "stderr_truncated", "wall_s",
                      "cpu_s", "peak_memory_mb", "isolation"}


def test_cli_bad_input(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"print('\xff')\n")
    # the root CLI turns these InputErrors into one line on stderr and exit code 2
    for argv, msg in [(["--lang", "py", str(bad), "--json"], "not valid UTF-8"),
                      (["--lang", "cobol", str(bad)], "unknown language"),
                      (["--lang", "py", str(tmp_path / "missing.py")], "not found")]:
        res = CliRunner().invoke(app, ["sandbox", "run", *argv])
        assert isinstance(res.exception, InputError) and res.exception.exit_code == 2, res.output
        assert msg in str(res.exception)


def test_require_isolation_refuses_without_bwrap(monkeypatch):
    import codeja.sandbox.isolation as iso

    monkeypatch.setattr(iso, "probe_bwrap", lambda: iso.Probe(False, "simulated: no user namespaces"))
    with pytest.raises(iso.IsolationUnavailable, match="simulated"):
        run("print(1)", "python", require_isolation=True)


def test_rlimit_fallback_warns_and_still_limits(monkeypatch):
    import codeja.sandbox.isolation as iso

    monkeypatch.setattr(iso, "probe_bwrap", lambda: iso.Probe(False, "simulated"))
    monkeypatch.setattr(iso, "_warned", False)
    with pytest.warns(RuntimeWarning, match="rlimits and a watchdog ONLY"):
        r = run("print('hi')", "python")
    assert r.status == "ok" and r.isolation == "rlimit" and r.stdout == "hi\n"
    r = run("while True:\n    pass\n", "python", limits=Limits(wall_s=1, cpu_s=1))
    assert r.status == "timeout"


def test_infra_failures_are_run_again(monkeypatch):
    """A sandbox that failed (not the program) is retried; the result says how many runs it took."""
    from codeja.sandbox import runner
    from codeja.sandbox.types import SandboxResult

    calls = []

    def flaky(job, isolation):
        calls.append(job.key)
        if len(calls) == 1:
            return SandboxResult(status="killed", detail="the program killed its sandbox (the zygote)", key=job.key)
        return SandboxResult(status="ok", exit_code=0, key=job.key)

    monkeypatch.setattr(runner, "_run_job", flaky)
    [r] = run_many([Job("print(1)", "python", key="a")], workers=1)
    assert (r.status, r.attempts, calls) == ("ok", 2, ["a", "a"])

    def broken(job, isolation):
        return SandboxResult(status="sandbox-error", detail="bwrap: cannot start", key=job.key)

    monkeypatch.setattr(runner, "_run_job", broken)
    [r] = run_many([Job("print(1)", "python")], workers=1, infra_retries=3)
    assert (r.status, r.attempts) == ("sandbox-error", 4)

    # the program's own failures are never retried
    monkeypatch.setattr(runner, "_run_job", lambda job, isolation: SandboxResult(status="killed", signal=11))
    [r] = run_many([Job("print(1)", "python")], workers=1)
    assert (r.status, r.attempts) == ("killed", 1)


@needs_bwrap
def test_program_cannot_kill_its_zygote():
    """The zygote is the sandbox's pid 1: signals from inside (SIGKILL included) do not reach it, so one program
    cannot take the next programs' sandbox down (and be retried as an infrastructure failure)."""
    from codeja.sandbox import runner

    r = run("import os, signal\nfor sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):\n"
            "    os.kill(os.getppid(), sig)\n    os.kill(1, sig)\nprint(os.getppid())\n", "python")
    assert (r.status, r.stdout, r.attempts) == ("ok", "1\n", 1), (r.status, r.detail, r.stderr)
    starts = sum(s.zygote.starts for s in runner._all_slots if s.zygote)
    assert run("print('next')\n", "python").stdout == "next\n"
    assert sum(s.zygote.starts for s in runner._all_slots if s.zygote) == starts  # the same zygote served it


@needs_bwrap
def test_python_runs_without_the_zygote_where_it_cannot_start(monkeypatch):
    """A host where the zygote cannot run (a setuid bwrap refusing --cap-add, mounts denied...): Python programs
    get a fresh bwrap each, as the other languages do, instead of failing."""
    from codeja.sandbox import runner
    from codeja.sandbox import zygote as zygote_mod

    runner.shutdown()
    monkeypatch.setattr(zygote_mod, "_SERVER", "import sys\nsys.exit(1)\n")
    monkeypatch.setattr(runner, "_zygote_unusable", None)
    try:
        r = run("import sys\nprint(sys.argv[0], input())\n", "python", stdin="x")
        assert (r.status, r.stdout) == ("ok", "/box/main.py x\n") and "did not start" in runner._zygote_unusable
    finally:
        runner.shutdown()
