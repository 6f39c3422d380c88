"""CLI: ``codeja tokenize`` (top level) and ``codeja fim inspect``. Thin wrappers over the Python functions."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from codeja.config import load_config

fim_app = typer.Typer(help="Fill-in-the-Middle: inspect what the FIM transform does to a tokenized corpus.",
                      no_args_is_help=True)


def tokenize(
    input: Path = typer.Option(..., "--input", help="JSONL/Parquet file or folder of documents (id, text)."),
    model: str = typer.Option(..., "--model", "-m", help="Model or tokenizer (folder, hub id, or alias such as tiny)."),
    output: Path = typer.Option(Path("runs/tokenize/corpus"), "--output", "-o",
                                help="Output prefix: writes PREFIX.bin/.idx/.json."),
    workers: int = typer.Option(1, "--workers", help="Processes (the output is identical for any count)."),
    messages_render: str | None = typer.Option(
        None, "--messages-render", help="Rows with `messages` (SFT / Magpie chats): plain (Question / Answer text, "
        "no special tokens; the default) or chat_template (the tokenizer's chat template)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="A tokenize stage YAML (options override it)."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a config key: key=value (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Tokenize documents (or chats, rendered to text) into a Megatron indexed dataset, one EOD after each,
    resumably."""
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.fim.config import TokenizeConfig
    from codeja.fim.tokenize import tokenize_corpus

    overrides = [f"input={input}", f"model={model}", f"workers={workers}", *(set_ or [])]
    if messages_render is not None:
        overrides.append(f"messages_render={messages_render}")
    cfg = load_config(config, TokenizeConfig, overrides, stage="tokenize")
    summary = tokenize_corpus(cfg, output, progress=not quiet)
    typer.echo(json.dumps({**{k: summary[k] for k in ("prefix", "docs", "tokens", "quarantined", "rows", "dtype")},
                           "chats": summary.get("messages", {}).get("rows", 0)}, ensure_ascii=False))


@fim_app.command("inspect")
def inspect(
    data: Path = typer.Option(..., "--data", help="Corpus prefix written by `codeja tokenize`."),
    model: str = typer.Option(..., "--model", "-m", help="The tokenizer the corpus was made with."),
    mode: str = typer.Option("context", "--mode", help="context | document | off"),
    fim_rate: float = typer.Option(0.5, "--fim-rate", help="FIM rate."),
    spm_rate: float = typer.Option(0.5, "--spm-rate", help="SPM rate among FIM'd documents."),
    seq_len: int = typer.Option(2048, "--seq-len", help="Sample length."),
    samples: int = typer.Option(100, "--samples", help="How many samples to transform."),
    seed: int = typer.Option(0, "--seed", help="Seed."),
    show: int = typer.Option(0, "--show", help="Render this many samples with the sentinels visible."),
    sentinels: str = typer.Option("auto", "--sentinels", help="auto | add | a registry name."),
    config: Path | None = typer.Option(None, "--config", "-c", help="A fim stage YAML (options override it)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (else a short summary)."),
) -> None:
    """Transform N samples and report effective FIM rate, SPM share, truncation, padding, U+FFFD and round trips."""
    from codeja.fim.config import FIMConfig
    from codeja.fim.inspect import inspect_fim
    from codeja.fim.tokenize import load_fim_tokenizer

    overrides = [f"mode={mode}", f"fim_rate={fim_rate}", f"spm_rate={spm_rate}", f"seq_len={seq_len}",
                 f"seed={seed}", f"sentinels={sentinels}"]
    cfg = load_config(config, FIMConfig, overrides, stage="fim")
    report = inspect_fim(data, load_fim_tokenizer(model), cfg, samples, show=show)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    for item in report.get("shown", []):
        typer.echo(f"--- sample {item['index']} (pad {item['pad']}) ---\n{item['text']}\n")
    keys = ("samples", "docs", "fim_docs", "effective_fim_rate", "spm_fraction", "truncated", "padded",
            "replacement_chars", "roundtrip_mismatches", "lengths")
    for k in keys:
        typer.echo(f"{k:>22}: {report[k]}")


def register(root_app: typer.Typer) -> None:
    root_app.command("tokenize")(tokenize)
    root_app.add_typer(fim_app, name="fim")
