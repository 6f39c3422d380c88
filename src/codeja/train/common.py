"""What cpt, sft and dpo share: precision choice, model loading, TrainingArguments, metrics.jsonl with tokens/s,
the loss-curve image, resume bookkeeping and the returned summary.

Heavy imports (torch, transformers) happen inside functions so that importing ``codeja.train`` stays cheap.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from codeja.errors import ConfigError
from codeja.io import read_jsonl
from codeja.log import use_codeja_trainer_progress
from codeja.models import load_causal_lm
from codeja.models import load_tokenizer as _load
from codeja.models.loading import cpu_bf16_supported
from codeja.report.fonts import pyplot
from codeja.runs import METRICS, StageRun
from codeja.train import lora  # lora imports this module

LOSS_PNG = "loss.png"
CHECKPOINTS = "checkpoints"
FINAL = "model"


# ---------------------------------------------------------------------------------------------------------------
# precision


def resolve_precision(precision: str) -> str:
    """'auto' -> 'bf16' on a bf16-capable GPU or CPU, else 'fp32'. An explicit choice is checked, not ignored."""
    # heavy: torch, transformers, datasets (kept out of `codeja --help` and light imports)
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "bf16" if cpu_bf16_supported() else "fp32"
    if precision == "fp16" and not cuda:
        raise ConfigError("precision: fp16 needs a CUDA GPU; use bf16 or fp32 on a CPU")
    return precision


# ---------------------------------------------------------------------------------------------------------------
# models


def load_tokenizer(model: str):
    """The model's tokenizer through codeja.models ('tiny', HF folder, hub id); pad falls back to EOS."""
    return _load(model)


def load_model(model: str, tokenizer=None):
    """Load a causal LM in fp32 (master weights; bf16 comes from autocast), in train mode, with embeddings grown to
    cover the tokenizer (e.g. freshly added FIM sentinels)."""
    import torch

    m = load_causal_lm(model, dtype=torch.float32)
    m.train()
    if tokenizer is not None and len(tokenizer) > m.get_input_embeddings().weight.shape[0]:
        m.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    if m.generation_config is not None and tokenizer is not None and m.generation_config.pad_token_id is None:
        m.generation_config.pad_token_id = tokenizer.pad_token_id
    return m


# ---------------------------------------------------------------------------------------------------------------
# TrainingArguments


def training_kwargs(cfg, output_dir: Path, precision: str) -> dict[str, Any]:
    """The TrainingArguments fields common to Trainer, SFTTrainer and DPOTrainer, from a codeja TrainBase config.

    Explicit values for everything TRL overrides by default (bf16=True, gradient checkpointing on, logging every
    10 steps), so a codeja config means the same thing under all three trainers.
    """
    import torch

    o = cfg.optim
    sched, sched_kwargs = o.scheduler, {}
    if o.scheduler == "cosine" and o.min_lr_ratio > 0:
        sched, sched_kwargs = "cosine_with_min_lr", {"min_lr_rate": o.min_lr_ratio}
    elif o.scheduler == "constant":
        sched = "constant_with_warmup"
    # sft/dpo may train by epochs (max_steps None): warmup is then a ratio of the steps the Trainer computes
    epochs = getattr(cfg, "num_train_epochs", None)
    return dict(
        output_dir=str(output_dir / CHECKPOINTS),
        max_steps=cfg.max_steps if cfg.max_steps else -1,
        num_train_epochs=epochs or 1.0,
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=o.learning_rate,
        lr_scheduler_type=sched,
        lr_scheduler_kwargs=sched_kwargs,
        warmup_steps=int(math.ceil(o.warmup_ratio * cfg.max_steps)) if cfg.max_steps else o.warmup_ratio,
        weight_decay=o.weight_decay,
        adam_beta1=o.adam_beta1,
        adam_beta2=o.adam_beta2,
        max_grad_norm=o.max_grad_norm,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        activation_checkpointing=cfg.activation_checkpointing,
        logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or cfg.max_steps or 500,  # with save_steps 0 nothing is saved (strategy "no")
        save_total_limit=cfg.save_total_limit,
        report_to=list(cfg.report_to) or "none",
        seed=cfg.seed,
        data_seed=cfg.seed,
        dataloader_num_workers=cfg.dataloader_num_workers,
        include_num_input_tokens_seen="non_padding",
    )


# ---------------------------------------------------------------------------------------------------------------
# metrics, tokens/s, resume bookkeeping


def make_callbacks(output_dir: Path, run: StageRun, resume_step: int = 0) -> list:
    """Trainer callbacks: metrics.jsonl with train-time tokens/s, and progress.json entries for each checkpoint.

    Also makes the Trainer's progress bars codeja's (labelled "train" / "held-out eval", log dicts on stderr only
    with --verbose; see :func:`codeja.log.trainer_progress_class`).
    """
    from transformers import TrainerCallback

    use_codeja_trainer_progress()

    class MetricsCallback(TrainerCallback):
        """Write one JSON row per log event, with tokens/s over training time.

        Training time runs from the end of one optimizer step to the end of the next, so it includes fetching
        the batch (the Trainer loads a step's micro-batches before on_step_begin: the FIM transform's cost must
        show), while the time spent logging, evaluating and saving is excluded (the clock restarts after them).
        """

        def __init__(self):
            self.path = output_dir / METRICS
            self.train_s = 0.0
            self._t = None
            self._last = (0.0, 0)  # (train seconds, tokens) at the previous train log

        def on_train_begin(self, args, state, control, **kw):
            # On resume drop rows logged after the checkpoint we restart from, so the file has each step once.
            rows = read_metrics(output_dir) if self.path.exists() else []
            keep = [r for r in rows if r.get("step", 0) <= resume_step] if resume_step else []
            self.path.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
            self._last = (0.0, state.num_input_tokens_seen)
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            now = time.perf_counter()
            if self._t is not None:
                self.train_s += now - self._t
            self._t = now

        def _restart_clock(self, *a, **kw):
            self._t = time.perf_counter()

        on_evaluate = on_save = _restart_clock

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs:
                return
            row: dict[str, Any] = {"step": state.global_step}
            for k, v in logs.items():
                if isinstance(v, (int, float)) and not k.startswith("train_") and k != "total_flos":
                    row[k] = v
            if "loss" in logs:
                tokens = state.num_input_tokens_seen
                dt = self.train_s - self._last[0]
                row["tokens_per_s"] = round((tokens - self._last[1]) / dt, 2) if dt > 0 else None
                row["train_s"] = round(self.train_s, 3)
                self._last = (self.train_s, tokens)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            self._t = time.perf_counter()  # logging is not training time

    class CheckpointProgress(TrainerCallback):
        """Record each written checkpoint as a done unit so an interrupted run knows it can resume from it."""

        def on_save(self, args, state, control, **kw):
            if state.is_world_process_zero:
                run.mark_done(f"checkpoint-{state.global_step}", step=state.global_step)

    return [MetricsCallback(), CheckpointProgress()]


def resume_checkpoint(run: StageRun, output_dir: Path, enabled: bool) -> str | None:
    """The newest checkpoint recorded by an interrupted run with the same config and inputs, else None.

    stage_run discards progress.json when the config or inputs changed, so a checkpoint of a different run is never
    resumed from (it would silently mix two configurations).
    """
    if not enabled:
        return None
    steps = []
    for unit in run.done:
        if unit.startswith("checkpoint-"):
            path = output_dir / CHECKPOINTS / unit
            if (path / "trainer_state.json").is_file():
                steps.append((int(unit.split("-")[1]), path))
    return str(max(steps)[1]) if steps else None


def checkpoint_step(checkpoint: str | None) -> int:
    """Global step of a ``checkpoint-N`` folder (0 for None)."""
    return int(Path(checkpoint).name.rsplit("-", 1)[1]) if checkpoint else 0


def read_metrics(output_dir: Path) -> list[dict[str, Any]]:
    path = Path(output_dir) / METRICS
    if not path.exists():
        return []
    return read_jsonl(path)


def plot_loss_curve(output_dir: Path, title: str) -> Path:
    """loss.png: training loss per step, plus any eval_*loss series as markers."""
    plt = pyplot()  # Agg, with a Japanese-capable font

    rows = read_metrics(output_dir)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    if train:
        ax.plot(*zip(*train), label="train loss", lw=1.5)
    eval_keys = sorted({k for r in rows for k in r if k.startswith("eval_") and k.endswith("loss")})
    for k in eval_keys:
        pts = [(r["step"], r[k]) for r in rows if k in r]
        ax.plot(*zip(*pts), "o--", label=k.removeprefix("eval_"))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if train or eval_keys:
        ax.legend()
    path = Path(output_dir) / LOSS_PNG
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def summarize(output_dir: Path, trainer, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dict every train_* returns (and records in the manifest)."""
    rows = read_metrics(output_dir)
    losses = [r["loss"] for r in rows if "loss" in r]
    speeds = sorted(r["tokens_per_s"] for r in rows if r.get("tokens_per_s"))
    summary = {
        "final_loss": losses[-1] if losses else None,
        "first_loss": losses[0] if losses else None,
        "steps": trainer.state.global_step,
        "tokens_seen": trainer.state.num_input_tokens_seen,
        "tokens_per_s": speeds[len(speeds) // 2] if speeds else None,  # median over logged intervals
        "model_path": str(Path(output_dir) / FINAL),
        "metrics": str(Path(output_dir) / METRICS),
        "loss_curve": str(Path(output_dir) / LOSS_PNG),
    }
    summary.update(extra or {})
    return summary


def save_final(trainer, tokenizer, output_dir: Path) -> Path:
    """The HF checkpoint transformers loads: output_dir/model (weights, config, tokenizer, chat template)."""
    final = Path(output_dir) / FINAL
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    return final


def fit_trl(trainer_cls, cfg, run: StageRun, out: Path, *, model, args, rows: list[dict], tokenizer,
            callbacks: list | None, plot_title: str, **trainer_kwargs) -> tuple[Any, str | None, Path, dict[str, Any]]:
    """Build a TRL trainer (SFT or DPO) on ``rows``, train it (resuming where the run left off), save the final model
    (merged or adapter, per ``cfg.lora``) and the loss curve. Returns the trainer, the checkpoint resumed from, the
    final model's folder and its parameter counts and save details."""
    from datasets import Dataset

    resume = resume_checkpoint(run, out, cfg.resume)
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora.peft_config(cfg.lora),
        callbacks=make_callbacks(out, run, checkpoint_step(resume)) + list(callbacks or []),
        **trainer_kwargs,
    )
    params = lora.parameter_counts(trainer.model)
    trainer.train(resume_from_checkpoint=resume)
    final, saved = lora.save_final(trainer, tokenizer, out, cfg.lora)
    plot_loss_curve(out, plot_title)
    return trainer, resume, final, {**params, **saved}
