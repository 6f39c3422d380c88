"""The red-team suite of issue 14: each class of attack on the sandbox, tried as a model-written program would,
fails. The programs live in ``attacks/`` (kept for checking a later sandbox against them); docs/sandbox.md maps
each class to its defence and to the tests here.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from codeja.sandbox import Job, Limits, probe_bwrap, run, run_many, runner
from codeja.sandbox import zygote as zygote_mod
from codeja.sandbox.process import Execution
from codeja.sandbox.seccomp import DENIED, SYSCALLS, filter_bytes

ATTACKS = Path(__file__).with_name("attacks")
pytestmark = pytest.mark.skipif(not probe_bwrap().ok, reason=f"bubblewrap unusable here: {probe_bwrap().reason}")
CGROUP = runner.resource_control() != "rlimit"
needs_cgroup = pytest.mark.skipif(not CGROUP, reason="no usable cgroup here: the rlimit mode is tested below")


def attack(name: str) -> str:
    return (ATTACKS / name).read_text(encoding="utf-8")


# -- 1. forged results through the sandbox's pid 1 -----------------------------------------------------------------


def test_ptrace_cannot_forge_a_reply():
    """The attack that made a failing program pass (and decided the next programs' results): attach to each
    process holding the reply pipe and make it write a forged reply. Every attach is refused; the failing
    program fails and the next programs on the slot get their own results."""
    rs = run_many([Job(attack("forge_reply_ptrace.py"), "python"), Job("print('second')", "python"),
                   Job("import sys\nsys.exit(3)\n", "python")], workers=1)
    assert [r.status for r in rs] == ["failed", "ok", "failed"], [(r.status, r.stdout, r.detail) for r in rs]
    assert "attached" not in rs[0].stdout and "nothing forged" in rs[0].stdout, rs[0].stdout
    assert "denied 1 " in rs[0].stdout  # the zygote is pid 1 (no bwrap init inside) and refuses it too
    assert rs[1].stdout == "second\n" and not any("FORGED" in r.stdout for r in rs)


def test_pid1_has_nothing_to_abuse():
    r = run(attack("pid1_probe.py"), "python")
    assert r.status == "ok", r.stderr
    assert "READ" not in r.stdout and "STOPPED" not in r.stdout, r.stdout
    assert "denied /proc/1/mem" in r.stdout and "ignored SIGSTOP 1" in r.stdout


SECCOMP_CPP = r"""#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
int main() {
    char a[8] = "secret", b[8] = {0};
    iovec local{b, 8}, remote{a, 8};
    long r1 = ptrace(PTRACE_TRACEME, 0, nullptr, nullptr); int e1 = errno;
    long r2 = process_vm_readv(getpid(), &local, 1, &remote, 1, 0); int e2 = errno;
    long r3 = syscall(SYS_keyctl, 0, 0, 0, 0, 0); int e3 = errno;
    long r4 = syscall(SYS_io_uring_setup, 1, nullptr); int e4 = errno;
    std::printf("%ld %d %ld %d %ld %d %ld %d\n", r1, e1 == EPERM, r2, e2 == EPERM, r3, e3 == EPERM, r4, e4 == EPERM);
}
"""


def test_seccomp_blocks_process_inspection_in_every_language():
    """The filter is bwrap's, so it holds for compiled programs as for the Python zygote's."""
    r = run(SECCOMP_CPP, "cpp")
    assert r.status == "ok" and r.stdout.split() == ["-1", "1"] * 4, (r.stdout, r.compile_stderr[-400:])
    r = run("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print(libc.ptrace(0, 0, 0, 0), ctypes.get_errno() == 1)\n", "python")
    assert r.stdout.split() == ["-1", "True"], r.stdout


def test_seccomp_filter_shape():
    for machine, numbers in SYSCALLS.items():
        prog = filter_bytes(machine)
        assert set(numbers) == set(DENIED) and len(prog) % 8 == 0
        # arch check, one compare per denied syscall, allow and deny (+ the x32 guard on x86_64)
        assert len(prog) // 8 == 4 + len(DENIED) + 2 + (2 if machine == "x86_64" else 0)
    assert filter_bytes("mips") is None


# a fake zygote for the harness: (what it does, the detail expected in the result)
FAKE_ZYGOTES = {
    # floods the reply pipe with replies, never reading a request: must neither hang nor be believed
    "flood": ("""import sys
sys.stdout.write('{"ready": true}\\n'); sys.stdout.flush()
line = '{"nonce": "0", "started": true, "exit_code": 0, "stdout_bytes": 0, "stderr_bytes": 0}\\n'
while True:
    sys.stdout.write(line * 1000); sys.stdout.flush()
""", "did not verify"),
    # answers with the right nonce, then a second, forged reply for the next program
    "two-replies": ("""import json, sys
sys.stdout.write('{"ready": true}\\n'); sys.stdout.flush()
ctl = json.loads(sys.stdin.readline())
rep = {"started": True, "exit_code": 0, "signal": None, "timed_out": False, "wall_s": 0.0, "cpu_s": 0.0,
       "peak_memory_mb": 0.0, "stdout_bytes": 0, "stderr_bytes": 0, "stdout_truncated": False,
       "stderr_truncated": False, "leftover": 0, "clean": True}
sys.stdout.write(json.dumps({**rep, "nonce": ctl["nonce"]}) + "\\n" + json.dumps({**rep, "nonce": "x"}) + "\\n")
sys.stdout.flush()
sys.stdin.readline()
""", "did not verify"),
    # announces more output than it sends
    "short-body": ("""import json, sys
sys.stdout.write('{"ready": true}\\n'); sys.stdout.flush()
ctl = json.loads(sys.stdin.readline())
sys.stdout.write(json.dumps({"nonce": ctl["nonce"], "started": True, "stdout_bytes": 100, "stderr_bytes": 0})
                 + "\\nshort")
sys.stdout.flush()
sys.stdin.readline()
""", "did not verify"),
    # never reads its pipes: the request (bigger than a pipe buffer) cannot be written
    "deaf": ("""import sys, time
sys.stdout.write('{"ready": true}\\n'); sys.stdout.flush()
time.sleep(600)
""", "did not take the request"),
}


@pytest.mark.parametrize("behaviour", sorted(FAKE_ZYGOTES))
def test_harness_survives_a_lying_or_stuck_zygote(monkeypatch, behaviour):
    """Every read and write on the zygote's pipes has a deadline, and only the reply carrying this request's nonce,
    alone on the pipe, is believed."""
    server, detail = FAKE_ZYGOTES[behaviour]
    monkeypatch.setattr(zygote_mod, "_SERVER", server)
    monkeypatch.setattr(zygote_mod, "PIPE_S", 2.0)
    monkeypatch.setattr(zygote_mod, "SETUP_S", 1.0)
    z = zygote_mod.PythonZygote(None)
    big = behaviour == "deaf"  # the others do not read the request pipe either, so theirs fits in its buffer
    req = {"source": "x" * ((1 << 20) if big else 10), "stdin": None, "args": [], "files": {}, "env": {},
           "limits": {"wall_s": 1.0, "output_bytes": 1024}}
    t0 = time.monotonic()
    try:
        reply = z.run(req)
        assert detail in reply["detail"] and reply["exit_code"] is None, reply
    except zygote_mod.ZygoteDied as e:
        assert detail in str(e)
    finally:
        z.close()
    assert time.monotonic() - t0 < 15


# -- 2. earlier programs readable in memory ------------------------------------------------------------------------


def test_no_earlier_program_in_a_later_programs_memory():
    """A program with a secret in its source, its stdin and its stdout; then, on the same worker (same zygote), a
    program that searches its whole address space for them. Its own stdin is a control: it must be found."""
    src, stdin, own = (uuid.uuid4().hex for _ in range(3))
    first = Job(f'SECRET = "{src}"\nprint(input()[::-1])\n', "python", stdin=stdin)
    args = []
    for name, token in (("source", src), ("stdin", stdin), ("stdout", stdin[::-1]), ("own-stdin", own)):
        args += [name, token[:16], token[16:]]
    rs = run_many([first, Job(attack("memory_scan.py"), "python", stdin=own, args=args)], workers=1)
    assert [r.status for r in rs] == ["ok", "ok"], rs[1].stderr
    assert rs[0].stdout == stdin[::-1] + "\n"
    assert rs[1].stdout.split("\n")[:4] == ["clean source", "clean stdin", "clean stdout", "found own-stdin"]


# -- 3. state carried across programs ------------------------------------------------------------------------------


def test_nothing_carries_over_to_the_next_program():
    tag = f"t{uuid.uuid4().hex[:10]}"
    code = attack("carry_over.py")
    planted, seen = run_many([Job(code, "python", args=["plant", tag]), Job(code, "python", args=["look", tag])],
                             workers=1)
    assert planted.status == seen.status == "ok", (planted.stderr, seen.stderr)
    # it could make them (its own tmpfs, its own IPC namespace), except in /dev and the keyring
    for what in (f"/tmp/{tag}", f"./{tag}", f"/dev/shm/{tag}", "shm", "sem", "msg", "mqueue"):
        assert f"planted {what}\n" in planted.stdout, planted.stdout
    assert f"denied /dev/{tag}" in planted.stdout and "denied keyring" in planted.stdout
    assert "found" not in seen.stdout, seen.stdout
    assert "sysv shm 0\nsysv sem 0\nsysv msg 0\n" in seen.stdout


# -- 4. the memory limit is the program's, not each process's -----------------------------------------------------

BIG = Limits(memory_mb=256, wall_s=20, cpu_s=20, file_size_mb=1024, tmpfs_mb=1024)


@needs_cgroup
@pytest.mark.parametrize("how", [["fork", "6", "200"], ["tmpfs", "600"], ["memfd", "600"], ["sysv", "600"]],
                         ids=lambda a: a[0])
def test_memory_limit_holds_for_the_program_as_a_whole(how):
    """Six processes of 200 MB, or 600 MB in tmpfs, a memfd or SysV shared memory, under a 256 MB limit (rlimits
    and tmpfs sizes set out of the way): the cgroup stops each, and the peak reported is the total."""
    r = run(attack("memory_total.py"), "python", args=how, limits=BIG)
    assert r.status == "memory", (r.status, r.stdout, r.stderr[-300:], r.detail)
    assert 200 <= r.peak_memory_mb <= 256 * 1.05, r.peak_memory_mb


@needs_cgroup
def test_memory_limit_holds_for_compiled_programs_too():
    src = """#include <unistd.h>
#include <sys/wait.h>
#include <cstring>
#include <cstdlib>
int main() { for (int i = 0; i < 6; ++i) if (fork() == 0) { char* p = (char*)malloc(200 << 20);
  memset(p, 1, 200 << 20); sleep(3); return 0; }
  while (wait(nullptr) > 0) {} return 0; }
"""
    r = run(src, "cpp", limits=BIG)
    assert r.status == "memory" and r.peak_memory_mb <= 256 * 1.05, (r.status, r.peak_memory_mb, r.compile_stderr)


def test_without_cgroups_results_say_the_limit_is_per_process(monkeypatch):
    """The rlimit fallback: each process is held to the limit, the program as a whole is not, and every result
    (and the manifest's sandbox description) says so."""
    from codeja.sandbox import cgroups, describe

    runner.shutdown()
    monkeypatch.setattr(cgroups, "host_selection", lambda: cgroups.Selection("rlimit", reason="test"))
    monkeypatch.setattr(runner, "host_selection", lambda: cgroups.Selection("rlimit", reason="test"))
    try:
        r = run(attack("memory_total.py"), "python", args=["fork", "3", "100"], limits=replace(BIG, memory_mb=128))
        assert r.resource_control == "rlimit" and r.status == "ok" and "held 300" in r.stdout
        d = describe()
        assert d["resource_control"] == "rlimit" and any("per process" in w for w in d["weaker"])
    finally:
        runner.shutdown()


# -- 5. the host's disk and RAM through files and compile steps ----------------------------------------------------


def test_work_dir_and_tmp_are_sized_ram_not_host_disk():
    r = run(attack("disk_fill.sh"), "bash", limits=Limits(memory_mb=256, wall_s=20, cpu_s=20, tmpfs_mb=256))
    assert "fs . tmpfs" in r.stdout and r.status in ("memory", "ok"), (r.status, r.stdout, r.stderr[-300:])
    for line in r.stdout.splitlines():
        if line.startswith("wrote"):
            assert int(line.split()[-1]) <= 256, line  # 50 MB files stop at the tmpfs size (or the memory limit)
    cpp = ('#include <sys/vfs.h>\n#include <cstdio>\nint main() { struct statfs s; statfs(".", &s);\n'
           '  std::printf("%lx\\n", (unsigned long)s.f_type); }\n')
    r = run(cpp, "cpp")
    assert r.stdout.strip() == "1021994", r.stdout  # TMPFS_MAGIC: a compiled program's /box is RAM too


def test_compile_steps_run_under_the_programs_limits():
    t0 = time.monotonic()
    r = run(attack("include_dev_zero.cpp"), "cpp", limits=Limits(memory_mb=512))
    assert r.status == "memory" and r.compile_status in ("memory", "cached-memory"), (r.status, r.compile_stderr)
    assert time.monotonic() - t0 < 30
    r = run(attack("constexpr_bomb.cpp"), "cpp", limits=Limits(compile_wall_s=2))
    assert r.status == "timeout" and r.compile_status in ("timeout", "cached-timeout") and r.compile_wall_s < 5
    before = sum(p.stat().st_size for p in runner.cache_root().rglob("*") if p.is_file())
    r = run(attack("huge_binary.cpp"), "cpp", limits=Limits(memory_mb=2048))
    after = sum(p.stat().st_size for p in runner.cache_root().rglob("*") if p.is_file())
    assert r.status != "ok" and after - before < (64 << 20), (r.status, after - before)


def test_compile_timeouts_and_memory_failures_are_cached(monkeypatch, tmp_path):
    """A compile that used its CPU until the limit is cached as a timeout (reused under limits no larger); one
    starved by a loaded machine is not."""
    monkeypatch.setenv("CODEJA_SANDBOX_CACHE", str(tmp_path))
    calls = []

    def fake_exec(self, step, files, limits, lang, **kw):
        calls.append(kw["wall_s"])
        busy = "busy" in files["main.cpp"]
        return Execution(None, 9, b"", b"", False, False, kw["wall_s"], kw["wall_s"] if busy else 0.1, 10.0, True,
                         False)

    monkeypatch.setattr(runner._Runner, "_exec", fake_exec)
    for src, cached in (("int main(){} // busy", True), ("int main(){} // starved", False)):
        first = run(src, "cpp", limits=Limits(compile_wall_s=3))
        second = run(src, "cpp", limits=Limits(compile_wall_s=2))
        longer = run(src, "cpp", limits=Limits(compile_wall_s=6))
        assert first.status == second.status == longer.status == "timeout"
        assert second.compile_status == ("cached-timeout" if cached else "timeout")
        assert longer.compile_status == "timeout"  # more time than the cached outcome had: compiled again
    assert calls == [3, 6, 3, 2, 6]


# -- 6. exit 0 before the tests ran to their end -----------------------------------------------------------------

CHECK = "\n\ndef check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 9\n\ncheck(square)\n"
PY_EXITS = {
    "os._exit": "def square(x):\n    import os\n    os._exit(0)\n",
    "sys.exit": "def square(x):\n    import sys\n    sys.exit()\n",
    "SystemExit": "def square(x):\n    raise SystemExit(0)\n",
    "atexit": "def square(x):\n    import atexit, os\n    atexit.register(lambda: os._exit(0))\n    return 0\n",
    "top-level-exit": "def square(x):\n    return x + 1\n\nexit(0)\n",
}


@pytest.mark.parametrize("name", sorted(PY_EXITS))
def test_premature_exit_fails_python(name):
    bad = PY_EXITS[name] + CHECK
    assert run(bad, "python").status == "ok"  # the attack: exit code 0 alone would call it a pass
    r = run(bad, "python", end_marker=True)
    assert r.status == "failed" and r.end_reached is False and "before its end" in r.detail, (r.status, r.detail)
    good = run("def square(x):\n    return x * x\n" + CHECK + "print('done')\n", "python", end_marker=True)
    assert good.status == "ok" and good.end_reached and good.stdout == "done\n"  # the marker is not in stdout


# (language, correct, exiting early, tests)
LANG_EXITS = [
    ("javascript", "function f() { return 1; }\n", "function f() { process.exit(0); }\n",
     "const assert = require('assert');\nassert.strictEqual(f(), 1);\n"),
    ("typescript", "function f(): number { return 1; }\n",
     "function f(): number { (globalThis as any).process.exit(0); return 0; }\n",
     "declare var require: any;\nconst assert = require('node:assert');\nassert.deepEqual(f(), 1);\n"),
    ("bash", "f() { result=1; }\n", "f() { exit 0; }\n", "run_test() {\n  f\n  [[ $result = 1 ]]\n}\nrun_test\n"),
    ("cpp", "#include <cstdlib>\nint f() { return 1; }\n", "#include <cstdlib>\nint f() { exit(0); }\n",
     "#include <cassert>\nint main() {\n    assert(f() == 1);\n}\n"),
    ("java", "class Solution { int f() { return 1; } }\n",
     "class Solution { int f() { System.exit(0); return 0; } }\n",
     ("public class Main {\n    public static void main(String[] args) {\n"
      "        if (new Solution().f() != 1) throw new AssertionError();\n    }\n}\n")),
    ("go", "package main\n\nimport \"os\"\n\nfunc f() int { _ = os.Args; return 1 }\n",
     "package main\n\nimport \"os\"\n\nfunc f() int { os.Exit(0); return 0 }\n",
     "\nfunc main() {\n\tif f() != 1 {\n\t\tpanic(\"wrong\")\n\t}\n}\n"),
    ("go", "package main\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc f() int { _ = os.Args; return 1 }\n",
     "package main\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc f() int { os.Exit(0); return 0 }\n",
     "\nfunc TestF(t *testing.T) {\n\tif f() != 1 {\n\t\tt.Fatal(\"wrong\")\n\t}\n}\n"),
    ("rust", "fn f() -> i32 { 1 }\n", "fn f() -> i32 { std::process::exit(0) }\n",
     "fn main() {\n    assert_eq!(f(), 1);\n}\n"),
    ("rust", "fn f() -> i32 { 1 }\n", "fn f() -> i32 { std::process::exit(0) }\n",
     ("fn main() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n"
      "    #[test]\n    fn t() { assert_eq!(f(), 1); }\n}\n")),
]


@pytest.mark.slow
def test_premature_exit_fails_every_language():
    """In each language a wrong solution that exits with 0 before the tests end: without the end marker it passes
    (the attack), with it it fails; the correct solution passes with it (the marker stays out of stdout)."""
    from codeja.sandbox import toolchain_available

    cases = [c for c in LANG_EXITS if toolchain_available(c[0])]
    jobs = []
    for i, (lang, good, bad, test) in enumerate(cases):
        jobs += [Job(bad + test, lang, key=(i, "bad", False)),
                 Job(bad + test, lang, end_marker=True, key=(i, "bad", True)),
                 Job(good + test, lang, end_marker=True, key=(i, "good", True))]
    results = {r.key: r for r in run_many(jobs, workers=2)}
    for i, (lang, *_rest) in enumerate(cases):
        bad_plain, bad_marked, good = results[i, "bad", False], results[i, "bad", True], results[i, "good", True]
        if "testing" not in _rest[1]:  # go test binaries: -test.paniconexit0 (what `go test` passes) catches it
            assert bad_plain.status == "ok", (lang, bad_plain.status, bad_plain.stderr[-300:])
        assert bad_marked.status == "failed" and bad_marked.end_reached is False, (lang, bad_marked.status)
        assert good.status == "ok" and good.end_reached, (lang, good.status, good.stderr[-300:], good.compile_stderr)


def test_premature_exit_scores_zero_in_evaluation(tmp_path):
    """End to end through ``eval score``: wrong HumanEval completions that exit early score 0 under every
    sanitizer (before: 1.0)."""
    from codeja.evaluate.config import ScoringConfig
    from codeja.evaluate.runner import score_samples
    from codeja.io import write_jsonl

    exits = ["    import os\n    os._exit(0)\n", "    import sys\n    sys.exit()\n", "    raise SystemExit(0)\n",
             "    import atexit, os\n    atexit.register(lambda: os._exit(0))\n    return []\n",
             "    return []\n\nexit(0)\n"]
    rows = [{"task_id": "HumanEval/0", "completion": c} for c in exits]
    write_jsonl(tmp_path / "s.jsonl", rows)
    res = score_samples("humaneval", tmp_path / "s.jsonl", tmp_path / "out",
                        ScoringConfig(sanitizer="none,bigcode", bootstrap=0), limit=1)
    for sid, v in res["by_sanitizer"].items():
        assert v["pass@1"] == 0.0, (sid, v["statuses"])
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["execution"]["sandbox"]["isolation"] == "bwrap"


# MultiPL-E's script languages, assembled as `eval` assembles them: (correct body, body exiting 0 early) of add
MULTIPLE_EXITS = {"lua": ("    return x + y\nend\n", "    os.exit(0)\nend\n"),
                  "php": ("    return $x + $y;\n}\n", "    exit(0);\n}\n"),
                  "pl": ("    return $x + $y;\n}\n", "    exit(0);\n}\n"),
                  "r": ("    x + y\n}\n", "    quit(status = 0)\n}\n"),
                  "rb": ("    x + y\nend\n", "    exit!(0)\nend\n"),
                  "rkt": ("  (+ x y))\n", "  (exit 0))\n")}


@pytest.mark.slow
def test_premature_exit_fails_multiple_languages():
    from codeja.evaluate.benchmarks import get_benchmark
    from codeja.sandbox import toolchain_available

    jobs = []
    for key, (good, bad) in MULTIPLE_EXITS.items():
        bench = get_benchmark(f"multiple-{key}")
        task = bench.task("HumanEval_53_add")
        if not toolchain_available(task.language):
            continue
        for kind, body in (("good", good), ("bad", bad)):
            jobs.append(Job(bench.program(task, task.prompt + body, closed=True), task.language, end_marker=True,
                            key=(key, kind)))
    assert jobs
    for r in run_many(jobs, workers=2):
        key, kind = r.key
        if kind == "good":
            assert r.status == "ok" and r.end_reached, (key, r.status, r.stdout[-300:], r.stderr[-300:])
        else:
            assert r.status == "failed" and not r.end_reached, (key, r.status, r.stdout[-300:])
