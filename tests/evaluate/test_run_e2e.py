"""End to end: models x benchmarks through the transformers backend on CPU, then the sandbox, then compare."""

from __future__ import annotations

import json

import pytest

from codeja.cli import main as codeja_main
from codeja.evaluate.config import EvalConfig
from codeja.evaluate.runner import run_eval


@pytest.mark.slow
def test_run_eval_two_models_side_by_side_and_resume(tmp_path, tiny_random_model_dir):
    cfg = EvalConfig(models=[str(tiny_random_model_dir), str(tiny_random_model_dir)], model_names=["base", "dpo"],
                     benchmarks=["humaneval", "jhumaneval"], limit=2, bootstrap=100,
                     generation={"max_new_tokens": 8, "batch_size": 2})
    comp = run_eval(cfg, tmp_path / "run", progress=False)
    assert comp["models"] == ["base", "dpo"] and comp["benchmarks"] == ["humaneval", "jhumaneval"]
    cell = comp["scores"]["base"]["humaneval"]
    assert {"pass@1", "ci_low", "ci_high", "n_tasks", "health"} <= set(cell) and cell["n_tasks"] == 2
    assert cell["health"]["mean_output_tokens"] is not None and cell["health"]["truncation_rate"] is not None
    assert comp["manifest_differences"] == []  # same weights, same settings: rankable
    for f in ("comparison.json", "comparison.md", "comparison.html", "comparison.png", "manifest.json"):
        assert (tmp_path / "run" / f).is_file()
    man = json.loads((tmp_path / "run" / "base" / "humaneval" / "manifest.json").read_text())
    assert man["model"]["fingerprint"] and man["generation"]["mode"] == "completion"
    assert man["generation"]["prompt_tail"] == "strip" and man["infill_stop"] is None  # no infilling here
    assert man["sanitizers"][0]["id"] == "codeja@2" and man["prompt_template"] == "raw-prompt"
    # identical greedy settings and identical weights give identical samples for both models
    a = (tmp_path / "run" / "base" / "humaneval" / "generations.jsonl").read_text()
    assert a == (tmp_path / "run" / "dpo" / "humaneval" / "generations.jsonl").read_text()
    # a rerun reuses every finished cell (no generation): the manifests are untouched
    before = (tmp_path / "run" / "base" / "humaneval" / "manifest.json").stat().st_mtime_ns
    run_eval(cfg, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "base" / "humaneval" / "manifest.json").stat().st_mtime_ns == before


@pytest.mark.slow
def test_cli_eval_run_tiny_humaneval_jhumaneval_limit_5(tmp_path, tiny_model_dir):
    """The issue's command: `codeja eval run --model tiny --benchmarks humaneval,jhumaneval --limit 5` on CPU."""
    out = tmp_path / "e2e"
    rc = codeja_main(["eval", "run", "--model", "tiny", "--benchmarks", "humaneval,jhumaneval", "--limit", "5",
                      "--max-new-tokens", "24", "--output", str(out)])
    assert rc == 0
    comp = json.loads((out / "comparison.json").read_text())
    assert comp["benchmarks"] == ["humaneval", "jhumaneval"]
    for b in comp["benchmarks"]:
        row = comp["scores"][comp["models"][0]][b]
        assert row["n_tasks"] == 5 and 0.0 <= row["pass@1"] <= 1.0
        samples = [json.loads(x) for x in (out / comp["models"][0] / b / "samples.jsonl").read_text().splitlines()]
        assert len(samples) == 5 and all("codeja@2" in s["verdicts"] for s in samples)
