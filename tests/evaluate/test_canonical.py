"""Canonical solutions through the real sandbox: the benchmarks and program assembly are right when these pass.

Full-size runs go through the sandbox pool (slow); see docs/evaluation.md for the measured figures.
"""

from __future__ import annotations

import json

import pytest

from codeja.evaluate.benchmarks import get_benchmark
from codeja.evaluate.runner import score_samples
from codeja.io import write_jsonl
from codeja.sandbox import toolchain_available


def _score(tmp_path, name, sanitizer="none,codeja", limit=None, rows=None):
    bench = get_benchmark(name, limit=limit)
    write_jsonl(tmp_path / "s.jsonl", rows if rows is not None else bench.canonical_samples())
    return score_samples(bench, tmp_path / "s.jsonl", tmp_path / "out", sanitizer, bootstrap=0)


@pytest.mark.slow
def test_humaneval_canonical_is_1(tmp_path):
    res = _score(tmp_path, "humaneval", "all")
    assert res["by_sanitizer"]["none@1"]["pass@1"] == 1.0
    assert res["by_sanitizer"]["codeja@1"]["pass@1"] == 1.0
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
    assert res["by_sanitizer"]["codeja@1"]["pass@1"] == 1.0


@pytest.mark.slow
def test_humanevalfix_python_canonical_is_1(tmp_path):
    res = _score(tmp_path, "humanevalfix-python")
    assert res["by_sanitizer"]["none@1"]["pass@1"] == 1.0 and res["by_sanitizer"]["codeja@1"]["pass@1"] == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name,lang", [("humanevalfix-cpp", "cpp"), ("humanevalfix-java", "java")])
def test_humanevalfix_compiled_canonical_subset_is_1(tmp_path, name, lang):
    if not toolchain_available(lang):
        pytest.skip(f"{lang} toolchain not installed (make setup installs it)")
    res = _score(tmp_path, name, limit=20)
    assert res["by_sanitizer"]["none@1"]["pass@1"] == 1.0 and res["by_sanitizer"]["codeja@1"]["pass@1"] == 1.0


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
        "count() as isize", "count() as isize + 1").replace("${#1}", "$(( ${#1} + 1 ))").replace("len(myString)", "len(myString) + 1")
    rows = [{"task_id": task.task_id, "completion": STRLEN[name]}, {"task_id": task.task_id, "completion": wrong}]
    res = _score(tmp_path, name, rows=rows)
    for sid in ("none@1", "codeja@1"):
        assert res["by_sanitizer"][sid]["per_task"][task.task_id] == {"passed": 1, "n": 2}, sid
