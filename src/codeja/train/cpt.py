"""Continued pretraining with FIM on transformers' Trainer.

Data: the FIM torch dataset over a Megatron indexed dataset (``codeja tokenize`` output). It is index-addressable
and deterministic per (seed, epoch, index), so the data order is a pure function of the position in training:
:class:`TrainOrder` maps position ``p`` to ``(epoch, index)`` through a per-epoch permutation seeded by
``(seed, epoch)``, and the Trainer reads positions sequentially. Resuming therefore replays exactly the same
samples after the checkpoint (the Trainer skips the consumed batches by position without loading them), and the
optimizer, scheduler and RNG states come back from the HF checkpoint.

Validation: the last ``validation.docs`` documents are held out of training and evaluated twice, packed in a fixed
order, with FIM rate 0 (left-to-right only) and FIM rate 1 (every document FIM'd): the same documents, two views.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from codeja.errors import InputError
from codeja.runs import stage_run
from codeja.train import common
from codeja.train.config import CPTConfig


class TrainOrder:
    """A torch map-style dataset over positions 0..total-1 of training: position -> (epoch, shuffled index).

    The FIM dataset already shuffles documents per epoch; this adds a per-epoch permutation of the packed samples
    so that a batch does not hold neighbouring windows of the same documents.
    """

    def __init__(self, dataset, n_train: int, total: int, seed: int):
        self.dataset, self.n_train, self.total, self.seed = dataset, n_train, total, seed
        self._perm: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.total

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng([self.seed, epoch]).permutation(self.n_train))
        return self._perm[1]

    def __getitem__(self, position: int) -> dict[str, Any]:
        epoch, offset = divmod(int(position), self.n_train)
        self.dataset.set_epoch(
            epoch
        )  # the item is a pure function of (seed, epoch, index); no state carries over
        return self.dataset[int(self._permutation(epoch)[offset])]


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack fixed-length samples; attention covers every real token (pads are only ever at the end, label -100)."""
    import torch

    input_ids = torch.stack([torch.as_tensor(it["input_ids"], dtype=torch.long) for it in items])
    labels = torch.stack([torch.as_tensor(it["labels"], dtype=torch.long) for it in items])
    return {"input_ids": input_ids, "labels": labels, "attention_mask": (labels != -100).long()}


def _check_prefix(prefix: str) -> None:
    missing = [s for s in (".bin", ".idx") if not Path(prefix + s).is_file()]
    if not prefix or missing:
        raise InputError(
            f"indexed dataset not found (missing {', '.join(prefix + s for s in missing) or '.bin/.idx'});"
            " pass the prefix written by `codeja tokenize`, without .bin/.idx",
            path=prefix or "<data>",
            field="data",
        )


def _make_trainer_class():
    import torch
    from transformers import Trainer

    class CPTTrainer(Trainer):
        """Trainer reading positions in order: the shuffle lives in TrainOrder, where it is a function of the seed."""

        def _get_train_sampler(self, train_dataset=None):
            return torch.utils.data.SequentialSampler(train_dataset or self.train_dataset)

    return CPTTrainer


def build_datasets(cfg: CPTConfig, tokenizer) -> dict[str, Any]:
    """Training order over the kept documents and the two validation views of the held-out ones, plus counts."""
    from codeja.fim.dataset import FIMDataset
    from codeja.fim.packing import open_indexed

    n_docs = len(open_indexed(cfg.data))
    k = min(cfg.validation.docs, max(0, n_docs - 1))
    train_docs, held_docs = range(0, n_docs - k), range(n_docs - k, n_docs)
    train = FIMDataset(cfg.data, tokenizer, cfg.fim, split_docs=train_docs)
    n_train = len(train)
    if cfg.limit_train_samples:
        n_train = min(n_train, cfg.limit_train_samples)
    if n_train < 1:
        raise InputError(
            f"{len(train_docs)} training documents fill no sample of {cfg.fim.seq_len} tokens; need "
            "more data or a smaller fim.seq_len",
            path=cfg.data,
            field="data",
        )
    per_step = cfg.per_device_batch_size * cfg.grad_accum * _world_size()
    total = cfg.max_steps * per_step
    out: dict[str, Any] = {
        "train": TrainOrder(train, n_train, total, cfg.seed),
        "counts": {
            "documents": n_docs,
            "train_documents": len(train_docs),
            "heldout_documents": k,
            "train_samples": n_train,
            "epochs": round(total / n_train, 3),
            "tokens_per_step": per_step * cfg.fim.seq_len,
        },
        "eval": None,
    }
    if k:
        fim_mode = cfg.validation.fim_mode or (cfg.fim.mode if cfg.fim.mode != "off" else "context")
        # the same held-out documents, packed the same way (fixed order), seen left-to-right and all-FIM
        fixed = {"shuffle_docs": False, "fragment_separator": None, "fragment_rate": None}
        l2r = FIMDataset(
            cfg.data, tokenizer, cfg.fim.model_copy(update={**fixed, "fim_rate": 0.0}), split_docs=held_docs
        )
        fim_all = FIMDataset(
            cfg.data,
            tokenizer,
            cfg.fim.model_copy(update={**fixed, "fim_rate": 1.0, "mode": fim_mode}),
            split_docs=held_docs,
        )
        if len(l2r) == 0:
            raise InputError(
                f"the {k} held-out documents fill no sample of {cfg.fim.seq_len} tokens; raise "
                "validation.docs or set it to 0",
                path=cfg.data,
                field="validation.docs",
            )
        out["eval"] = {"l2r": l2r, "fim": fim_all}
        out["counts"]["heldout_samples"] = len(l2r)
    return out


def _world_size() -> int:
    import os

    return int(os.environ.get("WORLD_SIZE", "1"))


def train_cpt(cfg: CPTConfig, output_dir: str | Path, *, callbacks: list | None = None) -> dict[str, Any]:
    """Continued pretraining; returns a summary (final loss, steps, tokens/s, held-out losses, model path).

    ``output_dir`` gets ``manifest.json``, ``metrics.jsonl``, ``loss.png``, resumable ``checkpoints/`` and the
    final HF checkpoint in ``model/``. ``callbacks`` are extra transformers TrainerCallbacks.
    """
    from codeja.train.launch import maybe_relaunch

    if (launched := maybe_relaunch("cpt", cfg, output_dir)) is not None:
        return launched
    if cfg.engine == "megatron":
        from codeja.train.megatron import run_megatron

        return run_megatron(cfg, output_dir)
    _check_prefix(cfg.data)
    out = Path(output_dir)
    inputs = [cfg.data + ".bin", cfg.data + ".idx"]
    with stage_run(
        out, "train.cpt", cfg, inputs=inputs, seeds={"seed": cfg.seed, "fim_seed": cfg.fim.seed}
    ) as run:
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
            kwargs.update(
                eval_strategy="steps" if cfg.validation.eval_steps else "no",
                eval_steps=cfg.validation.eval_steps or None,
                eval_on_start=cfg.validation.eval_on_start,
                per_device_eval_batch_size=cfg.validation.batch_size,
            )
        args = TrainingArguments(**kwargs)
        trainer = _make_trainer_class()(
            model=model,
            args=args,
            train_dataset=data["train"],
            eval_dataset=data["eval"],
            data_collator=collate,
            processing_class=tokenizer,
            callbacks=common.make_callbacks(out, run, resume_step) + list(callbacks or []),
        )
        run.record(precision=precision, data_counts=data["counts"], resumed_from=resume)
        trainer.train(resume_from_checkpoint=resume)
        heldout = trainer.evaluate() if data["eval"] else {}
        final = common.save_final(trainer, tokenizer, out)
        common.plot_loss_curve(out, f"cpt: {Path(cfg.model).name} fim={cfg.fim.mode}@{cfg.fim.fim_rate}")
        summary = common.summarize(
            out,
            trainer,
            {
                "precision": precision,
                "heldout_loss_l2r": heldout.get("eval_l2r_loss"),
                "heldout_loss_fim": heldout.get("eval_fim_loss"),
                **data["counts"],
            },
        )
        summary["model_path"] = str(final)
        run.record(summary=summary)
        return summary
