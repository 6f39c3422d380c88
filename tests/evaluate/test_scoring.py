"""Scoring: pass@k, bootstrap CIs, QA metrics, sample reading with bad input, results/manifest layout, compare."""

from __future__ import annotations

import json
import math

import pytest

from codeja.codeparse import parses
from codeja.config import load_config
from codeja.errors import ConfigError, InputError
from codeja.evaluate.benchmarks import get_benchmark
from codeja.evaluate.compare import ManifestMismatch, build_comparison, compare, write_comparison
from codeja.evaluate.config import EvalConfig, ScoringConfig
from codeja.evaluate.metrics import bootstrap_ci, char_f1, fuzzy_token_sort_ratio, health, pass_at_k, qa_scores
from codeja.evaluate.runner import read_samples, score_samples
from codeja.io import write_jsonl

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def test_pass_at_k_matches_the_closed_form():
    for n, c, k in [(10, 3, 1), (10, 3, 5), (20, 0, 1), (5, 5, 5), (200, 17, 10)]:
        expected = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(expected)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 10)


def test_bootstrap_is_seeded_and_brackets_the_mean():
    vals = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1] * 5
    a, b = bootstrap_ci(vals, seed=7), bootstrap_ci(vals, seed=7)
    assert a == b and a[0] < 0.6 < a[1]
    assert bootstrap_ci(vals, seed=8) != a
    assert bootstrap_ci([1.0, 1.0], resamples=0) == (1.0, 1.0)


def test_qa_metrics_niilc():
    assert qa_scores("東京\n\n以上", ["東京"])["exact_match"] == 1.0
    s = qa_scores("東京都", ["東京"])
    assert s["exact_match"] == 0.0 and 0.7 < s["char_f1"] < 1.0
    assert fuzzy_token_sort_ratio("東京都", "東京") == 0.8  # what Swallow publishes as char_f1
    assert char_f1("abc", "xyz") == 0.0
    assert qa_scores("ＡＢＣ", ["ABC"])["exact_match"] == 1.0  # NFKC


def test_health_metrics():
    samples = [{"raw": "    # TODO: implement this function\n    pass\n", "completion_tokens": 10,
                "finish_reason": "stop"},
               {"raw": "    return x + 1\n", "completion_tokens": 30, "finish_reason": "length"},
               {"raw": "申し訳ありませんが、お答えできません。", "completion_tokens": 20, "finish_reason": "stop"},
               {"raw": "    ...\n"}]
    h = health(samples)
    assert h["placeholder_share"] == 0.5
    assert h["mean_output_tokens"] == 20 and h["truncation_rate"] == pytest.approx(1 / 3)
    assert h["refusal_rate"] == 0.25


def test_read_samples_quarantines_bad_lines(tmp_path):
    bench = get_benchmark("humaneval", limit=3)
    p = tmp_path / "s.jsonl"
    good = json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"})
    p.write_bytes(b"\n".join([
        good.encode(), b"{not json", b'{"task_id": "HumanEval/0"}', b'{"task_id": "Nope/1", "completion": "x"}',
        b'{"task_id": 3, "completion": "x"}', b'{"task_id": "HumanEval/1", "solution": "\xff\xfe"}',
        b"[1, 2]"]) + b"\n")
    samples, bad = read_samples(p, bench, skip_bad_lines=True)
    assert len(samples) == 1 and len(bad) == 6
    reasons = " | ".join(b["reason"] for b in bad)
    assert "invalid JSON" in reasons and "invalid UTF-8" in reasons and "Nope/1" in reasons
    assert "'completion' or 'solution'" in reasons
    assert all("line" in b for b in bad)


def test_no_usable_samples_is_a_clear_error(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text('{"task_id": "HumanEval/0"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.jsonl.*no usable samples.*line 1"):
        read_samples(p, get_benchmark("humaneval"), skip_bad_lines=True)


def test_score_humaneval_subset_writes_results_samples_manifest(tmp_path):
    bench = get_benchmark("humaneval", limit=4)
    rows = bench.canonical_samples()
    rows.append({"task_id": "HumanEval/0", "completion": "    return None  # wrong\n"})
    rows.append({"task_id": "HumanEval/1", "completion": "    while True:\n        pass\n"})  # timeout
    write_jsonl(tmp_path / "s.jsonl", rows)
    res = score_samples(bench, tmp_path / "s.jsonl", tmp_path / "out",
                        ScoringConfig(timeout_s=2, bootstrap=200))
    assert res["per_task"]["HumanEval/0"] == {"passed": 1, "n": 2}
    assert res["per_task"]["HumanEval/1"] == {"passed": 1, "n": 2}
    assert res["per_task"]["HumanEval/2"] == {"passed": 1, "n": 1}
    assert res["pass@1"] == pytest.approx((0.5 + 0.5 + 1 + 1) / 4)
    assert res["statuses"].get("timeout") == 1 and res["ci_low"] <= res["pass@1"] <= res["ci_high"]
    assert res["sanitizer"] == "codeja@2" and res["counts"] == {"in": 6, "scored": 6, "quarantined": 0}
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert man["sanitizers"][0]["id"] == "codeja@2" and len(man["benchmark"]["source"]["sha256"]) == 64
    assert man["execution"]["engine"] == "codeja.sandbox" and man["samples"]["sha256"]
    lines = (tmp_path / "out" / "samples.jsonl").read_text().splitlines()
    v = json.loads(lines[0])["verdicts"]["codeja@2"]
    assert {"sanitized", "rule", "status", "passed"} <= set(v)


def test_score_all_sanitizers_gives_sensitivity_table(tmp_path):
    bench = get_benchmark("humaneval", limit=2)
    helper_after = ("    return _h(numbers, threshold)\n\n\ndef _h(n, t):\n"
                    "    return any(abs(a - b) < t for i, a in enumerate(n) for b in n[i + 1:])\n")
    write_jsonl(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": helper_after}])
    res = score_samples(bench, tmp_path / "s.jsonl", tmp_path / "out",
                        ScoringConfig(sanitizer="all", bootstrap=0))
    by = res["by_sanitizer"]
    assert by["codeja@2"]["pass@1"] == 1.0 and by["none@1"]["pass@1"] == 1.0
    assert by["bigcode@2024-01"]["pass@1"] == 0.0  # "\ndef" cuts the helper
    assert "| bigcode@2024-01 | 0.000 |" in res["sensitivity"]
    assert res["n_tasks_without_samples"] == 1  # HumanEval/1 had no sample: visible, not skipped


def test_niilc_and_canitedit_canonical(tmp_path):
    niilc = get_benchmark("niilc", limit=20)
    assert niilc.kind == "qa" and len(niilc.all_tasks) == 198
    write_jsonl(tmp_path / "n.jsonl", niilc.canonical_samples())
    res = score_samples(niilc, tmp_path / "n.jsonl", tmp_path / "n_out", ScoringConfig(sanitizer="none"))
    assert res["exact_match"] == 1.0 and res["fuzzy_token_sort_ratio"] == 1.0 and res["metric"] == "exact_match"

    edit = get_benchmark("canitedit", path=str(FIXTURES / "canitedit_small.jsonl"))
    assert len(edit.tasks) == 4 and {t.meta["kind"] for t in edit.tasks} == {"descriptive", "lazy"}
    rows = edit.canonical_samples() + [{"task_id": "1_add/lazy",
                                        "solution": "```python\ndef add(a, b):\n    return a - b\n```"}]
    write_jsonl(tmp_path / "e.jsonl", rows)
    res = score_samples(edit, tmp_path / "e.jsonl", tmp_path / "e_out", ScoringConfig())
    assert res["per_task"]["1_add/lazy"] == {"passed": 1, "n": 2} and res["per_task"]["2_greet/lazy"]["passed"] == 1
    with pytest.raises(InputError, match="hub only"):
        get_benchmark("canitedit")


def test_benchmark_registry_and_data_facts():
    with pytest.raises(InputError, match="did you mean 'humaneval'"):
        get_benchmark("humaneva")
    jhe = get_benchmark("jhumaneval")
    t64 = jhe.task("JHumanEval/64")
    assert not parses(t64.prompt + t64.canonical, "python")  # the broken prompt: see docs/evaluation.md
    assert get_benchmark("jhumaneval", prompt_lang="en").task("JHumanEval/0").prompt.startswith("from typing")
    m = get_benchmark("multiple-cpp", limit=3)
    assert m.tasks[0].test_close == "}\n" and m.tasks[0].entry_point and m.tasks[0].meta["stop"] == ["\n}"]
    fim = get_benchmark("humaneval-infilling-random-span-light")
    assert len(fim.tasks) == 164 and fim.tasks[0].suffix is not None


def test_eval_config_rejects_unknown_keys(tmp_path):
    p = tmp_path / "e.yaml"
    p.write_text("stage: eval\nmodels: [tiny]\ngeneration:\n  temprature: 0.2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="did you mean 'temperature'"):
        load_config(p, EvalConfig, stage="eval")
    assert load_config(None, EvalConfig).generation.mode == "completion"


def _fake_cell(root, model, bench, sanitizer, score):
    cell = root / model / bench
    cell.mkdir(parents=True)
    (cell / "results.json").write_text(json.dumps({"benchmark": bench, "metric": "pass@1", "pass@1": score,
                                                   "ci_low": score - 0.1, "ci_high": score + 0.1, "n_tasks": 5,
                                                   "sanitizer_id": sanitizer, "health": {"placeholder_share": 0.2}}))
    (cell / "manifest.json").write_text(json.dumps({"model": {"name": model}, "benchmark": {"source": {"sha256": "x"}},
                                                    "generation": {"temperature": 0.0}}))
    return cell


def test_compare_refuses_to_rank_on_score_moving_differences(tmp_path):
    _fake_cell(tmp_path / "r1", "base", "humaneval", "codeja@1", 0.3)
    _fake_cell(tmp_path / "r2", "sft", "humaneval", "evalplus@0.3.1", 0.5)
    with pytest.raises(ManifestMismatch, match="sanitizer"):
        compare([tmp_path / "r1", tmp_path / "r2"])
    comp = compare([tmp_path / "r1", tmp_path / "r2"], force=True)
    assert comp["models"] == ["base", "sft"] and comp["scores"]["sft"]["humaneval"]["pass@1"] == 0.5
    assert comp["manifest_differences"][0]["key"] == "sanitizer"
    paths = write_comparison(comp, tmp_path / "cmp")
    assert "Differences that can move a score" in paths["md"].read_text()
    assert (tmp_path / "cmp" / "comparison.png").stat().st_size > 0


def test_compare_identical_settings_ranks():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        _fake_cell(Path(d), "base", "humaneval", "codeja@1", 0.3)
        _fake_cell(Path(d), "dpo", "humaneval", "codeja@1", 0.4)
        comp = build_comparison([d])
        assert comp["manifest_differences"] == [] and set(comp["scores"]) == {"base", "dpo"}


def test_eval_config_hands_its_scoring_fields_to_score_samples():
    cfg = EvalConfig(sanitizer="evalplus", k=[1, 5], bootstrap=10, confidence=0.9, seed=3, timeout_s=4.0,
                     memory_mb=512, workers=2)
    assert cfg.scoring() == ScoringConfig(sanitizer="evalplus", k=[1, 5], bootstrap=10, confidence=0.9,
                                          seed=3, timeout_s=4.0, memory_mb=512, workers=2)
    # every scoring setting but the score-command-only skip_bad_lines is an eval config key
    assert set(ScoringConfig.model_fields) - set(EvalConfig.model_fields) == {"skip_bad_lines"}
