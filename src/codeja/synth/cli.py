"""``codeja synth magpie``: steered Magpie synthesis from a config file, ``--set`` overrides, or flags alone."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from codeja.config import load_config

app = typer.Typer(help="Synthesize steered instruction data (Magpie).", no_args_is_help=True)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def flag_overrides(model: str | None = None, backend: str | None = None, rows: int | None = None,
                   languages: str | None = None, task_types: str | None = None,
                   instruction_lang: str | None = None, baseline_rows: int | None = None,
                   seed: int | None = None, unsteered: bool = False, base_url: str | None = None) -> list[str]:
    """The quick flags as ``--set`` overrides; listed languages / task types get equal weights."""
    out = []
    if model:
        out.append(f"model={json.dumps(model)}")
    if base_url:
        backend = backend or "openai"
        out.append(f"backend_options.base_url={json.dumps(base_url)}")
    if backend:
        out.append(f"backend={json.dumps(backend)}")
    if rows is not None:
        out.append(f"rows={rows}")
    if baseline_rows is not None:
        out.append(f"baseline_rows={baseline_rows}")
    if seed is not None:
        out.append(f"seed={seed}")
    if languages:
        out.append("steering.languages={" + ", ".join(f"{json.dumps(x)}: 1" for x in _csv(languages)) + "}")
    if task_types:
        out.append("steering.task_types={" + ", ".join(f"{json.dumps(x)}: 1" for x in _csv(task_types)) + "}")
    if instruction_lang:
        langs = ", ".join(f"{json.dumps(x)}: 1" for x in _csv(instruction_lang))
        out.append("steering.instruction_langs={" + langs + "}")
    if unsteered:
        out.append("steering.enabled=false")
    return out


@app.command("magpie")
def magpie(
    config: Path | None = typer.Argument(None, help="A synth.magpie YAML config (optional)."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a key: a.b=value (repeatable)."),
    output: Path = typer.Option(Path("runs/magpie"), "--output", "-o",
                                help="Output folder (data.jsonl, removed.jsonl, reports)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Chat model: 'tiny', an HF folder, a .gguf, a hub "
                                     "id (with --base-url: the server's model name)."),
    backend: str | None = typer.Option(None, "--backend", help="transformers | llamacpp (fast on a CPU) | openai "
                                       "(default with --base-url) | vllm."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. "
                                        "http://127.0.0.1:8080/v1 (llama.cpp's llama-server, vllm serve)."),
    rows: int | None = typer.Option(None, "--rows", help="Instructions to generate (kept + removed)."),
    languages: str | None = typer.Option(None, "--languages", help="Comma list, equal weights: go,rust."),
    task_types: str | None = typer.Option(None, "--task-types", help="Comma list: fix,explain,translate ..."),
    instruction_lang: str | None = typer.Option(None, "--instruction-lang", help="ja, en or ja,en."),
    baseline_rows: int | None = typer.Option(None, "--baseline-rows",
                                                help="Unsteered instructions for the steering-effect report."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for steering draws and sampling."),
    unsteered: bool = typer.Option(False, "--unsteered", help="Plain Magpie: the model's default system prompt."),
) -> None:
    """Generate steered instruction/response pairs with Magpie and write the diversity report."""
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.pipeline.preflight import check_stage, raise_on_errors
    from codeja.synth.config import MagpieConfig
    from codeja.synth.magpie import run_magpie

    overrides = flag_overrides(model, backend, rows, languages, task_types, instruction_lang, baseline_rows, seed,
                               unsteered, base_url) + list(set_ or [])
    cfg = load_config(config, MagpieConfig, overrides, stage="synth.magpie")
    raise_on_errors(check_stage("synth.magpie", cfg))  # before any model loads
    summary = run_magpie(cfg, output)
    typer.echo(f"kept {summary.get('kept')} of {summary.get('generated')} rows "
               f"(removed: {summary.get('removed_by_reason')}); report: {Path(output) / 'report.html'}")
