"""recipes/studies/placeholder.yaml: it plans (dry run), its arms are comparable, and a smoke run of it (few
documents, steps and prompts, a tiny random model) goes through every stage and writes the study's table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codeja.pipeline.runner import load_recipe, run_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "studies" / "placeholder.yaml"
ARMS = ["base", "clean", "contaminated", "filtered", "dpo"]


def stage(rec, name):
    return next(s for s in rec.stages if s.name == name)


def test_dry_run_plans_every_stage(tmp_path):
    rec = load_recipe(RECIPE)
    plan = run_recipe(rec, tmp_path / "run", dry_run=True, log=lambda m: None)["plans"]["main"]
    assert [p.name for p in plan] == [s.name for s in rec.stages] and all(p.action == "run" for p in plan)
    assert not (tmp_path / "run").exists()


def test_arms_are_comparable():
    rec = load_recipe(RECIPE)
    cpts = [stage(rec, n).config for n in ("cpt_clean", "cpt_contaminated", "cpt_filtered")]
    same = ("model", "max_steps", "per_device_batch_size", "grad_accum", "fim", "optim", "seed")
    assert all({k: c[k] for k in same} == {k: cpts[0][k] for k in same} for c in cpts)  # same tokens, steps
    assert [c["data"] for c in cpts] == [
        "${tok_clean.prefix}", "${tok_contaminated.prefix}", "${tok_filtered.prefix}"]
    ev = stage(rec, "eval").config
    assert ev["model_names"] == ARMS and ev["benchmarks"] == ["humaneval", "jhumaneval"]
    assert ev["generation"]["mode"] == "completion" and ev["generation"]["temperature"] == 0.0
    assert rec.vars["eval_limit"] is None  # all 164 + 164 prompts
    study = stage(rec, "study").config
    assert study["arms"] == ARMS and study["models"] == ev["models"]
    assert stage(rec, "dpo").config["model"] == "${cpt_contaminated.model_path}"
    assert stage(rec, "dpo_pairs").config["build"]["placeholder_rejected"] is True
    assert stage(rec, "dpo_samples").config["corpus"] == "${split.prompts}"  # never benchmark prompts


# The real tiny model (a random one never writes code that compiles, so no pair would have a preference in
# it); a two-step CPT does not teach it placeholders either, so the smoke run's DPO keeps every pair, not only
# the placeholder ones.
SMOKE = ["vars.files=60", "vars.cpt_steps=2", "vars.seq_len=128", "vars.dpo_prompts=8", "vars.dpo_steps=1",
         "vars.eval_limit=2", "vars.max_new_tokens=32", "vars.heldout_windows=2",
         "vars.dpo_rejected_source=[]"]


@pytest.mark.slow
def test_smoke_run(tmp_path, tiny_model_dir):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "codeja.cli", "run", str(RECIPE), "--run-dir", str(run_dir),
           *[x for s in SMOKE for x in ("--set", s)]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    state = json.loads((run_dir / "pipeline.json").read_text())
    assert all(r["status"] == "complete" for r in state["stages"].values())
    study = json.loads((run_dir / "study" / "study.json").read_text())
    assert study["arms"] == ARMS and set(study["heldout_loss"]) == set(ARMS)
    for arm in ARMS:
        for bench in ("humaneval", "jhumaneval"):
            assert study["cells"][arm][bench]["pass_at_1"]["n"] == 2
    assert study["filters"]["contaminated"]["placeholder_dropped"] >= 1
    assert study["contamination"]["contaminated"] >= 1
    html = (run_dir / "report.html").read_text()
    assert "Study: study" in html and "placeholder rate" in html and html.count("<img") >= 5
