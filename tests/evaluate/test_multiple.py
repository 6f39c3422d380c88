"""MultiPL-E: every language whose data ships is registered and runs the way MultiPL-E's evaluator runs it.

Each language gets a known-correct and a known-wrong completion of one task (``MultiPLE.probe_samples``) through
the real sandbox: the correct one must pass and the wrong one (which compiles and runs) must fail. Julia and Swift
have no Debian package: without a hand-installed toolchain they must say ``toolchain-missing``, clearly.
"""

from __future__ import annotations

import json
import uuid

import pytest

from codeja.evaluate.benchmarks import benchmark_names, get_benchmark
from codeja.evaluate.benchmarks.multiple import FAILS_WHEN, MULTIPLE_LANGS, data_file
from codeja.evaluate.config import ScoringConfig
from codeja.evaluate.runner import score_samples
from codeja.io import write_jsonl
from codeja.sandbox import Job, SandboxResult, get_language, run, run_many, toolchain_available

NOT_IN_DEBIAN = {"julia", "swift"}
SLOW = {"scala", "typescript"}  # a JVM compiler / tsc per program: over 10 s on a 2-core machine


def test_every_language_whose_data_ships_is_registered():
    shipped = sorted(p.name[len("humaneval-"):-len(".jsonl")] for p in data_file("js").parent.glob("humaneval-*.jsonl"))
    assert len(shipped) == 18
    names = set(benchmark_names())
    for lang in [*shipped, "java-ja", "cpp-ja"]:
        assert f"multiple-{lang}" in names
        bench = get_benchmark(f"multiple-{lang}")
        assert len(bench.all_tasks) > 150 and bench.language == MULTIPLE_LANGS[lang]
        assert all(t.entry_point for t in bench.all_tasks), lang
        get_language(bench.language)  # a sandbox language exists for it
    assert set(FAILS_WHEN) <= set(MULTIPLE_LANGS.values())


def test_entry_points_where_the_last_prompt_line_does_not_name_the_function():
    for name, entry in (("multiple-pl", "add"), ("multiple-r", "add"), ("multiple-rkt", "add"),
                        ("multiple-cs", "Add"), ("multiple-lua", "add")):
        assert get_benchmark(name).task("HumanEval_53_add").entry_point == entry, name


def test_japanese_variants():
    bench = get_benchmark("multiple-java-ja")
    task = bench.task("HumanEval_23_strlen")
    assert "与えられた文字列の長さを返す" in task.prompt and "import org.javatuples.*;" in task.prompt
    assert bench.options["prompt_lang"] == "ja" and bench.source.hub_id == "github:to-aoki/humaneval_java_ja"
    assert get_benchmark("multiple-cpp-ja").language == "cpp"
    from codeja.errors import InputError

    with pytest.raises(InputError, match="no hub copy"):
        get_benchmark("multiple-java-ja", path="hub:nuprl/MultiPL-E")


@pytest.mark.parametrize("lang", [pytest.param(x, marks=pytest.mark.slow) if MULTIPLE_LANGS[x] in SLOW else x
                                  for x in MULTIPLE_LANGS])
def test_correct_completion_passes_and_wrong_one_fails(tmp_path, lang):
    bench = get_benchmark(f"multiple-{lang}")
    language = get_language(bench.language)
    if not language.available() and bench.language not in NOT_IN_DEBIAN:
        pytest.skip(f"{bench.language} toolchain not installed ({language.debian}; scripts/setup-system.sh)")
    probes = bench.probe_samples()
    write_jsonl(tmp_path / "s.jsonl", probes)
    score_samples(bench, tmp_path / "s.jsonl", tmp_path / "out",
                  ScoringConfig(sanitizer="none,codeja", bootstrap=0))
    rows = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for probe, row in zip(probes, rows):
        for sid, v in row["verdicts"].items():
            if not language.available():  # Julia / Swift without a hand-installed toolchain
                assert v["status"] == "toolchain-missing" and not v["passed"]
                assert "Debian 12 has no package" in v["detail"] and language.tools[0] in v["detail"]
            else:
                assert v["passed"] == (probe["expect"] == "pass"), (lang, sid, probe["expect"], v)


@pytest.mark.parametrize("lang", [pytest.param(x, marks=pytest.mark.slow) if MULTIPLE_LANGS[x] in SLOW else x
                                  for x in MULTIPLE_LANGS])
def test_known_wrong_sample_compiles_then_fails(lang):
    """``wrong_samples`` (what ``eval selfcheck`` runs): a body that compiles for any task and fails when run."""
    bench = get_benchmark(f"multiple-{lang}", limit=2)
    installed = toolchain_available(bench.language)
    if not installed and bench.language not in NOT_IN_DEBIAN:
        pytest.skip(f"{bench.language} toolchain not installed")
    rows = bench.wrong_samples()
    assert [r["task_id"] for r in rows] == [t.task_id for t in bench.tasks]
    jobs = [Job(bench.program(bench.task(r["task_id"]), bench.task(r["task_id"]).prompt + r["completion"],
                              closed=False), bench.language, key=r["task_id"]) for r in rows]
    for r in run_many(jobs, workers=2):
        assert not bench.passed(bench.task(r.key), r)
        if not installed:  # Julia / Swift without a hand-installed toolchain
            assert r.status == "toolchain-missing"
            continue
        assert r.compile_status in (None, "ok", "cached-ok"), (r.key, r.compile_stderr)
        assert r.status not in ("toolchain-missing", "sandbox-error")


def test_toolchain_missing_names_the_way_to_install(monkeypatch):
    from codeja.sandbox import languages

    julia = languages.LANGUAGES["julia"]
    monkeypatch.setattr(languages, "find_tool", lambda name: None)
    r = run('println("hi")', "julia")
    assert r.status == "toolchain-missing" and not r.passed
    assert r.detail.startswith("julia: julia not found; Debian 12 has no package for it: install Julia")
    assert julia.debian is None
    r = run("print 1;", "perl")  # a Debian toolchain names its package
    assert r.status == "toolchain-missing" and "install the Debian package(s) perl libtest-deep-perl" in r.detail


def _ok(stdout="", stderr=""):
    return SandboxResult(status="ok", exit_code=0, stdout=stdout, stderr=stderr)


@pytest.mark.parametrize(("lang", "result", "passed"), [
    ("csharp", _ok(stderr="Fail: \n  at System.Diagnostics.DefaultTraceListener.Fail (System.String message)"), False),
    ("csharp", _ok(stderr="Unhandled Exception:\nSystem.Exception"), False),
    ("csharp", _ok(stdout="Fail"), True),
    ("racket", _ok(stderr="--------------------\nFAILURE\n"), False),
    ("racket", _ok(stdout="anything"), True),
    ("scala", _ok(stderr="warning"), False),
    ("perl", _ok(stdout="ok!ERROR"), False),
    ("go", _ok(stdout="--- FAIL: TestX\nFAIL\n"), False),
    ("ruby", _ok(stderr="warning: something"), True),  # exit code only
    ("lua", SandboxResult(status="failed", exit_code=1), False),
])
def test_multiple_e_output_rules(lang, result, passed):
    """Where MultiPL-E's evaluator reads the output (Mono's Debug.Assert and rackunit exit 0 on failure)."""
    suffix = next(k for k, v in MULTIPLE_LANGS.items() if v == lang)
    bench = get_benchmark(f"multiple-{suffix}", limit=1)
    assert bench.passed(bench.tasks[0], result) is passed


JAVATUPLES_PROGRAM = """import org.javatuples.*;
import java.util.*;
class Problem {
    public static void main(String[] args) {
        Pair<Long, Long> p = Pair.with(1L, 2L);
        assert p.equals(Pair.with(1L, 2L)) && !p.equals(Pair.with(2L, 1L));
        assert p.toString().equals("[1, 2]") : p.toString();
        assert p.getValue0() == 1L && p.getValue1() == 2L && p.getSize() == 2;
        Triplet<Long, Long, String> t = p.add("x");
        assert t.getValue2().equals("x") && t.removeFrom2().equals(p);
        assert p.setAt0("a").getValue0().equals("a") && p.addAt0(0L).getValue0() == 0L;
        assert Pair.fromArray(new Integer[]{3, 4}).getValue1() == 4;
        assert Pair.with(1, 2).compareTo(Pair.with(1, 3)) < 0 && Pair.with(2, 0).compareTo(Pair.with(1, 9)) > 0;
        assert new HashSet<>(Arrays.asList(Pair.with(1, 2), Pair.with(1, 2))).size() == 1;
        assert Decade.fromCollection(Arrays.asList(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)).getValue(9).equals(9);
        assert Unit.with("u").contains("u") && Quartet.with(1, 2, 3, 4).indexOf(3) == 2;
        try { Pair.fromArray(new Integer[]{1}); assert false; } catch (IllegalArgumentException e) { }
        StringBuilder sb = new StringBuilder();
        for (Object o : Triplet.with(1, 2, 3)) sb.append(o);
        System.out.println(sb);
    }
}
"""


def test_javatuples_on_the_class_path_with_assertions_on():
    if not toolchain_available("java"):
        pytest.skip("java toolchain not installed")
    r = run(JAVATUPLES_PROGRAM, "java")
    assert r.status == "ok", r.compile_stderr + r.stderr
    assert r.stdout == "123\n"
    r = run(JAVATUPLES_PROGRAM.replace('"[1, 2]"', '"(1, 2)"'), "java")  # -ea: a failed assert fails the run
    assert r.status == "failed" and "AssertionError: [1, 2]" in r.stderr


def test_rlimit_mode_maps_class_paths_and_output_options(monkeypatch):
    """Without bubblewrap the sandbox paths in ``-cp /build:<lib>`` and ``-out:/build/x`` become host paths."""
    import codeja.sandbox.isolation as iso

    langs = [x for x in ("java", "csharp") if toolchain_available(x)]
    if not langs:
        pytest.skip("no java or mono toolchain")
    monkeypatch.setattr(iso, "probe_bwrap", lambda: iso.Probe(False, "simulated"))
    monkeypatch.setattr(iso, "_warned", True)
    fresh = f"// {uuid.uuid4()}: compiled now, not taken from the compile cache\n"
    src = {"java": fresh + JAVATUPLES_PROGRAM.replace("Triplet.with(1, 2, 3)", "Triplet.with(3, 2, 1)"),
           "csharp": fresh + 'class P { static void Main() { System.Console.WriteLine("321"); } }'}
    for r in run_many([Job(src[x], x) for x in langs], workers=1):
        assert r.isolation == "rlimit" and r.status == "ok" and r.stdout == "321\n", r.compile_stderr + r.stderr
