"""Continued pretraining with FIM on transformers' Trainer.

Data: the FIM torch dataset over a Megatron indexed dataset (``codeja tokenize`` output). It is index-addressable
and deterministic per (seed, epoch, index), so the data order is a pure function of the position in training:
:class:`TrainOrder` maps position ``p`` to ``(epoch, index)`` through a per-epoch permutation seeded by
``(seed, epoch)``, and the Trainer reads positions sequentially. Resuming therefore replays exactly the same
samples after the checkpoint (the Trainer skips the consumed batches by position without loading them), and the
optimizer, scheduler and RNG states come back from the HF checkpoint.

Validation: the last ``validation.samples`` packed samples are held out of training and evaluated twice, with
FIM rate 0 (left-to-right only) and FIM rate 1 (every document FIM'd): the same tokens, two views.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from codeja.errors import InputError
from codeja.runs import stage_run
from codeja.train import common
from codeja.train.config import CPTConfig


def _fim_module():
    from codeja.train import _fim_standin as fim  # TODO(issue 5): codeja.fim

    return fim


class TrainOrder:
    """A torch map-style dataset over positions 0..total-1 of training: position -> (epoch, shuffled index)."""

    def __init__(self, make_dataset, n_train: int, total: int, seed: int):
        self.make_dataset, self.n_train, self.total, self.seed = make_dataset, n_train, total, seed
        self._epoch_cache: dict[int, tuple[Any, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.total

    def _epoch(self, epoch: int):
        if epoch not in self._epoch_cache:
            self._epoch_cache.clear()  # one epoch at a time; positions are read in order
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n_train)
            self._epoch_cache[epoch] = (self.make_dataset(epoch), perm)
        return self._epoch_cache[epoch]

    def __getitem__(self, position: int) -> dict[str, Any]:
        epoch, offset = divmod(int(position), self.n_train)
        ds, perm = self._epoch(epoch)
        return ds[int(perm[offset])]


class HeldOut:
    """A fixed slice of sample indices of a dataset (the validation tail)."""

    def __init__(self, dataset, indices: range):
        self.dataset, self.indices = dataset, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.dataset[self.indices[i]]


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack fixed-length samples; attention covers every real token (pads are only ever at the end, label -100)."""
    import torch

    input_ids = torch.tensor([it["input_ids"] for it in items], dtype=torch.long)
    labels = torch.tensor([it["labels"] for it in items], dtype=torch.long)
    return {"input_ids": input_ids, "labels": labels, "attention_mask": (labels != -100).long()}


def _check_prefix(prefix: str) -> None:
    missing = [s for s in (".bin", ".idx") if not Path(prefix + s).is_file()]
    if not prefix or missing:
        raise InputError(f"indexed dataset not found (missing {', '.join(prefix + s for s in missing) or '.bin/.idx'});"
                         " pass the prefix written by `codeja tokenize`, without .bin/.idx", path=prefix or "<data>",
                         field="data")


def _make_trainer_class():
    import torch
    from transformers import Trainer

    class CPTTrainer(Trainer):
        """Trainer reading positions in order: the shuffle lives in TrainOrder, where it is a function of the seed."""

        def _get_train_sampler(self, train_dataset=None):
            return torch.utils.data.SequentialSampler(train_dataset or self.train_dataset)

    return CPTTrainer


def build_datasets(cfg: CPTConfig, tokenizer) -> dict[str, Any]:
    """Training order and the two validation views, plus the counts for the manifest."""
    fim = _fim_module()
    base = fim.FIMDataset(cfg.data, tokenizer, cfg.fim)
    n = len(base)
    n_val = min(cfg.validation.samples, max(0, n - 1))
    n_train = n - n_val
    if cfg.limit_train_samples:
        n_train = min(n_train, cfg.limit_train_samples)
    if n_train < 1:
        raise InputError(f"only {n} packed samples of {cfg.fim.seq_len} tokens; need more data or a smaller "
                         "fim.seq_len", path=cfg.data, field="data")
    per_step = cfg.per_device_batch_size * cfg.grad_accum * _world_size()
    total = cfg.max_steps * per_step

    def make(epoch: int):
        return base if epoch == 0 else fim.FIMDataset(cfg.data, tokenizer, cfg.fim, epoch=epoch)

    out: dict[str, Any] = {
        "train": TrainOrder(make, n_train, total, cfg.seed),
        "counts": {"samples": n, "train_samples": n_train, "heldout_samples": n_val,
                   "epochs": round(total / n_train, 3), "tokens_per_step": per_step * cfg.fim.seq_len},
        "eval": None,
    }
    if n_val:
        held = range(n_train, n)
        fim_mode = cfg.fim.mode if cfg.fim.mode != "off" else "context"
        l2r = fim.FIMDataset(cfg.data, tokenizer, cfg.fim.model_copy(update={"fim_rate": 0.0}))
        fim_all = fim.FIMDataset(cfg.data, tokenizer, cfg.fim.model_copy(update={"fim_rate": 1.0, "mode": fim_mode}))
        out["eval"] = {"l2r": HeldOut(l2r, held), "fim": HeldOut(fim_all, held)}
    return out


def _world_size() -> int:
    import os

    return int(os.environ.get("WORLD_SIZE", "1"))


def train_cpt(cfg: CPTConfig, output_dir: str | Path, *, callbacks: list | None = None) -> dict[str, Any]:
    """Continued pretraining; returns a summary (final loss, steps, tokens/s, held-out losses, model path).

    ``output_dir`` gets ``manifest.json``, ``metrics.jsonl``, ``loss.png``, resumable ``checkpoints/`` and the
    final HF checkpoint in ``model/``. ``callbacks`` are extra transformers TrainerCallbacks.
    """
    if cfg.engine == "megatron":
        from codeja.train.megatron import run_megatron

        return run_megatron(cfg, output_dir)
    _check_prefix(cfg.data)
    out = Path(output_dir)
    inputs = [cfg.data + ".bin", cfg.data + ".idx"]
    with stage_run(out, "train.cpt", cfg, inputs=inputs, seeds={"seed": cfg.seed, "fim_seed": cfg.fim.seed}) as run:
        if run.skipped:
            return run.manifest["summary"]
        from transformers import TrainingArguments

        precision = common.resolve_precision(cfg.precision)
        tokenizer = common.load_tokenizer(cfg.model)
        data = build_datasets(cfg, tokenizer)
        model = common.load_model(cfg.model, tokenizer)
        resume = common.resume_checkpoint(run, out, cfg.resume)
        resume_step = common.checkpoint_step(resume)
        kwargs = common.training_kwargs(cfg, out, precision)
        if data["eval"]:
            kwargs.update(eval_strategy="steps" if cfg.validation.eval_steps else "no",
                          eval_steps=cfg.validation.eval_steps or None,
                          per_device_eval_batch_size=cfg.validation.batch_size)
        args = TrainingArguments(**kwargs)
        trainer = _make_trainer_class()(
            model=model, args=args, train_dataset=data["train"], eval_dataset=data["eval"],
            data_collator=collate, processing_class=tokenizer,
            callbacks=common.make_callbacks(out, run, resume_step) + list(callbacks or []),
        )
        run.record(precision=precision, data_counts=data["counts"], resumed_from=resume)
        trainer.train(resume_from_checkpoint=resume)
        heldout = trainer.evaluate() if data["eval"] else {}
        final = common.save_final(trainer, tokenizer, out)
        common.plot_loss_curve(out, f"cpt: {Path(cfg.model).name} fim={cfg.fim.mode}@{cfg.fim.fim_rate}")
        summary = common.summarize(out, trainer, {
            "precision": precision,
            "heldout_loss_l2r": heldout.get("eval_l2r_loss"),
            "heldout_loss_fim": heldout.get("eval_fim_loss"),
            **data["counts"],
        })
        summary["model_path"] = str(final)
        run.record(summary=summary)
        return summary
