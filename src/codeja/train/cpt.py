"""Continued pretraining with FIM on transformers' Trainer.

Data: one or several Megatron indexed datasets (``codeja tokenize`` output), each read through the FIM torch
dataset with its own FIM settings and blended by weight (:mod:`codeja.train.mixture`, megatron-core's blending).
Every sample is a pure function of its position in training, and the Trainer reads positions sequentially, so
resuming replays exactly the same samples after the checkpoint (the Trainer skips the consumed batches by position
without loading them), and the optimizer, scheduler and RNG states come back from the HF checkpoint. The trainer
counts the tokens it trains on per source: their shares are logged (``share_<name>`` in metrics.jsonl) and
recorded in the manifest next to the plan.

Validation: the last ``validation.docs`` documents of each source are held out of training and evaluated packed in
a fixed order, with FIM rate 0 (left-to-right only) and FIM rate 1 (every document FIM'd): the same documents,
two views.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Any

from codeja.errors import InputError
from codeja.runs import stage_run, write_json
from codeja.train import common
from codeja.train.config import CPTConfig
from codeja.train.launch import maybe_relaunch
from codeja.train.megatron import run_megatron


def collate(items: list[dict[str, Any]], *, with_source: bool = False) -> dict[str, Any]:
    """Stack fixed-length samples; attention covers every real token (pads are only ever at the end, label -100).

    ``with_source`` keeps each sample's source index (``source``), which the CPT trainer pops to count trained
    tokens per source before the batch reaches the model.
    """
    # heavy: torch, transformers, codeja.fim.dataset (kept out of light imports)
    import torch

    input_ids = torch.stack([torch.as_tensor(it["input_ids"], dtype=torch.long) for it in items])
    labels = torch.stack([torch.as_tensor(it["labels"], dtype=torch.long) for it in items])
    batch = {"input_ids": input_ids, "labels": labels, "attention_mask": (labels != -100).long()}
    if with_source and all("source" in it for it in items):
        batch["source"] = torch.tensor([int(it["source"]) for it in items], dtype=torch.long)
    return batch


def _check_prefix(prefix: str, name: str | None = None) -> None:
    missing = [s for s in (".bin", ".idx") if not Path(prefix + s).is_file()]
    if not prefix or missing:
        what = f"source '{name}': " if name else ""
        raise InputError(
            f"{what}indexed dataset not found (missing {', '.join(prefix + s for s in missing) or '.bin/.idx'});"
            " pass the prefix written by `codeja tokenize`, without .bin/.idx",
            path=prefix or "<data>",
            field="data",
        )


SOURCE_TOKENS = "source_tokens.json"  # in each checkpoint: tokens trained per source up to it


def _make_trainer_class():
    import torch
    from transformers import Trainer

    class CPTTrainer(Trainer):
        """Trainer reading positions in order (the shuffle lives in the data, where it is a function of the seed)
        and counting the tokens it trains on per mixture source: the realised shares are logged (``share_<name>``)
        and saved with every checkpoint, so a resumed run reports the shares of the whole run."""

        source_names: list[str] = []
        source_tokens = None  # LongTensor, cumulative, the same on every rank

        def _get_train_sampler(self, train_dataset=None):
            return torch.utils.data.SequentialSampler(train_dataset or self.train_dataset)

        def training_step(self, model, inputs, num_items_in_batch=None):
            source = inputs.pop("source", None)
            if source is not None and self.source_tokens is not None:
                counts = torch.zeros(len(self.source_names), dtype=torch.long, device=source.device)
                counts.index_add_(0, source, (inputs["labels"] != -100).sum(dim=1))
                if self.accelerator.num_processes > 1:  # every rank trains on other samples
                    counts = self.accelerator.reduce(counts, reduction="sum")
                self.source_tokens += counts.cpu()
            return super().training_step(model, inputs, num_items_in_batch)

        def realised(self) -> dict[str, int]:
            return dict(zip(self.source_names, self.source_tokens.tolist())) if self.source_tokens is not None else {}

        def log(self, logs, start_time=None):
            if len(self.source_names) > 1 and "loss" in logs:
                total = int(self.source_tokens.sum())
                for name, n in self.realised().items():
                    logs[f"share_{name}"] = round(n / total, 6) if total else 0.0
            super().log(logs, start_time)

        def _save_checkpoint(self, model, trial):
            super()._save_checkpoint(model, trial)
            if self.source_tokens is not None and self.args.should_save:
                folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
                write_json(folder / SOURCE_TOKENS, self.realised())

    return CPTTrainer


def _views(cfg: CPTConfig, prefix: str, fim, tokenizer, held_docs: range) -> dict[str, Any]:
    """The held-out documents of one source, packed in a fixed order, seen left-to-right and (when the source has
    FIM) with every document FIM'd: the same documents, two views."""
    from codeja.fim.dataset import FIMDataset

    fixed = {"shuffle_docs": False, "fragment_separator": None, "fragment_rate": None}
    views = {"l2r": FIMDataset(prefix, tokenizer, fim.model_copy(update={**fixed, "fim_rate": 0.0}),
                               split_docs=held_docs)}
    if len(views["l2r"]) == 0:
        raise InputError(f"the {len(held_docs)} held-out documents fill no sample of {cfg.fim.seq_len} tokens; raise "
                         "validation.docs or set it to 0", path=prefix, field="validation.docs")
    single = isinstance(cfg.data, str) or len(cfg.data) == 1
    # one source keeps both views, as before mixtures; so does any source when validation.fim_mode asks for it
    if single or cfg.validation.fim_mode or (fim.mode != "off" and fim.fim_rate > 0):
        # validation.fim_mode fixes the FIM view across runs whose training FIM differs (a FIM-off run too)
        mode = cfg.validation.fim_mode or (fim.mode if fim.mode != "off" else "context")
        views["fim"] = FIMDataset(prefix, tokenizer, fim.model_copy(update={**fixed, "fim_rate": 1.0, "mode": mode}),
                                  split_docs=held_docs)
    return views


def build_datasets(cfg: CPTConfig, tokenizer, *, world_size: int | None = None) -> dict[str, Any]:
    """The training positions (a :class:`~codeja.train.mixture.MixtureDataset` over every source), the held-out
    views per source, the plan and the counts.

    Each source holds out its last ``validation.docs`` documents. One source gives the eval sets ``l2r`` and
    ``fim`` (as before mixtures); several give ``<name>_l2r`` (and ``<name>_fim`` where the source has FIM).
    """
    from codeja.fim.dataset import FIMDataset
    from codeja.train.mixture import MixtureDataset, SourceOrder, heldout_docs, plan_mixture

    world = _world_size() if world_size is None else world_size
    plan = plan_mixture(cfg, engine="hf", world_size=world)
    sources = cfg.sources
    single = len(sources) == 1
    orders: list[SourceOrder | None] = []
    evals: dict[str, Any] = {}
    counts = {"documents": 0, "train_documents": 0, "heldout_documents": 0, "train_samples": 0}
    for src, sp in zip(sources, plan.sources):
        _check_prefix(src.prefix, None if single else src.name)
        fim = cfg.source_fim(src)
        n_docs = sp.documents  # counted by plan_mixture (0 for an empty corpus, which cannot be memory-mapped)
        k = heldout_docs(cfg, n_docs)
        n_train = 0
        if sp.samples:  # a source with weight 0 is only evaluated
            train = FIMDataset(src.prefix, tokenizer, fim, split_docs=range(n_docs - k))
            n_train = min(len(train), cfg.limit_train_samples) if cfg.limit_train_samples else len(train)
            if n_train < 1:
                raise InputError(
                    f"{n_docs - k} training documents fill no sample of {cfg.fim.seq_len} tokens; need more data or "
                    "a smaller fim.seq_len", path=src.prefix, field="data")
        orders.append(SourceOrder(train, n_train, cfg.seed) if n_train else None)
        counts["documents"] += n_docs
        counts["train_documents"] += n_docs - k
        counts["heldout_documents"] += k
        counts["train_samples"] += n_train
        if k:
            views = _views(cfg, src.prefix, fim, tokenizer, range(n_docs - k, n_docs))
            evals.update(views if single else {f"{src.name}_{v}": ds for v, ds in views.items()})
            if single:
                counts["heldout_samples"] = len(views["l2r"])
    weights = [sp.weight for sp in plan.sources]
    per_step = cfg.per_device_batch_size * cfg.grad_accum * world
    counts.update(epochs=round(plan.samples / counts["train_samples"], 3) if single else
                  {sp.name: sp.epochs for sp in plan.sources},
                  tokens_per_step=per_step * cfg.fim.seq_len)
    return {
        "train": MixtureDataset(orders, weights, plan.samples, [s.name for s in sources]),
        "eval": evals or None,
        "counts": counts,
        "plan": plan,
    }


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _trained_before(resume: str | None, data: dict[str, Any], resume_step: int, per_step: int) -> list[int]:
    """Tokens per source trained before the checkpoint we resume from (0s for a fresh run).

    Read from the checkpoint; a checkpoint written before codeja counted them gets the blend's count of samples
    x seq_len for the positions already consumed (exact but for FIM padding, which is rare).
    """
    mix = data["train"]
    names = mix.names
    if not resume:
        return [0] * len(names)
    path = Path(resume) / SOURCE_TOKENS
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        return [int(saved.get(n, 0)) for n in names]
    return [n * data["plan"].seq_len for n in mix.samples_per_source(resume_step * per_step)]


def mixture_record(plan, trained: dict[str, int]) -> dict[str, Any]:
    """Per source: configured weight, planned and trained tokens, and the realised share of trained tokens."""
    total = sum(trained.values())
    return {s.name: {"weight": round(s.weight, 6), "planned_tokens": s.tokens, "trained_tokens": trained.get(s.name, 0),
                     "share": round(trained.get(s.name, 0) / total, 6) if total else 0.0, "epochs": s.epochs,
                     "fim": s.fim} for s in plan.sources}


def train_cpt(cfg: CPTConfig, output_dir: str | Path, *, callbacks: list | None = None) -> dict[str, Any]:
    """Continued pretraining; returns a summary (final loss, steps, tokens/s, held-out losses, model path).

    ``output_dir`` gets ``manifest.json`` (with the data plan and the realised tokens per source),
    ``metrics.jsonl``, ``loss.png``, resumable ``checkpoints/`` and the final HF checkpoint in ``model/``.
    ``callbacks`` are extra transformers TrainerCallbacks.
    """
    if (launched := maybe_relaunch("cpt", cfg, output_dir)) is not None:
        return launched
    if cfg.engine == "megatron":
        return run_megatron(cfg, output_dir)
    sources = cfg.sources
    for src in sources:
        _check_prefix(src.prefix, None if len(sources) == 1 else src.name)
    out = Path(output_dir)
    inputs = [p for src in sources for p in (src.prefix + ".bin", src.prefix + ".idx")]
    with stage_run(
        out, "train.cpt", cfg, inputs=inputs, seeds={"seed": cfg.seed, "fim_seed": cfg.fim.seed}
    ) as run:
        if run.skipped:
            return run.manifest["summary"]
        import torch
        from transformers import TrainingArguments

        precision = common.resolve_precision(cfg.precision)
        tokenizer = common.load_tokenizer(cfg.model)
        data = build_datasets(cfg, tokenizer)
        model = common.load_model(cfg.model, tokenizer)
        resume = common.resume_checkpoint(run, out, cfg.resume)
        resume_step = common.checkpoint_step(resume)
        kwargs = common.training_kwargs(cfg, out, precision)
        kwargs["remove_unused_columns"] = False  # keep `source` for the per-source counts (popped before the model)
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
            data_collator=partial(collate, with_source=True),
            processing_class=tokenizer,
            callbacks=common.make_callbacks(out, run, resume_step) + list(callbacks or []),
        )
        per_step = cfg.per_device_batch_size * cfg.grad_accum * _world_size()
        trainer.source_names = data["train"].names
        trainer.source_tokens = torch.tensor(_trained_before(resume, data, resume_step, per_step), dtype=torch.long)
        plan = data["plan"]
        run.record(precision=precision, data_counts=data["counts"], data_plan=plan.as_dict(), resumed_from=resume)
        if len(sources) > 1:
            print(plan.table(), flush=True)
        trainer.train(resume_from_checkpoint=resume)
        heldout = trainer.evaluate() if data["eval"] else {}
        final = common.save_final(trainer, tokenizer, out)
        title = (f"fim={cfg.fim.mode}@{cfg.fim.fim_rate}" if len(sources) == 1 else
                 "mix " + " ".join(f"{s.name}={s.weight:.2f}" for s in plan.sources))
        common.plot_loss_curve(out, f"cpt: {Path(cfg.model).name} {title}")
        extra = {"precision": precision, **data["counts"], "mixture": mixture_record(plan, trainer.realised())}
        extra.update(_heldout_summary(heldout, plan))
        summary = common.summarize(out, trainer, extra)
        summary["model_path"] = str(final)
        run.record(summary=summary)
        return summary


def _heldout_summary(heldout: dict[str, float], plan) -> dict[str, Any]:
    """heldout_loss_l2r / _fim: the single source's losses, or the weight-averaged losses of a mixture's sources
    (per-source losses under ``heldout``)."""
    if "eval_l2r_loss" in heldout or len(plan.sources) == 1:
        return {"heldout_loss_l2r": heldout.get("eval_l2r_loss"), "heldout_loss_fim": heldout.get("eval_fim_loss")}
    per = {s.name: {v: heldout.get(f"eval_{s.name}_{v}_loss") for v in ("l2r", "fim")} for s in plan.sources}
    out: dict[str, Any] = {"heldout": per}
    for v in ("l2r", "fim"):
        got = [(s.weight, per[s.name][v]) for s in plan.sources if per[s.name][v] is not None and s.weight > 0]
        w = sum(x for x, _ in got)
        out[f"heldout_loss_{v}"] = round(sum(x * loss for x, loss in got) / w, 6) if got and w else None
    return out
