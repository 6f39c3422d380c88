"""Canonical solutions through the real sandbox: the benchmarks and program assembly are right when these pass.

Full-size runs go through the sandbox pool (slow); see docs/evaluation.md for the measured figures.
"""

from __future__ import annotations

import json
import os

import pytest

from codeja.evaluate.benchmarks import get_benchmark
from codeja.evaluate.config import ScoringConfig
from codeja.evaluate.runner import score_samples
from codeja.io import write_jsonl
from codeja.paths import benchmark_file
from codeja.sandbox import toolchain_available


def _score(tmp_path, name, sanitizer="none,codeja", limit=None, rows=None):
    bench = get_benchmark(name, limit=limit)
    write_jsonl(tmp_path / "s.jsonl", rows if rows is not None else bench.canonical_samples())
    scoring = ScoringConfig(sanitizer=sanitizer, bootstrap=0)
    return score_samples(bench, tmp_path / "s.jsonl", tmp_path / "out", scoring)


@pytest.mark.slow
def test_humaneval_canonical_is_1(tmp_path):
    res = _score(tmp_path, "humaneval", "all")
    assert res["by_sanitizer"]["none@1"]["pass@1"] == 1.0
    assert res["by_sanitizer"]["codeja@2"]["pass@1"] == 1.0
    assert res["by_sanitizer"]["bigcode@2024-01"]["pass@1"] == 1.0
    # evalplus@0.3.1 drops the prompt's encode_shift, which HumanEval/50's original tests call (documented quirk)
    assert res["by_sanitizer"]["evalplus@0.3.1"]["pass@1"] == pytest.approx(163 / 164)


@pytest.mark.slow
def test_jhumaneval_canonical_is_163_of_164_task_64_broken(tmp_path):
    res = _score(tmp_path, "jhumaneval", "none,codeja")
    rows = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    failed = [r["task_id"] for r in rows if not r["verdicts"]["none@1"]["passed"]]
    assert failed == ["JHumanEval/64"]
    assert res["by_sanitizer"]["none@1"]["pass@1"] == pytest.approx(163 / 164)
    # codeja re-extracts vowels_count from the broken prompt (tree-sitter error recovery): 164/164
    assert res["by_sanitizer"]["codeja@2"]["pass@1"] == 1.0


@pytest.mark.slow
def test_humanevalfix_python_canonical_is_1(tmp_path):
    res = _score(tmp_path, "humanevalfix-python")
    assert res["by_sanitizer"]["none@1"]["pass@1"] == 1.0 and res["by_sanitizer"]["codeja@2"]["pass@1"] == 1.0


# Cold, a compiled language costs minutes of compiling for all 164 programs on 2 cores; by default every 8th task
# (21 per language, every problem shape seen, Go/32 and Rust/32 included) runs. CODEJA_EVAL_FULL=1 runs all 164
# (the figures in docs/evaluation.md; the sandbox's compile cache makes reruns fast).
FULL = os.environ.get("CODEJA_EVAL_FULL") == "1"
PACK_FAILS = {"humanevalfix-js": {"JavaScript/162"}}  # npm js-md5 is not in Debian (docs/evaluation.md)
# Go/95's reference stops after the second key of a map, and Go randomises map order: it fails about 1 run in 6
# (measured 6 of 40). Not an assembly problem, and not fixable without editing the reference (docs/evaluation.md).
PACK_FLAKY = {"humanevalfix-go": {"Go/95"}}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["humanevalfix-cpp", "humanevalfix-java", "humanevalfix-go", "humanevalfix-rust",
                                  "humanevalfix-js"])
def test_humanevalfix_canonical_passes(tmp_path, name):
    bench = get_benchmark(name)
    if not toolchain_available(bench.language):
        pytest.skip(f"{bench.language} toolchain not installed (make setup installs it)")
    rows = bench.canonical_samples()
    assert len(rows) == 164
    res = _score(tmp_path, name, rows=rows if FULL else rows[::8])
    expected_fail = PACK_FAILS.get(name, set()) & {r["task_id"] for r in (rows if FULL else rows[::8])}
    for sid in ("none@1", "codeja@2"):
        per_task = res["by_sanitizer"][sid]["per_task"]
        failed = {t for t, v in per_task.items() if v["n"] and not v["passed"]}
        assert expected_fail <= failed <= expected_fail | PACK_FLAKY.get(name, set()), (sid, sorted(failed))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["humanevalfix-go", "humanevalfix-rust"])
def test_humanevalfix_buggy_solutions_still_fail(tmp_path, name):
    """The assembly fixes (Go imports, Rust rand port) must not make wrong code pass: the bugs fail."""
    bench = get_benchmark(name)
    if not toolchain_available(bench.language):
        pytest.skip(f"{bench.language} toolchain not installed")
    lang = name.removeprefix("humanevalfix-")
    data = [json.loads(x) for x in benchmark_file(f"humanevalpack/{lang}/data/humanevalpack.jsonl").read_text(
        encoding="utf-8").splitlines() if x.strip()]
    picked = data[1::16]
    # the FixTests model path: a completion continuing the declaration (Go: no import block in it at all)
    rows = [{"task_id": r["task_id"], "completion": r["buggy_solution"]} for r in picked]
    rows += [{"task_id": r["task_id"], "completion": r["canonical_solution"]} for r in picked]
    res = _score(tmp_path, name, "none", rows=rows)
    assert all(v == {"passed": 1, "n": 2} for t, v in res["per_task"].items() if v["n"]), res["per_task"]


STRLEN = {
    "multiple-js": "  return string.length;\n}\n",
    "multiple-ts": "  return string.length;\n}\n",
    "multiple-cpp": "    return string.size();",
    "multiple-rs": "    string.chars().count() as isize",
    "multiple-sh": "    echo ${#1}",
    "multiple-go": "\treturn len(myString)\n}\n",
}


@pytest.mark.parametrize("name", sorted(STRLEN))
def test_multiple_program_assembly_with_handwritten_solutions(tmp_path, name):
    """MultiPL-E has no reference solutions: a correct and a wrong strlen per language check the assembly."""
    bench = get_benchmark(name)
    if not toolchain_available(bench.language):
        pytest.skip(f"{bench.language} toolchain not installed")
    task = next(t for t in bench.all_tasks if t.task_id == "HumanEval_23_strlen")
    wrong = STRLEN[name].replace("length", "length + 1").replace("size()", "size() + 1").replace(
        "count() as isize", "count() as isize + 1").replace("${#1}", "$(( ${#1} + 1 ))").replace(
        "len(myString)", "len(myString) + 1")
    rows = [{"task_id": task.task_id, "completion": STRLEN[name]}, {"task_id": task.task_id, "completion": wrong}]
    res = _score(tmp_path, name, rows=rows)
    for sid in ("none@1", "codeja@2"):
        assert res["by_sanitizer"][sid]["per_task"][task.task_id] == {"passed": 1, "n": 2}, sid
