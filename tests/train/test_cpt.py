"""Continued pretraining on the tiny random model: runs, logs, saves a loadable checkpoint, resumes exactly."""

from __future__ import annotations

import json

import pytest
from train_configs import small_config

from codeja.errors import InputError
from codeja.train.common import read_metrics
from codeja.train.config import CPTConfig
from codeja.train.cpt import train_cpt


def _cfg(model, data, **kw) -> CPTConfig:
    kw = {"fim": {"seq_len": 64, "fim_rate": 0.5}, "validation": {"docs": 8}, **kw}
    return small_config(CPTConfig, model, data, **kw)


def test_cpt_three_steps(tiny_random_model_dir, code_prefix, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "cpt"
    s = train_cpt(_cfg(tiny_random_model_dir, code_prefix), out)
    assert s["steps"] == 3
    assert s["final_loss"] is not None and s["final_loss"] > 0
    assert s["tokens_per_s"] > 0
    assert s["heldout_loss_l2r"] > 0 and s["heldout_loss_fim"] > 0
    assert s["heldout_loss_l2r"] != s["heldout_loss_fim"]  # same documents, two different views
    assert s["heldout_documents"] == 8 and s["train_documents"] == 164 - 8
    rows = read_metrics(out)
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3]
    assert all(r["tokens_per_s"] > 0 for r in rows if "loss" in r)
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["stage"] == "train.cpt"
    assert man["summary"]["steps"] == 3
    assert (out / "loss.png").stat().st_size > 1000
    m = AutoModelForCausalLM.from_pretrained(s["model_path"])
    assert m.config.vocab_size >= 49156
    # unchanged config + inputs: the stage is skipped and returns the same summary
    assert train_cpt(_cfg(tiny_random_model_dir, code_prefix), out) == s


class _Interrupt(Exception):
    pass


def _interrupt_after_save(step: int):
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step == step:
                raise _Interrupt(f"killed after checkpoint {step}")

    return Kill()


def test_cpt_interrupted_run_resumes_to_the_same_losses(tiny_random_model_dir, code_prefix, tmp_path):
    cfg = _cfg(
        tiny_random_model_dir,
        code_prefix,
        max_steps=4,
        save_steps=2,
        optim={"learning_rate": 1e-3, "warmup_ratio": 0.25},
        validation={"docs": 0},
    )
    ref = tmp_path / "uninterrupted"
    train_cpt(cfg, ref)
    out = tmp_path / "interrupted"
    with pytest.raises(_Interrupt):
        train_cpt(cfg, out, callbacks=[_interrupt_after_save(2)])
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
    assert [r["step"] for r in read_metrics(out) if "loss" in r] == [1, 2]
    s = train_cpt(cfg, out)
    assert s["steps"] == 4
    man = json.loads((out / "manifest.json").read_text())
    assert man["resumed_from"].endswith("checkpoint-2")
    want = [(r["step"], r["loss"], r["learning_rate"]) for r in read_metrics(ref) if "loss" in r]
    got = [(r["step"], r["loss"], r["learning_rate"]) for r in read_metrics(out) if "loss" in r]
    assert [w[0] for w in want] == [g[0] for g in got] == [1, 2, 3, 4]
    for (step, lw, rw), (_, lg, rg) in zip(want, got):
        assert lg == pytest.approx(lw, rel=1e-5, abs=1e-6), f"step {step}"
        assert rg == pytest.approx(rw, rel=1e-9)


def test_cpt_loss_falls_on_a_repeated_batch(tiny_random_model_dir, code_prefix, tmp_path):
    """Train on 2 samples with batch 2, FIM off: every step sees the same batch, so the loss must fall fast."""
    cfg = _cfg(
        tiny_random_model_dir,
        code_prefix,
        max_steps=8,
        limit_train_samples=2,
        validation={"docs": 4},
        fim={"seq_len": 64, "fim_rate": 0.0},
        optim={"learning_rate": 5e-3, "scheduler": "constant", "warmup_ratio": 0.0},
    )
    s = train_cpt(cfg, tmp_path / "repeat")
    losses = [r["loss"] for r in read_metrics(tmp_path / "repeat") if "loss" in r]
    assert len(losses) == 8 and s["train_samples"] == 2
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] - 1.0, losses


def test_cpt_missing_dataset_is_a_clear_error(tiny_random_model_dir, tmp_path):
    with pytest.raises(InputError, match="indexed dataset not found"):
        train_cpt(_cfg(tiny_random_model_dir, str(tmp_path / "nope")), tmp_path / "out")


def test_cpt_config_rejects_unknown_keys():
    from codeja.config import load_config
    from codeja.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown key"):
        load_config(None, CPTConfig, ["optim.learning_rat=1e-4"])
    with pytest.raises(ConfigError, match="max_steps"):
        load_config(None, CPTConfig, ["max_steps=0"])
