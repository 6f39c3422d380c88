"""SFT and DPO on the tiny random model with users' data formats, LoRA adapters (merged or adapter-only) and
epochs instead of steps."""

from __future__ import annotations

import json

import pytest

from codeja.errors import ConfigError
from codeja.train.common import read_metrics
from codeja.train.config import DPOConfig, SFTConfig
from codeja.train.dpo import train_dpo
from codeja.train.sft import train_sft

QA = [("Write a Python function that adds two numbers.", "def add(a, b):\n    return a + b"),
      ("文字列を反転する関数を書いてください。", "def reverse(s):\n    return s[::-1]"),
      ("How do I sum a list?", "total = sum(xs)"),
      ("リストの長さは？", "len(xs) を使います。")]


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _sft(model, data, **kw) -> SFTConfig:
    base = {"model": str(model), "data": str(data), "max_steps": 1, "per_device_batch_size": 2, "max_length": 128,
            "optim": {"learning_rate": 1e-3, "warmup_ratio": 0.0}}
    base.update(kw)
    return SFTConfig.model_validate(base)


ROWS = {
    "text": [{"text": f"# {q}\n{a}\n"} for q, a in QA],
    "prompt-completion": [{"prompt": f"Q: {q}\nA:", "completion": f" {a}"} for q, a in QA],
    "conversational-prompt-completion": [{"prompt": [{"role": "user", "content": q}],
                                          "completion": [{"role": "assistant", "content": a}]} for q, a in QA],
    "alpaca": [{"instruction": q, "input": "", "output": a} for q, a in QA],
}
LOSS_ON = {"text": "all tokens", "prompt-completion": "completion", "conversational-prompt-completion": "completion",
           "alpaca": "assistant turns"}


@pytest.mark.parametrize("name", list(ROWS))
def test_sft_trains_on_each_format(tiny_random_model_dir, tmp_path, name):
    s = train_sft(_sft(tiny_random_model_dir, _write(tmp_path / "d.jsonl", ROWS[name])), tmp_path / "out")
    assert s["steps"] == 1 and s["final_loss"] > 0 and s["rows_trained"] == 4
    assert s["loss_on"] == (LOSS_ON[name] if name != "conversational-prompt-completion" else "assistant turns")
    assert s["chat_template"] == ("unused (standard data)" if name in ("text", "prompt-completion")
                                  else "codeja-chatml")


@pytest.mark.slow
def test_sft_lora_merged_and_epochs(tiny_random_model_dir, tmp_path):
    """LoRA on a ShareGPT dataset folder, two epochs of 4 rows at batch 2: 4 steps; only adapters train; model/
    is the merged checkpoint (adapter kept in adapter/)."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM

    rows = [{"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]} for q, a in QA]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "sharegpt"))
    cfg = _sft(tiny_random_model_dir, tmp_path / "sharegpt", max_steps=None, num_train_epochs=2,
               lora={"enabled": True, "r": 4, "alpha": 8}, optim={"learning_rate": 1e-2, "warmup_ratio": 0.5})
    s = train_sft(cfg, tmp_path / "out")
    assert s["steps"] == 4 and [r["step"] for r in read_metrics(tmp_path / "out") if "loss" in r] == [1, 2, 3, 4]
    assert 0 < s["trainable_parameters"] < 0.2 * s["total_parameters"]
    assert s["lora_saved"] == "merged" and (tmp_path / "out" / "adapter" / "adapter_config.json").is_file()
    assert not (tmp_path / "out" / "model" / "adapter_config.json").exists()
    base = AutoModelForCausalLM.from_pretrained(tiny_random_model_dir)
    merged = AutoModelForCausalLM.from_pretrained(s["model_path"])
    b, m = dict(base.named_parameters()), dict(merged.named_parameters())
    assert set(b) == set(m)  # a plain checkpoint, no lora_A / lora_B left
    changed = {k for k in b if not torch.equal(b[k], m[k])}
    assert changed and all("proj" in k for k in changed)  # linear layers moved; embeddings and norms did not
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["data_sources"][0]["kind"] == "saved"


def test_sft_lora_adapter_only(tiny_random_model_dir, tmp_path):
    from peft import AutoPeftModelForCausalLM

    cfg = _sft(tiny_random_model_dir, _write(tmp_path / "d.jsonl", ROWS["alpaca"]),
               lora={"enabled": True, "r": 2, "merge": False, "target_modules": ["q_proj", "v_proj"]})
    s = train_sft(cfg, tmp_path / "out")
    assert s["lora_saved"] == "adapter" and (tmp_path / "out" / "model" / "adapter_config.json").is_file()
    model = AutoPeftModelForCausalLM.from_pretrained(s["model_path"])
    lora = {n: p for n, p in model.named_parameters() if "lora_" in n}
    assert lora and all(("q_proj" in n or "v_proj" in n) for n in lora)
    assert any(p.abs().sum() > 0 for n, p in lora.items() if "lora_B" in n)  # B starts at zero: it was trained


def test_dpo_lora_on_standard_implicit_pairs(tiny_random_model_dir, tmp_path):
    """Standard (string) pairs with an implicit prompt, LoRA: the reference is the policy with adapters off."""
    rows = [{"chosen": f"Q: {q}\nA: {a}", "rejected": f"Q: {q}\nA: I do not know."} for q, a in QA]
    cfg = DPOConfig.model_validate({
        "model": str(tiny_random_model_dir), "data": str(_write(tmp_path / "pairs.jsonl", rows)), "max_steps": 2,
        "per_device_batch_size": 2, "max_length": 128, "lora": {"enabled": True, "r": 4},
        "optim": {"learning_rate": 1e-3, "warmup_ratio": 0.0}})
    s = train_dpo(cfg, tmp_path / "out")
    assert s["steps"] == 2 and s["pairs_trained"] == 4 and s["conversational"] is False
    assert s["reward_accuracy"] is not None and s["lora_saved"] == "merged"
    assert s["trainable_parameters"] < s["total_parameters"]


def test_steps_and_epochs_exclude_each_other(tmp_path, capsys):
    from codeja.cli import main
    from codeja.config import load_config

    assert SFTConfig().max_steps == 100 and DPOConfig().num_train_epochs is None  # defaults that run
    assert SFTConfig(num_train_epochs=1).max_steps is None
    with pytest.raises(ValueError, match="mutually exclusive"):
        SFTConfig(max_steps=3, num_train_epochs=1)
    cfg = tmp_path / "sft.yaml"
    cfg.write_text("stage: train.sft\nmax_steps: 5\n")
    with pytest.raises(ConfigError, match="max_steps \\(5\\) and num_train_epochs \\(2.0\\) are mutually exclusive"):
        load_config(cfg, SFTConfig, ["num_train_epochs=2"])
    assert load_config(cfg, SFTConfig, ["max_steps=null", "num_train_epochs=2"]).num_train_epochs == 2
    assert main(["train", "dpo", "--epochs", "1", "--max-steps", "3", "-o", str(tmp_path / "o")]) == 2
    assert "mutually exclusive" in capsys.readouterr().err
