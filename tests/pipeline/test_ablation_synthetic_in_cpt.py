"""recipes/ablations/synthetic-in-cpt.yaml end to end on the tiny model, at minimal sizes: both arms train, the
stages they share run once, the arms differ only in the synthetic share of the same CPT tokens, and the report puts
every model of both arms side by side on HumanEval, JHumanEval and NIILC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeja.pipeline.runner import load_recipe, run_recipe

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "ablations" / "synthetic-in-cpt.yaml"
# The 135M model rarely writes a Japanese instruction or the requested language, and rambles: with the recipe's
# filters and budgets, 4 rows kept none (an empty synthetic corpus). 8 rows, 320 response tokens and the two
# language filters off keep some, so both arms have synthetic text to weigh.
MINIMAL = [
    "vars.cpt_steps=2", "vars.seq_len=128", "vars.synth_rows=8", "vars.eval_limit=2",
    "stages.curate-code.config.sources.0.limit=40", "stages.magpie.config.batch_size=8",
    "stages.magpie.config.response.max_new_tokens=320", "stages.magpie.config.filters.instruction_language=false",
    "stages.magpie.config.filters.programming_language=false",
    "stages.prefs.config.sample.limit=3", "stages.sft.config.max_steps=1", "stages.dpo.config.max_steps=1",
    "stages.eval.config.generation.max_new_tokens=48",
]
SHARED = ["curate-code", "curate-ja", "tokenize-code", "tokenize-ja", "magpie", "tokenize-synth", "prefs"]


@pytest.mark.slow
# two arms of CPT, SFT, DPO and eval with the 135M model: 900 s is tight on a busy 2-core CPU
@pytest.mark.timeout(1800)
def test_synthetic_in_cpt_ablation_runs_both_arms(tmp_path, tiny_model_dir):
    recipe = load_recipe(RECIPE, MINIMAL)
    assert list(recipe.variants) == ["synth-0", "synth-15"]
    out = run_recipe(recipe, tmp_path / "run", log=lambda m: None)
    run = Path(out["run_dir"])

    # what does not depend on the arm is computed once: the second arm links to the first arm's folders
    for name in SHARED:
        assert not (run / "synth-0" / name).is_symlink()
        assert (run / "synth-15" / name).is_symlink(), name
    for name in ("cpt", "sft", "dpo", "eval"):
        assert not (run / "synth-15" / name).is_symlink(), name

    # the arms differ only in the synthetic share of the same CPT token budget
    mix = {arm: json.loads((run / arm / "cpt" / "manifest.json").read_text())["summary"]["mixture"]
           for arm in recipe.variants}
    totals = {arm: sum(m["trained_tokens"] for m in mix[arm].values()) for arm in mix}
    assert totals["synth-0"] == totals["synth-15"] > 0
    assert mix["synth-0"]["synth"]["trained_tokens"] == 0 and mix["synth-0"]["synth"]["weight"] == 0
    assert mix["synth-15"]["synth"]["trained_tokens"] > 0
    side = json.loads((run / "synth-0" / "tokenize-synth" / "corpus.json").read_text())  # the corpus's sidecar
    assert side["messages"]["render"] == "plain" and side["messages"]["rows"] >= 1

    # the report: every model of both arms on the three benchmarks, side by side
    md = (run / "report.md").read_text(encoding="utf-8")
    table = md.split("Ablation: every variant side by side", 1)[1]
    header = next(line for line in table.splitlines() if line.startswith("| variant"))
    assert all(b in header for b in ("humaneval", "jhumaneval", "niilc"))
    rows = [line for line in table.splitlines() if line.startswith("| synth-")]
    got = {tuple(c.strip() for c in line.strip("|").split("|")[:2]) for line in rows}
    assert got == {(arm, m) for arm in ("synth-0", "synth-15") for m in ("base", "cpt", "sft", "dpo")}
    assert (run / "report.html").stat().st_size > 1000
