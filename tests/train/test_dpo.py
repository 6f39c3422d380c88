"""DPO on the tiny random model: sigmoid and sigmoid+sft losses, pair validation, overlong accounting."""

from __future__ import annotations

import json

import pytest
from train_configs import small_config

from codeja.errors import ConfigError, InputError
from codeja.train.common import read_metrics
from codeja.train.config import DPOConfig
from codeja.train.dpo import train_dpo


def _cfg(model, data, **kw) -> DPOConfig:
    return small_config(DPOConfig, model, data, **{"max_length": 256, **kw})


def test_dpo_three_steps_sigmoid_plus_sft(tiny_random_model_dir, pairs_jsonl, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "dpo"
    s = train_dpo(
        _cfg(tiny_random_model_dir, pairs_jsonl, loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.5]), out
    )
    assert s["steps"] == 3 and s["final_loss"] is not None and s["tokens_per_s"] > 0
    assert s["pairs_trained"] == 8 and s["overlong"] == 0 and s["truncated"] == 0
    rows = [r for r in read_metrics(out) if "loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all("rewards/margins" in r for r in rows)
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["loss_type"] == ["sigmoid", "sft"] and man["status"] == "complete"
    assert (out / "loss.png").is_file()
    AutoModelForCausalLM.from_pretrained(s["model_path"])


def test_dpo_loss_falls_on_a_repeated_batch(tiny_random_model_dir, pairs_jsonl, tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text(
        pairs_jsonl.read_text().splitlines()[0] + "\n" + pairs_jsonl.read_text().splitlines()[1] + "\n"
    )
    cfg = _cfg(
        tiny_random_model_dir,
        one,
        max_steps=5,
        optim={"learning_rate": 5e-3, "scheduler": "constant", "warmup_ratio": 0.0},
    )
    s = train_dpo(cfg, tmp_path / "out")
    losses = [r["loss"] for r in read_metrics(tmp_path / "out") if "loss" in r]
    assert losses[0] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at step 1: -log(sigmoid(0))
    assert losses[-1] < 0.5 * losses[0], losses
    assert s["reward_accuracy"] == 1.0 and s["reward_margin"] > 0


def test_dpo_overlong_pairs_are_counted_never_silently_cut(tiny_random_model_dir, pairs_jsonl, tmp_path):
    from transformers import AutoTokenizer

    from codeja.io import read_jsonl
    from codeja.train.dpo import pair_lengths

    tok = AutoTokenizer.from_pretrained(tiny_random_model_dir)
    rows = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in read_jsonl(pairs_jsonl)]
    lengths = pair_lengths(tok, rows)
    limit = sorted(lengths)[len(lengths) // 2]  # about half the pairs are over it
    n_over = sum(n > limit for n in lengths)
    assert 0 < n_over < len(lengths)
    with pytest.raises(InputError, match=f"over max_length {limit}"):
        train_dpo(
            _cfg(tiny_random_model_dir, pairs_jsonl, max_length=limit, overlong="error"), tmp_path / "e"
        )
    s = train_dpo(_cfg(tiny_random_model_dir, pairs_jsonl, max_length=limit, max_steps=1), tmp_path / "d")
    assert s["overlong"] == s["dropped_overlong"] == n_over and s["pairs_trained"] == len(lengths) - n_over
    s = train_dpo(
        _cfg(
            tiny_random_model_dir,
            pairs_jsonl,
            max_length=limit,
            max_steps=1,
            overlong="truncate",
            ref_model=str(tiny_random_model_dir),
        ),
        tmp_path / "t",
    )  # an explicit reference model
    assert s["truncated"] == n_over and s["pairs_trained"] == len(lengths)
    man = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert man["data_counts"]["truncated"] == n_over


@pytest.mark.parametrize(
    "row, field",
    [
        (
            {"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}]},
            "rejected",
        ),
        (
            {
                "prompt": [{"role": "user", "content": "q"}],
                "chosen": [{"role": "assistant", "content": "a"}],
                "rejected": [{"role": "user", "content": "b"}],
            },
            "rejected",
        ),
        (
            {
                "prompt": [{"role": "user", "content": "q"}],
                "chosen": [{"role": "assistant", "content": 3}],
                "rejected": [{"role": "assistant", "content": "b"}],
            },
            "chosen[0].content",
        ),
        (
            {
                "prompt": "q",
                "chosen": [{"role": "assistant", "content": "a"}],
                "rejected": [{"role": "assistant", "content": "b"}],
            },
            "prompt",
        ),
    ],
)
def test_dpo_bad_pairs_name_file_line_field(tiny_random_model_dir, pairs_jsonl, tmp_path, row, field):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(pairs_jsonl.read_text() + json.dumps(row) + "\n")
    with pytest.raises(InputError) as e:
        train_dpo(_cfg(tiny_random_model_dir, bad), tmp_path / "out")
    assert (e.value.path, e.value.line, e.value.field) == (str(bad), 9, field)


def test_dpo_config_validation():
    with pytest.raises(ValueError, match="loss_weights has 1 entries for 2"):
        DPOConfig(loss_type=["sigmoid", "sft"], loss_weights=[1.0])
    with pytest.raises(ValueError, match="loss_type"):
        DPOConfig(loss_type=["sigmoidd"])
    from codeja.config import load_config

    with pytest.raises(ConfigError, match="unknown key"):
        load_config(None, DPOConfig, ["max_prompt_length=128"])  # removed from TRL 1.x; not ours either
