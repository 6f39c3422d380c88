"""`codeja eval list`, and `eval score` on the sample layouts other harnesses write, with bad lines."""

from __future__ import annotations

import json

import pytest

from codeja.cli import main
from codeja.errors import InputError
from codeja.evaluate.benchmarks import get_benchmark
from codeja.evaluate.samples import read_samples


@pytest.fixture(scope="module")
def bench():
    return get_benchmark("humaneval", limit=3)


def test_eval_list_names_every_benchmark_with_data_and_toolchain(capsys):
    from codeja.evaluate.benchmarks import benchmark_names

    assert main(["eval", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert ([r["benchmark"] for r in rows] == benchmark_names()
            or {r["benchmark"] for r in rows} == set(benchmark_names()))
    he = next(r for r in rows if r["benchmark"] == "humaneval")
    assert he["tasks"] == 164 and he["languages"] == ["python"] and he["data"] == "present"
    assert he["toolchain"] == "present"
    for r in rows:  # every row says whether its data is here; a missing one says why
        assert r["data"] in ("present", "missing") and (r["data"] == "present" or r.get("data_error"))
    assert main(["eval", "list"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["benchmark", "tasks", "languages", "data", "toolchain"]


def test_evalplus_samples_folder(bench, tmp_path):
    for t in bench.tasks:
        d = tmp_path / "samples" / t.task_id.replace("/", "_")
        d.mkdir(parents=True)
        (d / "0.py").write_text(t.prompt + t.canonical, encoding="utf-8")
        (d / "1.py").write_text(t.prompt + "    return None\n", encoding="utf-8")
    samples, bad = read_samples(tmp_path / "samples", bench)
    assert not bad and len(samples) == 6
    assert {s["kind"] for s in samples} == {"solution"}
    assert [s["sample_index"] for s in samples[:2]] == [0, 1]


def test_bigcode_generations_json(bench, tmp_path):
    gens = [[t.prompt + t.canonical] for t in bench.tasks]
    p = tmp_path / "generations.json"
    p.write_text(json.dumps(gens), encoding="utf-8")
    samples, bad = read_samples(p, bench)
    assert [s["task_id"] for s in samples] == [t.task_id for t in bench.tasks] and not bad
    p.write_text(json.dumps(gens + [["x"]]), encoding="utf-8")
    with pytest.raises(InputError, match="4 task entries but humaneval has 3 tasks"):
        read_samples(p, bench)


def test_a_broken_line_is_an_error_naming_file_and_line(bench, tmp_path):
    p = tmp_path / "s.jsonl"
    good = [json.dumps({"task_id": t.task_id, "completion": t.canonical}) for t in bench.tasks]
    p.write_text("\n".join([good[0], '{"task_id": "HumanEval/1", "completion": ', good[2]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.jsonl:2: invalid JSON"):
        read_samples(p, bench)
    samples, bad = read_samples(p, bench, skip_bad_lines=True)
    assert len(samples) == 2 and [b["line"] for b in bad] == [2]


def test_eval_score_cli_exits_2_on_a_bad_line_and_reports_skipped_ones(bench, tmp_path, capsys):
    p = tmp_path / "s.jsonl"
    rows = [json.dumps({"task_id": t.task_id, "completion": t.canonical}) for t in bench.tasks]
    rows[1] = json.dumps({"task_id": "HumanEval/999", "completion": "x"})
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    argv = ["eval", "score", "-b", "humaneval", "--limit", "3", "-s", str(p), "-o", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{p}:2: field 'task_id': 'HumanEval/999' is not a task of humaneval" in err and "Traceback" not in err
    assert main([*argv, "--skip-bad-lines"]) == 0
    out = capsys.readouterr()
    res = json.loads(out.out[: out.out.rindex("}") + 1])
    assert res["counts"] == {"in": 3, "scored": 2, "quarantined": 1} and res["pass@1"] == 1.0
    assert f"skipped: {p}:2:" in out.err and "1 line(s) skipped" in out.err
