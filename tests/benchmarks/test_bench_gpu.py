"""benchmarks/bench_gpu.py: its FLOPs count against a hand count and torch's FLOP counter, the Llama shapes
against their published parameter counts, and the whole script on CPU (the tiny preset: every section, the
JSON and the Markdown checked), so the GPU check cannot rot while no GPU is around."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_gpu.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_gpu"] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from codeja.models import load_tokenizer

    return load_tokenizer(tiny_model_dir)


def test_flops_against_a_hand_count(bench):
    shape = bench.Shape(
        "t",
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        head_dim=16,
        vocab_size=1000,
        tie_embeddings=True,
    )
    # per layer: q 64x64 + k 64x32 + v 64x32 + o 64x64 = 12,288; gate, up, down 3 x 64x128 = 24,576 -> 36,864;
    # two layers 73,728; LM head 64 x 1000 = 64,000 (tied, but its matmul runs) -> 137,728
    assert bench.matmul_params(shape, 1000) == 137_728
    # QK^T and AV at seq 32: 2 layers x 4 heads x 16 dims x 32 positions x 2 matmuls x 2 FLOPs = 16,384
    assert bench.attention_flops_per_token(shape, 32) == 16_384
    assert bench.train_flops_per_token(shape, 1000, 32) == 3 * (2 * 137_728 + 16_384) == 875_520
    # LoRA with 1,000 adapter weights: frozen 2 x 275,456 + attention 3 x 16,384 + adapters 6 x 1,000
    assert bench.train_flops_per_token(shape, 1000, 32, lora_params=1000) == 606_064


def test_flops_match_torch_flop_counter(bench, tokenizer):
    """A real forward + backward of the tiny shape, eager attention (plain matmuls over the full window),
    counted by torch: exactly 3 x forward, as the formula says."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import LlamaForCausalLM

    shape = bench.SHAPES["tiny"]
    cfg = shape.llama_config(tokenizer)
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    batch, seq = 2, 48
    ids = torch.randint(0, 1000, (batch, seq))
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, labels=ids).loss.backward()
    per_token = bench.train_flops_per_token(shape, cfg.vocab_size, seq)
    assert counter.get_total_flops() == per_token * batch * seq


def test_lora_flops_match_torch_flop_counter(bench, tokenizer):
    """LoRA: the count is an upper bound by exactly the input gradients autograd skips in the first layer (its
    q/k/v inputs come from the frozen embedding) and the adapters' A-input gradients there."""
    import torch
    from peft import LoraConfig, get_peft_model
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import LlamaForCausalLM

    shape = bench.SHAPES["tiny"]
    cfg = shape.llama_config(tokenizer)
    cfg._attn_implementation = "eager"
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(r=4, target_modules=targets, lora_dropout=0.0))
    adapters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    batch, seq = 2, 48
    ids = torch.randint(0, 1000, (batch, seq))
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, labels=ids).loss.backward()
    formula = bench.train_flops_per_token(shape, cfg.vocab_size, seq, lora_params=adapters) * batch * seq
    d, qkv_out = shape.hidden_size, (shape.num_heads + 2 * shape.num_kv_heads) * shape.head_dim
    skipped = (
        2 * (d * qkv_out + 3 * d * 4) * batch * seq
    )  # base q/k/v input grads + their adapters' A input grads
    assert counter.get_total_flops() == formula - skipped


@pytest.mark.parametrize(
    "name, params",
    [("llama-3.2-1b", 1_235_814_400), ("llama-3.2-3b", 3_212_749_824), ("llama-3.1-8b", 8_030_261_248)],
)
def test_llama_shapes_have_the_published_parameter_counts(bench, tokenizer, name, params):
    import torch
    from transformers import LlamaForCausalLM

    shape = bench.SHAPES[name]
    with torch.device("meta"):
        model = LlamaForCausalLM(shape.llama_config(tokenizer))
    assert sum(p.numel() for p in model.parameters()) == params
    embedding = 0 if shape.tie_embeddings else shape.vocab_size * shape.hidden_size
    norms = (2 * shape.num_layers + 1) * shape.hidden_size
    assert bench.matmul_params(shape, shape.vocab_size) + embedding + norms == params
    assert model.config.rope_parameters["rope_type"] == "llama3"


def test_bad_arguments_are_refused_with_the_choices(bench, capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--preset", "tiny", "--shapes", "llama-3.2-1b"])
    assert e.value.code == 2
    assert "not in preset tiny (tiny)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--preset", "tiny", "--sections", "cpt,train"])
    assert "choose from cpt, sft, dpo, generate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--preset", "tiny", "--warmup", "0"])


def test_exported_tokenizer_loads_without_the_model(bench, tmp_path, tiny_model_dir, tokenizer):
    from codeja.models import load_tokenizer

    dest = tmp_path / "tok"
    assert bench.main(["--tokenizer", str(tiny_model_dir), "--export-tokenizer", str(dest)]) == 0
    assert not list(dest.glob("*.safetensors"))
    again = load_tokenizer(dest)
    assert again.get_vocab() == tokenizer.get_vocab() and again.chat_template == tokenizer.chat_template


def test_a_spent_time_budget_skips_cases_and_still_writes_both_files(bench, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    rc = bench.main(
        [
            "--preset",
            "tiny",
            "--budget-s",
            "1e-9",
            "--shapes",
            "tiny",
            "--sections",
            "cpt,generate",
            "--tokenizer",
            str(tiny_model_dir),
            "--out-dir",
            str(out),
        ]
    )
    assert rc == 0
    doc = json.loads((out / "bench_gpu.json").read_text(encoding="utf-8"))
    rows = doc["results"]
    # both plans of shape tiny (full, and LoRA without generate); a skipped build skips its sections
    assert [(r["section"], r["model"]) for r in rows] == [
        ("build", "tiny"),
        ("cpt", "tiny"),
        ("generate", "tiny"),
        ("build", "tiny LoRA"),
        ("cpt", "tiny LoRA"),
    ]
    assert {r["status"] for r in rows} == {"skipped"}
    assert [r["error"] for r in rows[:2]] == ["time budget of 0 s spent", "model build: skipped"]
    assert "| cpt | tiny LoRA +ckpt |  |  |  |  |  |  |  |  |  | skipped: model build: skipped |" in (
        out / "bench_gpu.md"
    ).read_text(encoding="utf-8")


@pytest.mark.slow
def test_cpu_run_covers_every_section_with_sane_figures(tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    env = {**os.environ, "CODEJA_GIT_COMMIT": "test-commit"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--tokenizer", str(tiny_model_dir), "--out-dir", str(out)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads((out / "bench_gpu.json").read_text(encoding="utf-8"))
    env_, rows = doc["env"], doc["results"]
    assert env_["preset"] == "tiny" and env_["git_commit"] == "test-commit"
    assert env_["device"].startswith("CPU") and env_["peak_tflops"] > 0 and env_["matmul_tflops_measured"] > 0
    assert env_["versions"]["trl"] and env_["versions"]["transformers"]
    bad = [r for r in rows if r["status"] != "ok"]
    assert not bad, bad

    cpt = {(r["model"], r["seq_len"], r["mode"]): r for r in rows if r["section"] == "cpt"}
    assert set(cpt) == {
        ("tiny", 64, "plain"),
        ("tiny", 64, "fim"),
        ("tiny", 128, "plain"),
        ("tiny", 128, "fim"),
        ("tiny LoRA", 64, "plain"),
        ("tiny LoRA", 64, "fim"),
    }
    for (model, seq, mode), r in cpt.items():
        assert r["tokens_per_s"] > 0 and r["step_s"] > 0 and r["peak_mem_gib"] > 0
        assert r["tokens_per_step"] == 256  # batch x seq_len, no padding in a plain or FIM window of code
        assert r["batch"] * seq == 256
        assert r["fim_rate"] == (0.5 if mode == "fim" else 0.0)
        assert r["data_ms_per_step"] > 0 and 0 <= r["padded_sample_fraction"] <= 1
        assert r["codeja_logged_tokens_per_s"] > 0
        assert math.isclose(
            r["mfu"],
            r["tokens_per_s"] * r["flops_per_token"] / (env_["peak_tflops"] * 1e12),
            rel_tol=0.01,
            abs_tol=1e-4,
        )
        plain = cpt[(model, seq, "plain")]
        assert math.isclose(r["ratio"], r["tokens_per_s"] / plain["tokens_per_s"], rel_tol=0.01)
    lora_build = next(r for r in rows if r["section"] == "build" and r["model"] == "tiny LoRA")
    assert 0 < lora_build["trainable_parameters"] < lora_build["parameters"] / 10
    assert cpt[("tiny LoRA", 64, "plain")]["flops_per_token"] < cpt[("tiny", 64, "plain")]["flops_per_token"]

    for section, model in (("sft", "tiny"), ("dpo", "tiny"), ("dpo", "tiny LoRA")):
        r = next(r for r in rows if r["section"] == section and r["model"] == model)
        assert r["tokens_per_s"] > 0 and r["rows_trained"] > 0 and r["final_loss"] is not None
        assert (r["trainable_parameters"] < r["parameters"] / 10) == model.endswith(
            "LoRA"
        )  # codeja's lora option
    gen = {r["mode"]: r for r in rows if r["section"] == "generate"}
    assert set(gen) == {"batch 1", "batch 4"}
    assert gen["batch 4"]["new_tokens"] > 0 and gen["batch 4"]["prompts"] == 4
    assert gen["batch 1"]["ratio"] == 1.0 and gen["batch 4"]["ratio"] > 0

    md = (out / "bench_gpu.md").read_text(encoding="utf-8")
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| section | model | seq | mode |")
    assert len(table) == 1 + len([r for r in rows if r["section"] not in ("build", "generate-load")])
    assert "| cpt | tiny +ckpt | 128 | fim | 2 |" in md and "| generate | tiny | 24 | batch 4 | 4 |" in md
    assert "MFU against" in md
    assert md in proc.stdout  # the table is also printed
