"""`codeja eval selfcheck`: references pass, known-wrong samples fail, each exception explained or flagged."""

from __future__ import annotations

import gzip
import json

import pytest

from codeja.cli import main as codeja_main
from codeja.errors import InputError
from codeja.evaluate.selfcheck import check_benchmark, selfcheck, to_json, to_markdown
from codeja.paths import benchmark_file
from codeja.sandbox import toolchain_available

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def _jhumaneval_rows(*ids: str) -> list[dict]:
    with gzip.open(benchmark_file("jhumaneval/jhuman-eval.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [r for r in map(json.loads, f) if r["task_id"] in ids]


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_references_pass_and_a_declared_upstream_failure_is_explained(tmp_path):
    data = _write(tmp_path / "j.jsonl", _jhumaneval_rows("JHumanEval/0", "JHumanEval/64"))
    r = check_benchmark("jhumaneval", path=data)
    assert (r.check, r.passed, r.total, r.ok) == ("reference", 1, 2, True)
    assert list(r.exceptions) == ["JHumanEval/64"] and "not valid Python" in r.exceptions["JHumanEval/64"]


def test_a_reference_that_fails_for_no_known_reason_fails_the_check(tmp_path):
    rows = _jhumaneval_rows("JHumanEval/0", "JHumanEval/1")
    rows[1]["canonical_solution"] = "    return []\n"  # wrong
    r = check_benchmark("jhumaneval", path=_write(tmp_path / "j.jsonl", rows))
    assert r.passed == 1 and not r.ok and r.unexplained == ["JHumanEval/1"]
    assert r.exceptions["JHumanEval/1"].startswith("UNEXPLAINED: reference failed (status failed")


def test_without_references_a_known_wrong_sample_must_fail(tmp_path):
    if not toolchain_available("bash"):
        pytest.skip("bash toolchain missing")
    rows = [json.loads(x) for x in benchmark_file("multipl-e_via_deepseek-coder/humaneval-sh.jsonl")
            .read_text(encoding="utf-8").splitlines()[:3]]
    r = check_benchmark("multiple-sh", path=_write(tmp_path / "sh.jsonl", rows))
    assert (r.check, r.passed, r.total, r.ok) == ("known-wrong", 0, 3, True)
    # a test suite that accepts anything is caught: the empty body "passes" it
    rows[0]["tests"] = "}\n\ncandidate() {\n    true\n}\n"
    r = check_benchmark("multiple-sh", path=_write(tmp_path / "sh.jsonl", rows))
    assert r.passed == 1 and r.unexplained == [rows[0]["name"]]
    assert "known-wrong sample passed" in r.exceptions[rows[0]["name"]]


def test_a_missing_toolchain_is_explained_never_counted(tmp_path, monkeypatch):
    from codeja.evaluate import runner
    from codeja.sandbox.types import SandboxResult

    def no_toolchain(bench, programs, **_):
        import hashlib

        missing = SandboxResult(status="toolchain-missing", detail="go: not found")
        return {hashlib.sha256(p.encode()).hexdigest(): missing for _, p in programs}

    monkeypatch.setattr(runner, "execute", no_toolchain)
    r = check_benchmark("humanevalfix-go", limit=2)
    assert r.passed == 0 and r.ok and r.statuses == {"toolchain-missing": 2}
    assert set(r.exceptions.values()) == {"toolchain-missing: go: not found"}


def test_hub_only_data_is_reported_unavailable_and_a_local_copy_is_checked():
    r = check_benchmark("canitedit")
    assert (r.check, r.total, r.ok) == ("unavailable", 0, True) and "hub only" in r.exceptions["*"]
    r = check_benchmark("canitedit", path=str(FIXTURES / "canitedit_small.jsonl"))
    assert (r.check, r.passed, r.total, r.ok) == ("reference", 4, 4, True)


def test_json_is_one_object_name_to_counts_and_the_table_lists_exceptions(tmp_path):
    results = selfcheck(["niilc", "humaneval"], limit=3)
    obj = json.loads(to_json(results))
    assert list(obj) == ["niilc", "humaneval"]
    assert {k: obj["humaneval"][k] for k in ("passed", "total", "exceptions")} == {"passed": 3, "total": 3,
                                                                                   "exceptions": {}}
    assert obj["niilc"]["passed"] == 3 and obj["niilc"]["check"] == "reference"
    assert "| humaneval | reference | 3 | 3 |" in to_markdown(results)


def test_unknown_benchmark_is_an_error_before_anything_runs():
    with pytest.raises(InputError, match="did you mean 'humaneval'"):
        selfcheck(["humaneva"])


def test_cli_json_and_exit_codes(tmp_path, capsys):
    assert codeja_main(["eval", "selfcheck", "-b", "humaneval", "--limit", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["humaneval"]["passed"] == 2 and out["humaneval"]["total"] == 2
    rows = _jhumaneval_rows("JHumanEval/1")
    rows[0]["canonical_solution"] = "    return []\n"
    data = _write(tmp_path / "bad.jsonl", rows)
    assert codeja_main(["eval", "selfcheck", "-b", "jhumaneval", "--data", f"jhumaneval={data}"]) == 1
    captured = capsys.readouterr()
    assert "UNEXPLAINED" in captured.out and "unexplained exceptions in jhumaneval" in captured.err
    assert codeja_main(["eval", "selfcheck", "-b", "humaneval", "--data", "oops"]) == 2
    assert "--data: expected NAME=PATH" in capsys.readouterr().err


def test_probes_are_the_positive_control_of_a_known_wrong_check(monkeypatch):
    """MultiPL-E's hand-written probes must pass / fail as declared; one that does not is unexplained."""
    if not toolchain_available("bash"):
        pytest.skip("bash toolchain missing")
    from codeja.evaluate.benchmarks.multiple import MultiPLE

    r = check_benchmark("multiple-sh", limit=2)
    assert (r.check, r.passed, r.total, r.probes, r.probes_ok, r.ok) == ("known-wrong", 0, 2, 2, 2, True)
    assert json.loads(to_json([r]))["multiple-sh"]["probes"] == "2/2"
    monkeypatch.setattr(MultiPLE, "probe_samples", lambda self: [
        {"task_id": "HumanEval_53_add", "completion": "    echo 0\n", "expect": "pass"}])
    r = check_benchmark("multiple-sh", limit=2)
    assert r.probes_ok == 0 and r.unexplained == ["probe HumanEval_53_add (expected to pass)"]
