"""GPU readiness: codeja's training and generation paths at GPU speed, in one command.

    python benchmarks/bench_gpu.py --preset gpu --out-dir OUT         # a GPU node with codeja installed
    python benchmarks/bench_gpu.py --quick --out-dir /tmp/bench-gpu    # CPU, tiny models, every section
    bash scripts/gpu-check.sh prepare    # here: wheels, codeja's wheel and the tokenizer into .gpu-check/
    bash scripts/gpu-check.sh run        # on a GPU machine without network: install those, run the gpu preset

Models are randomly initialised from the Llama configs written out in SHAPES (Llama-3.2-1B, Llama-3.2-3B,
Llama-3.1-8B; no download): throughput and memory need the architecture, not trained weights. Token ids come
from the tokenizer passed (default: the bundled tiny model's); they fill the lower rows of Llama-3's
128,256-row embedding, so shapes, FLOPs and memory are Llama's.

Sections, for each model shape of the preset, each through codeja's own entry points:

* ``cpt``: ``codeja.train.cpt.train_cpt`` on codeja's own source tokenized by ``codeja tokenize``, plain
  packing (``fim.mode: off``, the baseline) against context-level FIM at rate 0.5, at each sequence length:
  tokens/s, MFU, peak memory and the FIM / plain ratio (the FIM loader's real overhead at the device's speed).
* ``sft`` / ``dpo``: ``codeja.train.sft.train_sft`` and ``codeja.train.dpo.train_dpo`` (TRL's SFTTrainer
  and DPOTrainer; DPO loads its reference model from the model folder, as codeja does).
* ``generate``: codeja's transformers backend (``TransformersBackend.complete``), batch N against batch 1.

The train_* functions run unchanged except for weight I/O: the model is built once per shape on the device
and handed over in place of ``common.load_model`` (which would read it from disk for every run), and
``common.save_final`` writes no weights (nobody reads them; 13 GB per run for the 3B). The 8B shape trains
LoRA adapters (peft, r=16 on every linear layer): full training with fp32 master weights and AdamW needs
16 bytes per parameter, 128 GB before activations.

Timing: the first ``warmup`` optimizer steps of every run are dropped (allocation, kernel selection); the next
``steps`` are timed as one window, the device synchronised at its two ends only, so that the host fetches the
next batch (the FIM transform included) while the device still works, as in a real run. MFU = tokens/s x
model FLOPs per token / peak FLOP/s; model FLOPs as in the PaLM paper (training 6N + 12 L H Q T per token:
N the matmul weights including the LM head, attention over the full window, recomputation not counted); the
peak is the datasheet's dense bf16 rate for known GPUs, else the matmul rate measured in the same run.

Writes ``bench_gpu.json`` and ``bench_gpu.md`` into ``--out-dir`` after every case, so a run cut short keeps
what it measured. Exit status 1 if a case failed with an error (out of memory is reported, not an error).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

JSON_NAME, MD_NAME = "bench_gpu.json", "bench_gpu.md"
# codeja's LoRA settings (codeja.train.config.LoraConfig: r 16, alpha 32, every linear layer but the LM head);
# merge off, so a run writes only the small adapter, never the merged weights
LORA = {"enabled": True, "merge": False}
SECTIONS = ("cpt", "sft", "dpo", "generate")
CPT_MODES = {"plain": {"mode": "off", "fim_rate": 0.0}, "fim": {"mode": "context", "fim_rate": 0.5}}
# Dense bf16 tensor-core peaks from the vendors' datasheets (SXM parts), in FLOP/s; matched on the device
# name.
DATASHEET_BF16 = {
    "H200": 989e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10G": 70e12,
}
LLAMA3_ROPE = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}


# ------------------------------------------------------------------------------------------------------------
# model shapes and their FLOPs


@dataclass(frozen=True)
class Shape:
    """A Llama decoder's dimensions; ``vocab_size`` None means the tokenizer's size (the tiny test shape)."""

    name: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int | None
    tie_embeddings: bool
    rope: dict = field(default_factory=lambda: {"rope_type": "default", "rope_theta": 10000.0})
    max_position_embeddings: int = 131072

    def llama_config(self, tokenizer):
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=self.vocab_size or len(tokenizer),
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            num_key_value_heads=self.num_kv_heads,
            head_dim=self.head_dim,
            max_position_embeddings=self.max_position_embeddings,
            rms_norm_eps=1e-5,
            rope_parameters=dict(self.rope),
            tie_word_embeddings=self.tie_embeddings,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )


# The public config.json values of meta-llama/Llama-3.2-1B, Llama-3.2-3B and Llama-3.1-8B.
SHAPES = {
    "llama-3.2-1b": Shape(
        "llama-3.2-1b", 2048, 8192, 16, 32, 8, 64, 128256, True, {**LLAMA3_ROPE, "factor": 32.0}
    ),
    "llama-3.2-3b": Shape(
        "llama-3.2-3b", 3072, 8192, 28, 24, 8, 128, 128256, True, {**LLAMA3_ROPE, "factor": 32.0}
    ),
    "llama-3.1-8b": Shape(
        "llama-3.1-8b", 4096, 14336, 32, 32, 8, 128, 128256, False, {**LLAMA3_ROPE, "factor": 8.0}
    ),
    "tiny": Shape("tiny", 64, 128, 2, 4, 2, 16, None, True, max_position_embeddings=2048),
}


def matmul_params(shape: Shape, vocab_size: int) -> int:
    """Weights that take part in a matmul per token: q, k, v, o and the SwiGLU MLP of every layer, and the LM
    head (counted even when tied to the embedding, whose lookup is not a matmul)."""
    d = shape.hidden_size
    attn = d * shape.num_heads * shape.head_dim * 2 + d * shape.num_kv_heads * shape.head_dim * 2
    mlp = 3 * d * shape.intermediate_size
    return shape.num_layers * (attn + mlp) + d * vocab_size


def attention_flops_per_token(shape: Shape, seq_len: int) -> int:
    """Forward FLOPs of QK^T and attention x V per token, over the full window (PaLM's convention; a causal
    kernel computes about half)."""
    return 4 * shape.num_layers * shape.num_heads * shape.head_dim * seq_len


def train_flops_per_token(shape: Shape, vocab_size: int, seq_len: int, *, lora_params: int = 0) -> int:
    """Model FLOPs of one training token. Full training: 3 x forward (backward = 2 x forward). LoRA: the
    frozen weights need the forward and the input gradients (2 x their forward), the adapters 6 per parameter;
    attention has no weights, so 3 x its forward either way. Recomputation by activation checkpointing is not
    counted."""
    mm = 2 * matmul_params(shape, vocab_size)
    att = attention_flops_per_token(shape, seq_len)
    if lora_params:
        return 2 * mm + 3 * att + 6 * lora_params
    return 3 * (mm + att)


# ------------------------------------------------------------------------------------------------------------
# presets


@dataclass(frozen=True)
class Plan:
    """One model shape in a preset: how it trains and which sections run on it."""

    shape: str
    lora: bool = False
    activation_checkpointing: bool = False
    sections: tuple[str, ...] = SECTIONS
    seq_lens: tuple[int, ...] | None = None  # CPT lengths for this shape (default: the preset's)

    @property
    def label(self) -> str:
        return self.shape + (" LoRA" if self.lora else "")


@dataclass(frozen=True)
class Preset:
    plans: tuple[Plan, ...]
    seq_lens: tuple[int, ...]
    tokens_per_step: int  # CPT: batch = tokens_per_step // seq_len
    warmup: int  # optimizer steps dropped at the start of every run
    steps: int  # timed steps after the warm-up
    sft_length: int
    sft_batch: int
    dpo_batch: int
    gen_prompt_tokens: int
    gen_new_tokens: int
    gen_batch: int
    precision: str
    budget_s: float  # no case starts after this many seconds (0 = no limit)


PRESETS = {
    # One H100/H200 (80-141 GB), about 6 minutes. 1B trains without activation checkpointing at 16k tokens per
    # step; 3B needs it (its activations at 16k tokens are ~80 GB next to 51 GB of fp32 weights + AdamW
    # states).
    "gpu": Preset(
        plans=(
            Plan("llama-3.2-1b"),
            Plan("llama-3.2-3b", activation_checkpointing=True),
            Plan("llama-3.1-8b", lora=True, activation_checkpointing=True, sections=("cpt", "sft", "dpo")),
        ),
        seq_lens=(2048, 8192),
        tokens_per_step=16384,
        warmup=2,
        steps=3,
        sft_length=2048,
        sft_batch=8,
        dpo_batch=4,
        gen_prompt_tokens=512,
        gen_new_tokens=128,
        gen_batch=32,
        precision="bf16",
        budget_s=360,
    ),
    # Every section on CPU in tens of seconds: the CI test of this script.
    "tiny": Preset(
        # activation checkpointing on both, as the gpu preset's 3B and 8B train (1B's plain path is every
        # other training test's); LoRA as the 8B trains, its DPO using the adapter-free model as reference
        plans=(
            Plan("tiny", activation_checkpointing=True),
            Plan("tiny", lora=True, activation_checkpointing=True, sections=("cpt", "dpo"), seq_lens=(64,)),
        ),
        seq_lens=(64, 128),
        tokens_per_step=256,
        warmup=1,
        steps=2,
        sft_length=256,
        sft_batch=2,
        dpo_batch=1,
        gen_prompt_tokens=16,
        gen_new_tokens=8,
        gen_batch=4,
        precision="auto",
        budget_s=0,
    ),
}


# ------------------------------------------------------------------------------------------------------------
# device helpers


class Device:
    """CUDA when present, else CPU: synchronisation, peak memory, and the peak FLOP/s that MFU divides by."""

    def __init__(self, peak_tflops: float | None = None):
        import torch

        self.torch = torch
        self.cuda = torch.cuda.is_available()
        self.name = torch.cuda.get_device_name() if self.cuda else f"CPU, {torch.get_num_threads()} threads"
        self.matmul_tflops = self._matmul_tflops()
        datasheet = next((v for k, v in DATASHEET_BF16.items() if self.cuda and k in self.name), None)
        if peak_tflops:
            self.peak_flops, self.peak_source = peak_tflops * 1e12, "given (--peak-tflops)"
        elif datasheet:
            self.peak_flops, self.peak_source = datasheet, "datasheet dense bf16"
        else:
            self.peak_flops, self.peak_source = self.matmul_tflops * 1e12, "matmul measured in this run"

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def reset_peak(self) -> None:
        # hand the last case's memory back first; on a CPU a full gc pass costs seconds for nothing
        if self.cuda:
            gc.collect()
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float:
        """CUDA: the allocator's peak since reset_peak. CPU: the process's peak RSS (it never falls)."""
        if self.cuda:
            return self.torch.cuda.max_memory_allocated() / 2**30
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    @property
    def memory_kind(self) -> str:
        return "cuda max_memory_allocated per case" if self.cuda else "process peak RSS (cumulative)"

    def _matmul_tflops(self) -> float:
        """Median TFLOP/s of a square bf16 matmul (fp32 on CPUs without native bf16): the ceiling."""
        torch = self.torch
        from codeja.models import cpu_bf16_supported

        n, reps = (8192, 10) if self.cuda else (512, 5)
        dtype = torch.bfloat16 if self.cuda or cpu_bf16_supported() else torch.float32
        dev = "cuda" if self.cuda else "cpu"
        a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
        for _ in range(3):
            a @ b
        times = []
        for _ in range(reps):
            self.sync()
            t = time.perf_counter()
            a @ b
            self.sync()
            times.append(time.perf_counter() - t)
        return 2 * n**3 / statistics.median(times) / 1e12


def step_timer(device: Device, warmup: int, steps: int, probe_samples: int = 0):
    """A TrainerCallback timing the optimizer steps after the warm-up as one window.

    The device is synchronised at the window's two ends only, so inside it the host fetches the next batch
    while the device still works, as in a real run. ``probe_samples`` > 0: after training, also time fetching
    that many samples from the trainer's own dataset alone (for CPT: codeja's packing and FIM transform),
    median of three passes."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.window: dict[str, float] = {}
            self.first_step_s: float | None = None
            self.data_s_per_sample: float | None = None
            self.padded_samples = 0  # probed samples with pads at the end (the attention mask then has zeros)

        def on_train_begin(self, args, state, control, **kw):
            device.sync()
            self._t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if state.global_step in (1, warmup, warmup + steps):
                device.sync()
                now = time.perf_counter()
                if state.global_step == 1:
                    self.first_step_s = now - self._t0
                if state.global_step == warmup:
                    self.window.update(t0=now, tokens0=state.num_input_tokens_seen)
                if state.global_step == warmup + steps:
                    self.window.update(t1=now, tokens1=state.num_input_tokens_seen)

        def on_train_end(self, args, state, control, train_dataloader=None, **kw):
            if probe_samples and train_dataloader is not None:
                dataset = train_dataloader.dataset
                times = []
                for _ in range(3):  # the median of three passes: one stall does not make the figure
                    t = time.perf_counter()
                    samples = [dataset[i] for i in range(probe_samples)]
                    times.append((time.perf_counter() - t) / probe_samples)
                self.data_s_per_sample = statistics.median(times)
                self.padded_samples = sum(int((s["labels"][-1] == -100).item()) for s in samples)

    return StepTimer()


@contextlib.contextmanager
def prebuilt_model(model):
    """Run codeja's train_* functions on ``model`` (already on the device), reading and writing no weights."""
    from codeja.train import common

    saved = common.load_model, common.save_final

    def load_model(name, tokenizer=None):
        model.train()
        return model

    def save_final(trainer, tokenizer, output_dir):
        return Path(output_dir) / common.FINAL

    common.load_model, common.save_final = load_model, save_final
    try:
        yield
    finally:
        common.load_model, common.save_final = saved


# ------------------------------------------------------------------------------------------------------------
# data: codeja's own source, as a CPT corpus, as chats, as preference pairs and as prompts


def source_documents() -> list[dict[str, str]]:
    """Every .py and .md file of the installed codeja package, as {"id", "text"} documents (code with Japanese
    docs and strings), in a fixed order."""
    import codeja

    root = Path(codeja.__file__).parent
    files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".md") and p.is_file())
    docs = [{"id": str(p.relative_to(root)), "text": p.read_text(encoding="utf-8")} for p in files]
    return [d for d in docs if d["text"].strip()]


def text_windows(tokenizer, docs: list[dict[str, str]], n: int, tokens: int) -> list[str]:
    """``n`` texts of about ``tokens`` tokens each, cut from the documents laid end to end (repeating as
    needed)."""
    ids: list[int] = []
    k = 0
    while len(ids) < n * tokens:
        ids += tokenizer(docs[k % len(docs)]["text"], add_special_tokens=False)["input_ids"]
        k += 1
    return [tokenizer.decode(ids[i * tokens : (i + 1) * tokens]) for i in range(n)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def chat_tokens(tokenizer, messages: list[dict]) -> int:
    return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])


def sft_rows(tokenizer, docs, n: int, length: int) -> list[dict]:
    """Chats of about 0.85 x ``length`` tokens: a Japanese request around code, an answer with code."""

    def chat(q: str, a: str) -> dict:
        return {
            "messages": [
                {
                    "role": "user",
                    "content": f"次のコードを読んで、何をするか説明してください。\n```python\n{q}\n```",
                },
                {
                    "role": "assistant",
                    "content": f"このコードの要点を、整理した版で示します。\n```python\n{a}\n```",
                },
            ]
        }

    code = max(8, (int(length * 0.85) - chat_tokens(tokenizer, chat("", "")["messages"])) // 2)
    q, a = text_windows(tokenizer, docs, n, code), text_windows(tokenizer, docs[len(docs) // 2 :], n, code)
    return [chat(q[i], a[i]) for i in range(n)]


def dpo_rows(tokenizer, docs, n: int, length: int) -> list[dict]:
    """Pairs whose prompt + longer answer is about 0.85 x ``length`` tokens (the prompt about 45 % of it)."""

    def pair(p: str, c: str, r: str) -> dict:
        return {
            "prompt": [{"role": "user", "content": f"このコードを改善してください。\n{p}"}],
            "chosen": [{"role": "assistant", "content": c}],
            "rejected": [{"role": "assistant", "content": r}],
        }

    room = max(
        16,
        int(length * 0.85)
        - chat_tokens(tokenizer, pair("", "", "")["prompt"] + [{"role": "assistant", "content": ""}]),
    )
    p = text_windows(tokenizer, docs, n, int(room * 0.45))
    c = text_windows(tokenizer, docs[1:], n, int(room * 0.55))
    r = text_windows(tokenizer, docs[2:], n, int(room * 0.45))
    return [pair(p[i], c[i], r[i]) for i in range(n)]


# ------------------------------------------------------------------------------------------------------------
# the benchmark


class Bench:
    """Runs the cases of one preset: one row per case, the JSON and Markdown rewritten after each."""

    def __init__(self, preset: Preset, args: argparse.Namespace, device: Device, tokenizer_arg: str):
        self.p, self.args, self.dev = preset, args, device
        self.out = Path(args.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench_gpu_"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.t0 = time.monotonic()
        self.rows: list[dict[str, Any]] = []
        self.env = environment(device, preset, args)
        from codeja.models import load_tokenizer

        self.tokenizer_arg = tokenizer_arg
        self.tokenizer = load_tokenizer(tokenizer_arg)
        self.docs = source_documents()
        self._corpus: str | None = None

    # -- bookkeeping -----------------------------------------------------------------------------------------

    def over_budget(self) -> bool:
        return bool(self.p.budget_s) and time.monotonic() - self.t0 > self.p.budget_s

    def case(
        self, row: dict[str, Any], fn: Callable[[], dict[str, Any]], skip: str | None = None
    ) -> dict[str, Any]:
        """Run one case (unless ``skip`` says why not, or the time budget is spent); its row gets status ok /
        oom / error / skipped, and the outputs are rewritten."""
        row = {"section": row.pop("section"), "model": row.pop("model"), **row}
        if skip is None and self.over_budget():
            skip = f"time budget of {self.p.budget_s:.0f} s spent"
        if skip is not None:
            row.update(status="skipped", error=skip)
        else:
            self.dev.reset_peak()
            t, cpu = time.monotonic(), time.process_time()
            try:
                row.update(fn())
                row["status"] = "ok"
            except Exception as e:  # noqa: BLE001 - one failed case must not lose the others' figures
                oom = "out of memory" in str(e).lower() or type(e).__name__ == "OutOfMemoryError"
                row.update(status="oom" if oom else "error", error=f"{type(e).__name__}: {str(e)[:500]}")
                if not oom:
                    row["traceback"] = traceback.format_exc()[-3000:]
            row["peak_mem_gib"] = round(self.dev.peak_gib(), 2)
            row["wall_s"] = round(time.monotonic() - t, 1)
            row["host_cpu_s"] = round(time.process_time() - cpu, 1)  # all threads of this process
        self.rows.append(row)
        self.write()
        status = row["status"] + (f" ({row.get('error')})" if row["status"] != "ok" else "")
        print(
            f"[{time.monotonic() - self.t0:6.0f} s] {row['section']} {row['model']} "
            f"{row.get('seq_len') or ''} {row.get('mode') or ''}: {status}",
            file=sys.stderr,
            flush=True,
        )
        return row

    def write(self) -> None:
        doc = {"env": self.env | {"elapsed_s": round(time.monotonic() - self.t0, 1)}, "results": self.rows}
        (self.out / JSON_NAME).write_text(
            json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (self.out / MD_NAME).write_text(markdown(doc), encoding="utf-8")

    # -- shared inputs ---------------------------------------------------------------------------------------

    def corpus(self) -> str:
        """The indexed dataset (``codeja tokenize`` output) of codeja's own source, built once."""
        if self._corpus is None:
            from codeja.fim.config import TokenizeConfig
            from codeja.fim.tokenize import tokenize_corpus

            docs = write_jsonl(self.work / "docs.jsonl", self.docs)
            prefix = self.work / "corpus" / "code"
            tokenize_corpus(
                TokenizeConfig(input=str(docs), model=self.tokenizer_arg),
                prefix,
                tokenizer=self.tokenizer,
                progress=False,
            )
            self._corpus = str(prefix)
        return self._corpus

    def build_model(self, plan: Plan, folder: Path, *, weights: bool, adapters: bool = False):
        """The shape, randomly initialised on the device in fp32 (codeja's master weights) and saved as an HF
        folder (config + tokenizer, and bf16 weights when DPO's reference model or the generation backend read
        them). ``adapters``: wrapped in codeja's LoRA adapters (for CPT, whose config has no LoRA option)."""
        torch = self.dev.torch
        from transformers import LlamaForCausalLM

        shape = SHAPES[plan.shape]
        torch.manual_seed(0)
        with torch.device("cuda" if self.dev.cuda else "cpu"):
            model = LlamaForCausalLM(shape.llama_config(self.tokenizer))
        folder.mkdir(parents=True, exist_ok=True)
        if weights:
            model.to(torch.bfloat16).save_pretrained(folder)
            model.float()
        else:
            model.config.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        model.config._name_or_path = str(folder)  # where TRL's DPO loads the reference model from
        if adapters:
            from peft import get_peft_model

            from codeja.train.config import LoraConfig
            from codeja.train.lora import peft_config

            model = get_peft_model(model, peft_config(LoraConfig(**LORA)))
        return model

    def train_config(self, kind: str, plan: Plan, folder: Path, **extra):
        """A codeja stage config (CPTConfig / SFTConfig / DPOConfig): a log row per step, no checkpoints."""
        from codeja.train.config import CPTConfig, DPOConfig, SFTConfig

        cls = {"cpt": CPTConfig, "sft": SFTConfig, "dpo": DPOConfig}[kind]
        return cls.model_validate(
            {
                "model": str(folder),
                "max_steps": self.p.warmup + self.p.steps,
                "precision": self.p.precision,
                "activation_checkpointing": plan.activation_checkpointing,
                "logging_steps": 1,
                "save_steps": 0,
                "resume": False,
                **extra,
            }
        )

    def timed(self, timer, summary: dict[str, Any], run_dir: Path) -> dict[str, Any]:
        """tokens/s over the timed window, and codeja's own logged tokens/s (median) over the same steps."""
        from codeja.train.common import read_metrics

        w = timer.window
        if "t1" not in w:
            raise RuntimeError(
                f"the trainer stopped after {summary.get('steps')} optimizer steps, before the end of "
                f"the timed window ({self.p.warmup} + {self.p.steps})"
            )
        seconds, tokens = w["t1"] - w.get("t0", w["t1"]), w["tokens1"] - w.get("tokens0", 0)
        logged = [
            r["tokens_per_s"]
            for r in read_metrics(run_dir)
            if r.get("tokens_per_s") and r.get("step", 0) > self.p.warmup
        ]
        return {
            "steps": self.p.steps,
            "step_s": round(seconds / self.p.steps, 4),
            "first_step_s": round(timer.first_step_s, 3) if timer.first_step_s is not None else None,
            "tokens_per_step": round(tokens / self.p.steps),
            "tokens_per_s": round(tokens / seconds, 1),
            "codeja_logged_tokens_per_s": round(statistics.median(logged), 1) if logged else None,
            "final_loss": summary.get("final_loss"),
        }

    # -- sections --------------------------------------------------------------------------------------------

    def run_cpt(self, plan: Plan, model, folder: Path, seq_len: int, mode: str) -> dict[str, Any]:
        from codeja.train.cpt import train_cpt

        batch = max(1, self.p.tokens_per_step // seq_len)
        cfg = self.train_config(
            "cpt",
            plan,
            folder,
            data=self.corpus(),
            per_device_batch_size=batch,
            fim={**CPT_MODES[mode], "seq_len": seq_len},
            validation={"docs": 0},
        )
        run_dir = self.work / "runs" / f"cpt-{plan.shape}-{int(plan.lora)}-{seq_len}-{mode}"
        timer = step_timer(self.dev, self.p.warmup, self.p.steps, probe_samples=batch * 2)
        with prebuilt_model(model):
            summary = train_cpt(cfg, run_dir, callbacks=[timer])
        row = self.timed(timer, summary, run_dir)
        shape = SHAPES[plan.shape]
        flops = train_flops_per_token(shape, model.config.vocab_size, seq_len, lora_params=trainable(model))
        row.update(
            batch=batch,
            data_ms_per_step=round(timer.data_s_per_sample * batch * 1000, 2),
            padded_sample_fraction=round(timer.padded_samples / (batch * 2), 3),
            flops_per_token=flops,
            mfu=round(row["tokens_per_s"] * flops / self.dev.peak_flops, 4),
        )
        return row

    def run_fine_tune(self, kind: str, plan: Plan, model, folder: Path) -> dict[str, Any]:
        """One ``train_sft`` / ``train_dpo`` run. LoRA plans use codeja's own ``lora`` option, on a fresh base
        model (``model`` None): peft puts its adapters into the model it wraps, so a base serves one run."""
        from codeja.train.dpo import train_dpo
        from codeja.train.sft import train_sft

        batch = self.p.sft_batch if kind == "sft" else self.p.dpo_batch
        make_rows = sft_rows if kind == "sft" else dpo_rows
        n = batch * (self.p.warmup + self.p.steps)
        data = write_jsonl(
            self.work / f"{kind}.jsonl", make_rows(self.tokenizer, self.docs, n, self.p.sft_length)
        )
        extra = {"lora": LORA} if plan.lora else {}
        cfg = self.train_config(
            kind,
            plan,
            folder,
            data=str(data),
            per_device_batch_size=batch,
            max_length=self.p.sft_length,
            **extra,
        )
        if model is None:
            model = self.build_model(plan, folder, weights=False)
        run_dir = self.work / "runs" / f"{kind}-{plan.shape}-{int(plan.lora)}"
        timer = step_timer(self.dev, self.p.warmup, self.p.steps)
        with prebuilt_model(model):
            summary = (train_sft if kind == "sft" else train_dpo)(cfg, run_dir, callbacks=[timer])
        row = {
            **self.timed(timer, summary, run_dir),
            "batch": batch,
            "rows_trained": summary.get("rows_trained", summary.get("pairs_trained")),
            "trainable_parameters": summary.get("trainable_parameters"),
            "parameters": summary.get("total_parameters"),
        }
        if kind == "dpo":
            row["reference"] = "adapters disabled" if plan.lora else "frozen copy loaded from the folder"
        return row

    def run_generate(self, backend, prompts: list[str], batch: int) -> dict[str, Any]:
        from codeja.backends import SamplingParams

        backend.batch_size = batch
        params = SamplingParams(max_new_tokens=self.p.gen_new_tokens, temperature=0.0)
        self.dev.sync()
        t = time.perf_counter()
        gens = backend.complete(prompts, params)
        self.dev.sync()
        dt = time.perf_counter() - t
        new = sum(g[0].completion_tokens for g in gens)
        return {
            "batch": batch,
            "prompts": len(prompts),
            "prompt_tokens": sum(g[0].prompt_tokens for g in gens),
            "new_tokens": new,
            "wall_s_generate": round(dt, 3),
            "tokens_per_s": round(new / dt, 1),
            "tokens_per_s_per_sequence": round(new / dt / min(batch, len(prompts)), 2),
        }

    # -- the whole plan --------------------------------------------------------------------------------------

    def run(self, sections: tuple[str, ...]) -> None:
        for plan in self.p.plans:
            wanted = [s for s in plan.sections if s in sections]
            if wanted:
                self.run_plan(plan, wanted)

    def run_plan(self, plan: Plan, sections: list[str]) -> None:
        folder = self.work / "models" / plan.shape.replace(".", "_")
        base = {"model": plan.label, "activation_checkpointing": plan.activation_checkpointing}
        training = [s for s in sections if s != "generate"]
        needs_weights = "generate" in sections or ("dpo" in sections and not plan.lora)
        state: dict[str, Any] = {}

        def build() -> dict[str, Any]:
            adapters = plan.lora and "cpt" in training
            state["model"] = model = self.build_model(plan, folder, weights=needs_weights, adapters=adapters)
            return {
                "parameters": sum(p.numel() for p in model.parameters()),
                "trainable_parameters": trainable(model),
                "vocab_size": model.config.vocab_size,
                "attn_implementation": model.config._attn_implementation,
                "weights_saved": needs_weights,
            }

        built = self.case({"section": "build", **base}, build)
        if built["status"] != "ok":
            for s in sections:
                self.case({"section": s, **base}, dict, skip=f"model build: {built['status']}")
            return
        model = state.pop("model")
        for seq_len in (plan.seq_lens or self.p.seq_lens) if "cpt" in training else ():
            for mode in CPT_MODES:
                self.case(
                    {
                        "section": "cpt",
                        **base,
                        "seq_len": seq_len,
                        "mode": mode,
                        "fim_rate": CPT_MODES[mode]["fim_rate"],
                    },
                    partial(self.run_cpt, plan, model, folder, seq_len, mode),
                )
        if plan.lora:
            model = None  # it holds the CPT adapters now; each LoRA fine-tuning run builds its own base
        for kind in ("sft", "dpo"):
            if kind in training:
                self.case(
                    {"section": kind, **base, "seq_len": self.p.sft_length},
                    partial(self.run_fine_tune, kind, plan, model, folder),
                )
        del model
        self.dev.reset_peak()
        if "generate" in sections:
            self.generate_cases(plan, folder, base)
        shutil.rmtree(folder, ignore_errors=True)

    def generate_cases(self, plan: Plan, folder: Path, base: dict[str, Any]) -> None:
        from codeja.backends import SamplingParams, get_backend

        state: dict[str, Any] = {}
        prompts = text_windows(self.tokenizer, self.docs, self.p.gen_batch, self.p.gen_prompt_tokens)

        def load() -> dict[str, Any]:
            b = state["backend"] = get_backend(
                str(folder), "transformers", batch_size=self.p.gen_batch, progress=False
            )
            b.complete(prompts[:2], SamplingParams(max_new_tokens=4))  # warm-up: kernels, allocator
            return {"dtype": b.identity()["dtype"]}

        row = self.case({"section": "generate-load", **base}, load)
        for batch, ps in ((1, prompts[:1]), (self.p.gen_batch, prompts)):
            self.case(
                {
                    "section": "generate",
                    **base,
                    "seq_len": self.p.gen_prompt_tokens + self.p.gen_new_tokens,
                    "mode": f"batch {batch}",
                },
                lambda ps=ps, batch=batch: self.run_generate(state["backend"], ps, batch),
                skip=None if row["status"] == "ok" else f"backend load: {row['status']}",
            )
        if "backend" in state:
            state.pop("backend").close()


def export_tokenizer(source: str, dest: str | Path) -> Path:
    """Write ``source``'s tokenizer and model config (no weights) to ``dest``: what a machine without the
    bundled model needs for ``--tokenizer dest`` (codeja resolves a model folder by its config.json)."""
    from codeja.models import load_config, load_tokenizer

    dest = Path(dest)
    load_tokenizer(source).save_pretrained(dest)
    load_config(source).save_pretrained(dest)
    return dest


def trainable(model) -> int:
    """Trainable parameters of a peft model (its adapters); 0 for full training, as the FLOPs count takes."""
    return (
        sum(p.numel() for p in model.parameters() if p.requires_grad) if hasattr(model, "peft_config") else 0
    )


# ------------------------------------------------------------------------------------------------------------
# outputs


def environment(device: Device, preset: Preset, args: argparse.Namespace) -> dict[str, Any]:
    from importlib import metadata

    import torch

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    from codeja.runs import git_commit

    names = (
        "codeja",
        "torch",
        "transformers",
        "accelerate",
        "trl",
        "peft",
        "datasets",
        "megatron-core",
        "tokenizers",
    )
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/bench_gpu.py " + " ".join(args.argv),
        "preset": args.preset,
        "device": device.name,
        "cuda": torch.version.cuda if device.cuda else None,
        "capability": ".".join(map(str, torch.cuda.get_device_capability())) if device.cuda else None,
        "python": platform.python_version(),
        "versions": {n: version(n) for n in names},
        "git_commit": os.environ.get("CODEJA_GIT_COMMIT") or git_commit(),
        "matmul_tflops_measured": round(device.matmul_tflops, 3),
        "peak_tflops": round(device.peak_flops / 1e12, 3),
        "peak_source": device.peak_source,
        "memory": device.memory_kind,
        "plan": asdict(preset),
        "lora": _lora_settings(),
        "flops_convention": "PaLM: training 6N + 12 L H Q T per token (N: matmul weights incl. LM head; "
        "attention over the full window; LoRA: 4N_frozen + 6N_adapters + 12 L H Q T; no recompute)",
    }


def _lora_settings() -> dict[str, Any]:
    from codeja.train.config import LoraConfig

    return LoraConfig(**LORA).model_dump(mode="json")


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """ratio: CPT FIM against plain of the same model and sequence length; batch N against batch 1."""

    def key(r):
        return r["section"], r["model"], r.get("seq_len")

    base = {
        key(r): r["tokens_per_s"]
        for r in rows
        if r.get("status") == "ok" and r.get("mode") in ("plain", "batch 1")
    }
    for r in rows:
        if r.get("status") == "ok" and r["section"] in ("cpt", "generate") and key(r) in base:
            r["ratio"] = round(r["tokens_per_s"] / base[key(r)], 3)


# (title, row key, format) of the Markdown table's columns
COLUMNS = (
    ("section", "section", "{}"),
    ("model", "model", "{}"),
    ("seq", "seq_len", "{}"),
    ("mode", "mode", "{}"),
    ("batch", "batch", "{}"),
    ("tokens/s", "tokens_per_s", "{:,.0f}"),
    ("ratio", "ratio", "{:.3f}"),
    ("MFU", "mfu", "{:.1%}"),
    ("step s", "step_s", "{:.3f}"),
    ("data ms/step", "data_ms_per_step", "{:.1f}"),
    ("peak GiB", "peak_mem_gib", "{:.1f}"),
    ("status", "status", "{}"),
)
NOTE = (
    "ratio: CPT context FIM (rate 0.5) tokens/s over plain packing of the same model and length (1.000 = no "
    "loader overhead); generation batch N over batch 1. +ckpt: activation checkpointing. data ms/step: "
    "fetching one step's samples through codeja's dataset alone. tokens/s: non-padding input tokens per "
    "second over the timed steps after the warm-up (device synchronised at the window's ends); generation: "
    "new tokens per second."
)


def markdown(doc: dict[str, Any]) -> str:
    env, rows = doc["env"], doc["results"]
    add_ratios(rows)
    v = env["versions"]
    cuda = f" (CUDA {env['cuda']})" if env.get("cuda") else ""
    lines = [
        f"# codeja on {env['device']}",
        "",
        (
            f"{env['date']}; `{env['command']}`; commit {env.get('git_commit') or 'unknown'}; "
            f"python {env['python']}, torch {v['torch']}{cuda}, transformers {v['transformers']}, "
            f"trl {v['trl']}, peft {v['peft']}, accelerate {v['accelerate']}; precision "
            f"{env['plan']['precision']}; MFU against {env['peak_tflops']:g} TFLOP/s ({env['peak_source']}); "
            f"a square matmul ran at {env['matmul_tflops_measured']:g} TFLOP/s here; memory: {env['memory']}."
        ),
        "",
        "| " + " | ".join(title for title, _, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in rows:
        if r["section"] in ("build", "generate-load") and r["status"] == "ok":
            continue
        ckpt = r.get("activation_checkpointing") and r["section"] in ("cpt", "sft", "dpo")
        shown = dict(r, model=r["model"] + (" +ckpt" if ckpt else ""))
        if r["status"] != "ok":
            shown["status"] = f"{r['status']}: {r.get('error', '')[:80]}"
        cells = ["" if shown.get(key) is None else fmt.format(shown[key]) for _, key, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", NOTE, ""])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="gpu: 1B/3B/8B-LoRA at 2048/8192; tiny: every section on CPU in seconds "
        "(default: gpu when CUDA is available, else tiny)",
    )
    ap.add_argument("--quick", action="store_true", help="the tiny preset (benchmarks/run_all.py --quick)")
    ap.add_argument("--tokenizer", default="tiny", help="tokenizer folder or model alias (default: tiny)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    ap.add_argument("--shapes", default=None, help="comma list of the preset's shapes to run (default: all)")
    ap.add_argument(
        "--seq-lens", default=None, help="comma list overriding the preset's CPT sequence lengths"
    )
    ap.add_argument("--steps", type=int, default=None, help="timed optimizer steps per run")
    ap.add_argument("--tokens-per-step", type=int, default=None, help="CPT tokens per optimizer step")
    ap.add_argument(
        "--warmup", type=int, default=None, help="optimizer steps dropped at the start of each run"
    )
    ap.add_argument(
        "--budget-s", type=float, default=None, help="start no case after this many seconds (0: none)"
    )
    ap.add_argument(
        "--peak-tflops", type=float, default=None, help="peak FLOP/s for MFU (default: datasheet)"
    )
    ap.add_argument("--out-dir", default="benchmarks/results/gpu", help="where bench_gpu.json / .md go")
    ap.add_argument(
        "--work-dir", default=None, help="scratch folder (default: a new temp folder, removed after)"
    )
    ap.add_argument(
        "--export-tokenizer",
        metavar="DIR",
        default=None,
        help="only write --tokenizer's tokenizer and config (no weights) to DIR, for a machine without it",
    )
    args = ap.parse_args(argv)
    args.argv = argv
    if args.export_tokenizer:
        print(export_tokenizer(args.tokenizer, args.export_tokenizer))
        return 0

    import torch

    from codeja.fim.config import FIMConfig  # noqa: F401 - fail before any device work if codeja is absent

    args.preset = "tiny" if args.quick else args.preset or ("gpu" if torch.cuda.is_available() else "tiny")
    preset = PRESETS[args.preset]
    changes: dict[str, Any] = {
        k: getattr(args, k)
        for k in ("steps", "warmup", "budget_s", "tokens_per_step")
        if getattr(args, k) is not None
    }
    plans = preset.plans
    if args.shapes:
        keep = args.shapes.split(",")
        unknown = [s for s in keep if s not in {p.shape for p in plans}]
        if unknown:
            ap.error(
                f"--shapes {','.join(unknown)}: not in preset {args.preset} "
                f"({', '.join(sorted({p.shape for p in plans}))})"
            )
        plans = tuple(p for p in plans if p.shape in keep)
    if args.seq_lens:
        changes["seq_lens"] = tuple(int(x) for x in args.seq_lens.split(","))
        plans = tuple(replace(p, seq_lens=None) for p in plans)
    changes["plans"] = plans
    if (args.steps is not None and args.steps < 1) or (args.warmup is not None and args.warmup < 1):
        ap.error("--steps and --warmup must be at least 1 (the first step holds one-time set-up work)")
    sections = tuple(s for s in args.sections.split(",") if s)
    if not sections or set(sections) - set(SECTIONS):
        ap.error(f"--sections: choose from {', '.join(SECTIONS)}")
    preset = replace(preset, **changes)

    device = Device(args.peak_tflops)
    bench = Bench(preset, args, device, args.tokenizer)
    print(
        f"{device.name}: {len(preset.plans)} model shape(s), sections {','.join(sections)}, "
        f"writing {bench.out / JSON_NAME}",
        file=sys.stderr,
        flush=True,
    )
    try:
        bench.run(sections)
    finally:
        bench.write()
        if not args.work_dir:
            shutil.rmtree(bench.work, ignore_errors=True)
    print((bench.out / MD_NAME).read_text(encoding="utf-8"))
    return 1 if any(r["status"] == "error" for r in bench.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
