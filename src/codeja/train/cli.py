"""``codeja train cpt|sft|dpo [CONFIG.yaml] [--set k=v] [--model M --data PATH --output DIR --max-steps N]``.

Each command is a thin wrapper over train_cpt / train_sft / train_dpo. The quick flags are shorthands for
``--set model=M --set data=PATH --set max_steps=N`` (and ``--seq-len`` for ``--set fim.seq_len=L``); they win over
the file. ``codeja train cpt CONFIG --dry-run`` prints the data plan (samples, tokens and epochs per source); with
``--engine megatron`` also the Megatron-LM command and the config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="Continued pretraining (with FIM), SFT and DPO.", no_args_is_help=True)

_CONFIG = typer.Argument(None, help="Stage config YAML (optional; defaults run the tiny model on a CPU).")
_SET = typer.Option(None, "--set", help="Override a config key: a.b=value (repeatable).")
_MODEL = typer.Option(None, "--model", help="Model: 'tiny', an HF folder or a hub id (sets model=).")
_DATA = typer.Option(None, "--data", help="Training data (sets data=).")
_OUTPUT = typer.Option(
    ..., "--output", "-o", help="Output folder: manifest, metrics, loss.png, checkpoints, model/."
)
_STEPS = typer.Option(None, "--max-steps", help="Optimizer steps (sets max_steps=).")
_JSON = typer.Option(False, "--json", help="Print the summary as JSON.")


def _overrides(set_: list[str] | None, **flags) -> list[str]:
    out = list(set_ or [])
    for key, value in flags.items():
        if value is not None:
            out.append(f"{key}={value}")
    return out


def _quiet_stdout():
    """Training chatter (the Trainer prints its log dicts to stdout) goes to stderr; stdout carries the result."""
    import contextlib
    import sys

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
    config: Optional[Path] = _CONFIG,
    set_: Optional[List[str]] = _SET,
    model: Optional[str] = _MODEL,
    data: Optional[str] = typer.Option(None, "--data", help="Indexed-dataset prefix from `codeja tokenize`."),
    output: Path = _OUTPUT,
    max_steps: Optional[int] = _STEPS,
    seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Sequence length (sets fim.seq_len=)."),
    engine: Optional[str] = typer.Option(None, "--engine", help="hf (here) or megatron (Megatron-LM)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the data plan (samples, tokens and epochs per source) and, for megatron, "
        "the command and config; run nothing."
    ),
    as_json: bool = _JSON,
) -> None:
    """Continued pretraining with FIM on an indexed dataset."""
    from codeja.config import dump_yaml, load_config
    from codeja.train.config import CPTConfig

    cfg = load_config(
        config,
        CPTConfig,
        _overrides(
            set_, model=model, data=data, max_steps=max_steps, **{"fim.seq_len": seq_len, "engine": engine}
        ),
        stage="train.cpt",
    )
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


@app.command("sft")
def sft_cmd(
    config: Optional[Path] = _CONFIG,
    set_: Optional[List[str]] = _SET,
    model: Optional[str] = _MODEL,
    data: Optional[str] = typer.Option(None, "--data", help="messages JSONL."),
    output: Path = _OUTPUT,
    max_steps: Optional[int] = _STEPS,
    as_json: bool = _JSON,
) -> None:
    """Supervised fine-tuning (TRL SFTTrainer) on messages JSONL, loss on assistant turns."""
    from codeja.config import load_config
    from codeja.train.config import SFTConfig
    from codeja.train.sft import train_sft

    cfg = load_config(
        config, SFTConfig, _overrides(set_, model=model, data=data, max_steps=max_steps), stage="train.sft"
    )
    with _quiet_stdout():
        summary = train_sft(cfg, output)
    _print(summary, as_json)


@app.command("dpo")
def dpo_cmd(
    config: Optional[Path] = _CONFIG,
    set_: Optional[List[str]] = _SET,
    model: Optional[str] = _MODEL,
    data: Optional[str] = typer.Option(None, "--data", help="pairs JSONL (prompt / chosen / rejected)."),
    output: Path = _OUTPUT,
    max_steps: Optional[int] = _STEPS,
    as_json: bool = _JSON,
) -> None:
    """Preference optimisation (TRL DPOTrainer) on prompt/chosen/rejected pairs."""
    from codeja.config import load_config
    from codeja.train.config import DPOConfig
    from codeja.train.dpo import train_dpo

    cfg = load_config(
        config, DPOConfig, _overrides(set_, model=model, data=data, max_steps=max_steps), stage="train.dpo"
    )
    with _quiet_stdout():
        summary = train_dpo(cfg, output)
    _print(summary, as_json)
