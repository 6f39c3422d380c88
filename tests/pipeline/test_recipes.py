"""Every shipped recipe loads, validates each stage config against its schema, and plans (dry run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codeja.pipeline.runner import load_recipe, run_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted(p for p in (ROOT / "recipes").rglob("*.yaml")
                 if p.parent.name not in {"accelerate", "megatron"})


def test_recipes_exist():
    names = {p.relative_to(ROOT / "recipes").as_posix() for p in RECIPES}
    assert {"tiny.yaml", "ablations/fim.yaml", "ablations/rejected-pick.yaml", "ablations/lint-policy.yaml"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.relative_to(ROOT / "recipes").as_posix())
def test_recipe_plans(path, tmp_path):
    rec = load_recipe(path)
    res = run_recipe(rec, tmp_path / "run", dry_run=True, log=lambda m: None)
    plans = res["plans"]
    if rec.variants:
        assert set(plans) == set(rec.variants)
    for plan in plans.values():
        assert [p.name for p in plan] == [s.name for s in rec.stages]
        assert all(p.action in {"run", "disabled"} for p in plan)
    assert res["report"] is None  # a dry run writes nothing
    assert not (tmp_path / "run").exists()


def test_tiny_recipe_has_every_phase():
    rec = load_recipe(ROOT / "recipes" / "tiny.yaml")
    assert [s.kind for s in rec.stages] == ["curate", "tokenize", "train.cpt", "synth.magpie", "prefs", "train.sft",
                                            "train.dpo", "eval"]
    ev = next(s for s in rec.stages if s.kind == "eval").config
    assert ev["model_names"] == ["base", "cpt", "sft", "dpo"]


def test_fim_ablation_variants_override_the_mode():
    from codeja.pipeline.recipe import variant_recipe

    rec = load_recipe(ROOT / "recipes" / "ablations" / "fim.yaml")
    modes = {v: next(s for s in variant_recipe(rec, v).stages if s.name == "cpt").config["fim"]["mode"]
             for v in rec.variants}
    assert modes == {"fim-off": "off", "document": "document", "context": "context"}


def test_rejected_pick_variants_share_sampling_and_scoring(tmp_path):
    """The three variants differ only in the pairs stage, so the candidates stage (sampling + scoring) has one
    fingerprint across them and is computed once (tests/prefs runs the same layout end to end)."""
    from codeja.pipeline.recipe import variant_recipe
    from codeja.pipeline.runner import Pipeline

    rec = load_recipe(ROOT / "recipes" / "ablations" / "rejected-pick.yaml")
    fps = {}
    for v in rec.variants:
        vr = variant_recipe(rec, v)
        fps[v] = {p.name: p.fingerprint for p in Pipeline(vr, tmp_path / v).plan()}
        assert next(s for s in vr.stages if s.name == "pairs").config["build"]["strategy"] == v
    assert len({f["candidates"] for f in fps.values()}) == 1
    assert len({f["pairs"] for f in fps.values()}) == 3
    findings = run_recipe(rec, tmp_path / "dry", dry_run=True, log=lambda m: None)["findings"]["closest"]
    assert any(f.stage == "pairs" and f.level == "pending" and "candidates: from stage candidates" in f.message
               for f in findings)
    assert any(f.stage == "candidates" and f.level == "ok" and "sample.instructions" in f.message for f in findings)


def test_cli_dry_run_prints_the_plan():
    out = subprocess.run([sys.executable, "-m", "codeja.cli", "run", str(ROOT / "recipes" / "tiny.yaml"), "--dry-run",
                          "--run-dir", "/nonexistent/run"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("# plan")
    lines = lines[:lines.index("# preflight (what each stage needs)")]  # the preflight findings follow
    assert [ln.split()[0] for ln in lines[1:]] == ["curate", "tokenize", "cpt", "magpie", "prefs", "sft", "dpo", "eval"]


def test_gpu_node_recipe_uses_vllm_and_fsdp():
    rec = load_recipe(ROOT / "recipes" / "gpu-node.yaml")
    by = {s.name: s.config for s in rec.stages}
    assert by["magpie"]["backend"] == by["eval"]["backend"] == by["prefs"]["sample"]["backend"] == "vllm"
    assert {by[s]["accelerate_config"] for s in ("cpt", "sft", "dpo")} == {"${vars.fsdp}"}
    assert "${prefs.sft_file}" in by["sft"]["extra_data"]  # the preference stage's lone-survivor rows
    assert (ROOT / rec.vars["fsdp"]).is_file()


def test_every_recipe_with_prefs_and_sft_trains_on_the_prefs_sft_rows():
    for path in RECIPES:
        rec = load_recipe(path)
        prefs = [s.name for s in rec.stages if s.kind in ("prefs", "prefs.pairs")]
        for s in rec.stages:
            if s.kind == "train.sft" and prefs:
                assert f"${{{prefs[0]}.sft_file}}" in s.config.get("extra_data", []), path


def test_cluster_recipe_builds_the_megatron_command(tmp_path):
    from codeja.pipeline.recipe import stage_config
    from codeja.train.megatron import build_command

    rec = load_recipe(ROOT / "recipes" / "cluster.yaml")
    assert next(s for s in rec.stages if s.name == "curate").config["executor"]["kind"] == "slurm"
    spec = next(s for s in rec.stages if s.name == "cpt")
    cfg = stage_config(rec, spec, lambda ref: "/lustre/runs/x/tokenize/corpus", source="cluster.yaml")
    cmd = build_command(cfg, tmp_path).shell()
    assert "torchrun" in cmd and "--nnodes 4" in cmd and "--nproc-per-node 8" in cmd
    assert "pretrain_gpt.py" in cmd and "codeja.fim.megatron:fim_dataset_provider" in cmd
