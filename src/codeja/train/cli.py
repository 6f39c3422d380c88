"""``codeja train cpt|sft|dpo [CONFIG.yaml] [--set k=v] [--model M --data PATH --output DIR --max-steps N]``.

Each command is a thin wrapper over train_cpt / train_sft / train_dpo. The quick flags are shorthands for
``--set model=M --set data=PATH --set max_steps=N`` (and ``--seq-len`` for ``--set fim.seq_len=L``); they win over
the file. ``codeja train cpt CONFIG --dry-run`` prints the data plan (samples, tokens and epochs per source); with
``--engine megatron`` also the Megatron-LM command and the config.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import typer

from codeja.config import dump_yaml, load_config

app = typer.Typer(help="Continued pretraining (with FIM), SFT and DPO.", no_args_is_help=True)

_CONFIG = typer.Argument(None, help="Stage config YAML (optional; defaults run the tiny model on a CPU).")
_SET = typer.Option(None, "--set", help="Override a config key: a.b=value (repeatable).")
_MODEL = typer.Option(None, "--model", "-m", help="Model: 'tiny', an HF folder or a hub id (sets model=).")
_DATA = typer.Option(None, "--data", help="Training data (sets data=).")
def _output(phase: str):
    return typer.Option(Path(f"runs/{phase}"), "--output", "-o",
                        help="Output folder: manifest, metrics, loss.png, checkpoints, model/.")


_STEPS = typer.Option(None, "--max-steps", help="Optimizer steps (sets max_steps=).")
_JSON = typer.Option(False, "--json", help="Print the summary as JSON.")
_EPOCHS = typer.Option(None, "--epochs", help="Passes over the data, instead of --max-steps (sets num_train_epochs=).")
_LORA = typer.Option(False, "--lora",
                     help="Train LoRA adapters (peft) instead of all weights (sets lora.enabled=true).")
_FT_DATA_HELP = ("a JSONL file, a Hub dataset id owner/name (pinned: owner/name@revision), a save_to_disk folder or a "
                 "data file")


def _overrides(set_: list[str] | None, **flags) -> list[str]:
    out = list(set_ or [])
    for key, value in flags.items():
        if value is not None:
            out.append(f"{key}={value}")
    return out


def _preflight(kind: str, cfg) -> None:
    """Model resolvable, data present with the right fields, GPU / Megatron-LM where asked: before loading."""
    # start-up path: stage modules load when their command runs; train.mixture imports torch
    from codeja.pipeline.preflight import check_stage, raise_on_errors

    raise_on_errors(check_stage(kind, cfg))


def _finetune_flags(max_steps: int | None, epochs: float | None, use_lora: bool) -> dict:
    """--max-steps, --epochs and --lora as overrides. --epochs clears a max_steps the config file sets (the flag
    wins); given together with --max-steps both stay, and the config says they exclude each other."""
    flags: dict = {"max_steps": max_steps}
    if epochs is not None:
        flags.update(max_steps=max_steps if max_steps is not None else "null", num_train_epochs=epochs)
    if use_lora:
        flags["lora.enabled"] = "true"
    return flags


def _quiet_stdout():
    """Training chatter (the Trainer prints its log dicts to stdout) goes to stderr; stdout carries the result."""
    return contextlib.redirect_stdout(sys.stderr)


def _print(summary: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
        return
    for key in (
        "steps",
        "first_loss",
        "final_loss",
        "heldout_loss_l2r",
        "heldout_loss_fim",
        "reward_accuracy",
        "tokens_per_s",
        "overlong",
        "dropped_overlong",
        "truncated",
        "rows_bad",
        "model_path",
        "loss_curve",
    ):
        if summary.get(key) is not None:
            v = summary[key]
            typer.echo(f"{key:>18}: {round(v, 4) if isinstance(v, float) else v}")
    mixture = summary.get("mixture") or {}
    for name, m in mixture.items() if len(mixture) > 1 else ():
        typer.echo(f"{'share ' + name:>18}: {m['share']:.4f} of trained tokens (weight {m['weight']:.4f}, "
                   f"{m['trained_tokens']:,} tokens, {m['epochs']} epochs)")


@app.command("cpt")
def cpt_cmd(
    config: Path | None = _CONFIG,
    set_: list[str] | None = _SET,
    model: str | None = _MODEL,
    data: str | None = typer.Option(None, "--data", help="Indexed-dataset prefix from `codeja tokenize`."),
    output: Path = _output("cpt"),
    max_steps: int | None = _STEPS,
    seq_len: int | None = typer.Option(None, "--seq-len", help="Sequence length (sets fim.seq_len=)."),
    engine: str | None = typer.Option(None, "--engine", help="hf (here) or megatron (Megatron-LM)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the data plan (samples, tokens and epochs per source) and, for megatron, "
        "the command and config; run nothing."
    ),
    as_json: bool = _JSON,
) -> None:
    """Continued pretraining with FIM on an indexed dataset."""
    from codeja.train.config import CPTConfig

    cfg = load_config(
        config,
        CPTConfig,
        _overrides(
            set_, model=model, data=data, max_steps=max_steps, **{"fim.seq_len": seq_len, "engine": engine}
        ),
        stage="train.cpt",
    )
    if not dry_run:
        _preflight("train.cpt", cfg)
    if cfg.engine == "megatron":
        from codeja.train.megatron import run_megatron

        summary = run_megatron(cfg, output, dry_run=dry_run)
        if dry_run:
            typer.echo("# Megatron-LM launch (run on every node; NODE_RANK / MASTER_ADDR from the scheduler)")
            typer.echo(summary["command"])
            typer.echo("\n" + summary["data_plan_table"])
            typer.echo("\n# resolved config (stage: train.cpt)")
            typer.echo(dump_yaml(cfg), nl=False)
            return
        _print(summary, as_json)
        return
    if dry_run:
        from codeja.train.mixture import plan_mixture

        plan = plan_mixture(cfg, require_data=False)
        typer.echo(json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) if as_json else plan.table())
        return
    from codeja.train.cpt import train_cpt

    with _quiet_stdout():
        summary = train_cpt(cfg, output)
    _print(summary, as_json)


def _finetune(stage: str, config_cls, train, config: Path | None, set_: list[str] | None, output: Path,
              as_json: bool, **flags) -> None:
    """Load ``config_cls`` from the file and flags, preflight it, train quietly and print the summary."""
    cfg = load_config(config, config_cls, _overrides(set_, **flags), stage=stage)
    _preflight(stage, cfg)
    with _quiet_stdout():
        summary = train(cfg, output)
    _print(summary, as_json)


@app.command("sft")
def sft_cmd(
    config: Path | None = _CONFIG,
    set_: list[str] | None = _SET,
    model: str | None = _MODEL,
    data: str | None = typer.Option(
        None, "--data", help=f"SFT data (messages, prompt/completion, text, ShareGPT, Alpaca): {_FT_DATA_HELP}."
    ),
    output: Path = _output("sft"),
    max_steps: int | None = _STEPS,
    epochs: float | None = _EPOCHS,
    use_lora: bool = _LORA,
    as_json: bool = _JSON,
) -> None:
    """Supervised fine-tuning (TRL SFTTrainer); loss on assistant turns (conversations) or completions."""
    from codeja.train.config import SFTConfig
    from codeja.train.sft import train_sft

    _finetune("train.sft", SFTConfig, train_sft, config, set_, output, as_json,
              model=model, data=data, **_finetune_flags(max_steps, epochs, use_lora))


@app.command("dpo")
def dpo_cmd(
    config: Path | None = _CONFIG,
    set_: list[str] | None = _SET,
    model: str | None = _MODEL,
    data: str | None = typer.Option(
        None, "--data", help=f"Pairs (prompt/chosen/rejected, or chosen/rejected): {_FT_DATA_HELP}."
    ),
    output: Path = _output("dpo"),
    max_steps: int | None = _STEPS,
    epochs: float | None = _EPOCHS,
    use_lora: bool = _LORA,
    as_json: bool = _JSON,
) -> None:
    """Preference optimisation (TRL DPOTrainer) on chosen/rejected pairs."""
    from codeja.train.config import DPOConfig
    from codeja.train.dpo import train_dpo

    _finetune("train.dpo", DPOConfig, train_dpo, config, set_, output, as_json,
              model=model, data=data, **_finetune_flags(max_steps, epochs, use_lora))
