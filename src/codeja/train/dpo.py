"""Preference optimisation with TRL's DPOTrainer on preference pairs in TRL's formats (``codeja.train.data``:
explicit or implicit prompt, conversational or standard; JSONL files or ``datasets``), full weights or LoRA
adapters (the reference is then the policy with adapters off), by steps or epochs.

Length limits never cut code silently: every pair is measured as TRL will tokenize it (prompt + chosen and
prompt + rejected, each rendered as one conversation) before training, and pairs over ``max_length`` are dropped
(default), kept and truncated at the end (``overlong: truncate``), or stop the run (``overlong: error``). The
counts and the first offending lines go into the manifest and the returned summary.

Loss: TRL's ``loss_type`` list and ``loss_weights``; ``["sigmoid", "sft"]`` is DPO plus an SFT (NLL) term on the
chosen answers. Reference: ``ref_model`` when given, else TRL's frozen copy of the starting policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeja.errors import ConfigError
from codeja.runs import stage_run
from codeja.train import common, data
from codeja.train.config import DPOConfig
from codeja.train.launch import maybe_relaunch


def pair_lengths(tokenizer, rows: list[dict[str, Any]]) -> list[int]:
    """Tokens of the longer of prompt+chosen / prompt+rejected, rendered the way TRL's DPO tokenizes them."""
    loaded = data.Loaded(rows=rows, format="preference",
                         conversational=bool(rows) and isinstance(rows[0]["chosen"], list))
    return data.row_lengths(tokenizer, loaded)


def train_dpo(cfg: DPOConfig, output_dir: str | Path, *, callbacks: list | None = None) -> dict[str, Any]:
    """DPO; returns a summary (final loss, reward accuracy/margin, steps, tokens/s, pair accounting, model path)."""
    if (launched := maybe_relaunch("dpo", cfg, output_dir)) is not None:
        return launched
    out = Path(output_dir)
    loaded = data.load_pairs(cfg.data, cfg.bad_rows, hub=cfg.hub, columns=cfg.columns)
    inputs = data.input_fingerprints(loaded, [cfg.data], out)
    inputs += [cfg.ref_model] if cfg.ref_model and Path(cfg.ref_model).exists() else []
    with stage_run(out, "train.dpo", cfg, inputs=inputs, seeds={"seed": cfg.seed}) as run:
        if run.skipped:
            return run.manifest["summary"]
        # heavy: trl (kept out of `codeja --help` and light imports)
        from trl import DPOConfig as TRLDPOConfig
        from trl import DPOTrainer

        precision = common.resolve_precision(cfg.precision)
        tokenizer = common.load_tokenizer(cfg.model)
        if loaded.conversational and not tokenizer.chat_template:
            raise ConfigError(
                f"model '{cfg.model}': the tokenizer has no chat template; conversational pairs need "
                "one (SFT the model first, which saves codeja's ChatML template with it)"
            )
        report = data.apply_length_policy(
            loaded,
            data.row_lengths(tokenizer, loaded),
            cfg.max_length,
            cfg.overlong,
            what="pair (prompt + longer answer)",
            path=cfg.data,
        )
        counts = {**loaded.counts, **report, "pairs_trained": len(loaded.rows),
                  "conversational": loaded.conversational}
        data.write_bad_rows(out, loaded.bad)
        run.record(precision=precision, data_counts=counts, data_sources=loaded.sources)

        model = common.load_model(cfg.model, tokenizer)
        ref = common.load_model(cfg.ref_model, tokenizer) if cfg.ref_model else None
        args = TRLDPOConfig(
            **common.training_kwargs(cfg, out, precision),
            gradient_checkpointing=cfg.activation_checkpointing,  # TRL defaults this to True; keep ours
            beta=cfg.beta,
            loss_type=list(cfg.loss_type),
            loss_weights=cfg.loss_weights,
            max_length=cfg.max_length,
            truncation_mode="keep_start",
            precompute_ref_log_probs=cfg.precompute_ref_log_probs,
            dataset_num_proc=None,
        )
        trainer, resume, final, saved = common.fit_trl(
            DPOTrainer, cfg, run, out, model=model, ref_model=ref, args=args, rows=loaded.rows, tokenizer=tokenizer,
            callbacks=callbacks,
            plot_title=f"dpo: {Path(cfg.model).name} beta={cfg.beta} {'+'.join(cfg.loss_type)}",
        )
        last = next((r for r in reversed(common.read_metrics(out)) if "rewards/accuracies" in r), {})
        summary = common.summarize(
            out,
            trainer,
            {
                "precision": precision,
                "reward_accuracy": last.get("rewards/accuracies"),
                "reward_margin": last.get("rewards/margins"),
                **counts,
                **saved,
            },
        )
        summary["model_path"] = str(final)
        run.record(summary=summary, resumed_from=resume)
        return summary
