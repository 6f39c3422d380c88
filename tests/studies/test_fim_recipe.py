"""recipes/studies/fim.yaml: the full recipe plans (fast), and a smoke-sized run of it goes end to end, three
variants, checkpoints, scores per step and the report's curves (slow, tiny random model)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeja.cli import app
from codeja.pipeline.runner import load_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "studies" / "fim.yaml"


def test_full_recipe_dry_run_plans_three_variants_on_the_same_tokens(tmp_path):
    res = CliRunner().invoke(app, ["run", str(RECIPE), "--dry-run", "--run-dir", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    for variant in ("fim-off", "document", "context"):
        assert f"# plan for variant {variant}" in res.output
    assert res.output.count("train.cpt") == 3 and res.output.count(" eval ") == 18
    assert not (tmp_path / "run").exists()  # a plan writes nothing
    recipe = load_recipe(RECIPE)
    assert recipe.variants == {"fim-off": ["cpt.fim.mode=off"], "document": ["cpt.fim.mode=document"],
                               "context": ["cpt.fim.mode=context"]}  # the variants differ in the FIM mode only
    cpt = next(s for s in recipe.stages if s.name == "cpt").config
    assert (cpt["fim"]["fim_rate"], cpt["fim"]["spm_rate"]) == (0.5, 0.5)
    v = recipe.vars
    assert v["steps"] % v["save_every"] == 0 and cpt["validation"]["eval_on_start"]
    assert cpt["validation"]["fim_mode"] == "context"  # one held-out FIM view for every variant
    evals = [s for s in recipe.stages if s.kind == "eval"]
    benches = {b for s in evals for b in s.config["benchmarks"]}
    assert benches == {"humaneval-infilling", "jhumaneval-infilling", "humaneval", "niilc"}
    assert all(s.config["subset_seed"] == "${vars.subset_seed}" for s in evals)


@pytest.mark.slow
def test_smoke_sized_study_runs_end_to_end_with_curves(tmp_path, tiny_random_model_dir):
    smoke = {"base_model": str(tiny_random_model_dir), "stdlib_files": 12, "steps": 2, "save_every": 1, "batch": 1,
             "seq_len": 64, "heldout_docs": 2, "infill_tasks": 2, "humaneval_tasks": 1, "niilc_questions": 2,
             "infill_tokens": 4, "humaneval_tokens": 4, "niilc_tokens": 4}
    args = ["run", str(RECIPE), "--run-dir", str(tmp_path / "run")]
    for k, v in smoke.items():
        args += ["--set", f"vars.{k}={v}"]
    # one variant first, then the recipe: the later invocation links what the first computed (shared stages)
    res = CliRunner().invoke(app, [*args, "--variant", "fim-off"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    # step 0 was scored once and linked into the other variants; each variant trained on the same token count
    for stage in ("curate", "tokenize", "eval-start-infill", "eval-start-humaneval", "eval-start-niilc"):
        assert [(run / v / stage).is_symlink() for v in ("fim-off", "document", "context")] == [False, True, True]
    assert not (run / "document" / "cpt").is_symlink()
    tokens = {v: json.loads((run / v / "cpt" / "result.json").read_text())["tokens_seen"]
              for v in ("fim-off", "document", "context")}
    assert len(set(tokens.values())) == 1
    for v in ("fim-off", "document", "context"):
        curves = json.loads((run / v / "eval-infill" / "curves.json").read_text())["series"]["cpt"]
        assert [r["step"] for r in curves] == [1, 2]
        assert set(curves[0]["scores"]) == {"humaneval-infilling", "jhumaneval-infilling"}
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "## Scores over training" in report and (run / "curves.png").stat().st_size > 10_000
    table = [line for line in report.splitlines() if re.match(r"\| (fim-off|document|context) \| \d+ \|", line)]
    assert len(table) == 9  # 3 variants x steps 0, 1, 2
    assert all(line.count("—") == 0 for line in table), table  # every loss and score present at every step
