"""`eval compare`: codeja version and commit, data hashes and each decoding setting are score-moving."""

from __future__ import annotations

import json

import pytest

from codeja.evaluate.benchmarks import get_benchmark
from codeja.evaluate.compare import ManifestMismatch, build_comparison, compare
from codeja.evaluate.config import ScoringConfig
from codeja.evaluate.runner import score_samples
from codeja.io import write_jsonl


def _cell(root, model, **manifest):
    cell = root / model / "humaneval"
    cell.mkdir(parents=True)
    (cell / "results.json").write_text(json.dumps({"benchmark": "humaneval", "metric": "pass@1",
                                                   "pass@1": 0.5, "n_tasks": 4, "sanitizer_id": "codeja@2"}))
    base = {"model": {"name": model}, "codeja_version": "0.1.0", "git_commit": "abc",
            "benchmark": {"source": {"hub_id": "openai/openai_humaneval", "revision": None, "config": None,
                                     "path": f"/home/{model}/HumanEval.jsonl.gz", "sha256": "d" * 64}},
            "generation": {"temperature": 0.0, "max_new_tokens": 96, "prompt_tail": "strip"}}
    for key, value in manifest.items():  # dotted keys override
        d = base
        *head, last = key.split(".")
        for h in head:
            d = d.setdefault(h, {})
        if value is None:
            d.pop(last, None)
        else:
            d[last] = value
    (cell / "manifest.json").write_text(json.dumps(base))
    return cell


def _keys(tmp_path, **b_manifest):
    _cell(tmp_path, "a")
    _cell(tmp_path, "b", **b_manifest)
    return [d["key"] for d in build_comparison([tmp_path])["manifest_differences"]]


def test_identical_runs_on_different_machines_rank(tmp_path):
    # only the data's path differs (each machine keeps the package elsewhere): same data, nothing to flag
    assert _keys(tmp_path) == []
    compare([tmp_path])


@pytest.mark.parametrize("key,value", [
    ("git_commit", "def"), ("codeja_version", "0.2.0"), ("benchmark.source.sha256", "e" * 64),
    ("benchmark.source.revision", "7dce605"), ("generation.prompt_tail", "keep"),
    ("generation.max_new_tokens", 384),
])
def test_each_score_moving_field_is_named_and_blocks_ranking(tmp_path, key, value):
    assert _keys(tmp_path, **{key: value}) == [key]
    with pytest.raises(ManifestMismatch, match="pass --force"):
        compare([tmp_path])
    assert compare([tmp_path], force=True)["models"] == ["a", "b"]


def test_prompt_tail_label_and_manifests_written_before_the_field_existed(tmp_path):
    _cell(tmp_path / "new", "a", **{"generation.prompt_tail": "keep"})
    _cell(tmp_path / "old", "b", **{"generation.prompt_tail": None})  # an old run: it sent the raw prompt
    assert build_comparison([tmp_path / "new", tmp_path / "old"])["manifest_differences"] == []
    _cell(tmp_path / "strip", "c")
    diffs = build_comparison([tmp_path / "strip", tmp_path / "old"])["manifest_differences"]
    assert [(d["key"], d["values"]) for d in diffs] == [("generation.prompt_tail",
                                                          {"c": "strip", "b": "keep"})]
    assert "trailing whitespace" in diffs[0]["what"]


def test_a_scored_cell_records_the_data_hash_and_the_commit(tmp_path):
    bench = get_benchmark("humaneval", limit=1)
    write_jsonl(tmp_path / "s.jsonl", bench.canonical_samples())
    score_samples(bench, tmp_path / "s.jsonl", tmp_path / "out", ScoringConfig(sanitizer="none", bootstrap=0))
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert man["benchmark"]["source"]["sha256"] == bench.source.sha256 and len(bench.source.sha256) == 64
    assert "git_commit" in man and man["codeja_version"]
