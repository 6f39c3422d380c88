"""``codeja prefs sample | candidates | build | run``: thin wrappers over sample_responses, run_candidates,
build_pairs and run_prefs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from codeja.config import flag_overrides, load_config
from codeja.prefs.strategies import STRATEGIES

app = typer.Typer(help="Sample responses, filter, score and build preference pairs.", no_args_is_help=True)

ConfigArg = Annotated[Path, typer.Argument(help="A prefs config YAML (stage: prefs).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value (repeatable).")]


BackendOpt = Annotated[str | None, typer.Option("--backend", help="Sets sample.backend: transformers | llamacpp (fast "
                                                "on a CPU) | openai (default with --base-url) | vllm.")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server for sampling, e.g. "
                                                "http://127.0.0.1:8080/v1 (llama.cpp's llama-server, vllm serve).")]


def _load(config: Path, overrides: list[str] | None, backend: str | None = None, base_url: str | None = None):
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.pipeline.preflight import check_stage, raise_on_errors
    from codeja.prefs.config import PrefsConfig

    if base_url and backend is None:
        backend = "openai"
    flags = flag_overrides({"sample.backend": backend, "sample.backend_options.base_url": base_url})
    cfg = load_config(config, PrefsConfig, flags + list(overrides or []), stage="prefs")
    raise_on_errors(check_stage("prefs", cfg))  # names, models, instructions: before any model loads
    return cfg


@app.command("sample")
def sample_cmd(
    config: ConfigArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")] = Path("runs/prefs-sample"),
    set_: SetOpt = None,
    backend: BackendOpt = None,
    base_url: BaseUrlOpt = None,
) -> None:
    """Draw N responses per instruction from the policy model (uses the `sample` section; seeded, resumable)."""
    from codeja.prefs.sample import sample_responses

    typer.echo(str(sample_responses(_load(config, set_, backend, base_url), output)))


@app.command("candidates")
def candidates_cmd(
    config: ConfigArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")] = Path("prefs-out"),
    set_: SetOpt = None,
) -> None:
    """Sample, filter and score (no pairs yet): OUTPUT/candidates/candidates.jsonl is the input of `prefs build`."""
    from codeja.prefs.pipeline import run_candidates

    typer.echo(json.dumps(run_candidates(_load(config, set_), output), ensure_ascii=False))


@app.command("build")
def build_cmd(
    candidates: Annotated[Path, typer.Option("--candidates", help="JSONL: {id, prompt, responses: [{text, score, "
                                             "passed_filters}]} per line.")],
    strategy: Annotated[str, typer.Option("--strategy", help=" | ".join(STRATEGIES))],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")] = Path("runs/prefs-build"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random strategy (with the instruction id).")] = 0,
    min_margin: Annotated[float | None, typer.Option("--min-margin", help="Drop pairs closer than this.")] = None,
    quarantine: Annotated[bool, typer.Option("--quarantine", help="Set bad lines aside and go on.")] = False,
    allow_ties: Annotated[bool, typer.Option("--allow-ties", help="Let rejected score the same as chosen.")] = False,
    chosen_min_pass_rate: Annotated[float | None, typer.Option(
        "--chosen-min-pass-rate", help="Chosen must pass this share of its tests (where they were run).")] = 1.0,
    placeholder_rejected: Annotated[bool, typer.Option(
        "--placeholder-rejected", help="Placeholder responses become the rejected side.")] = False,
) -> None:
    """Pick chosen/rejected among the responses that passed the filters; lone survivors become SFT rows."""
    from codeja.prefs.build import build_pairs

    stats = build_pairs(candidates, output, strategy, seed=seed, min_margin=min_margin, allow_ties=allow_ties,
                        chosen_min_pass_rate=chosen_min_pass_rate, placeholder_rejected=placeholder_rejected,
                        quarantine=quarantine)
    keys = ("in", "pairs", "sft", "dropped", "quarantined", "dropped_by_reason")
    typer.echo(json.dumps({k: stats[k] for k in keys}, ensure_ascii=False))


@app.command("run")
def run_cmd(
    config: ConfigArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")] = Path("runs/prefs"),
    set_: SetOpt = None,
    backend: BackendOpt = None,
    base_url: BaseUrlOpt = None,
) -> None:
    """Sample, filter, score and build in one go."""
    from codeja.prefs.pipeline import run_prefs

    stats = run_prefs(_load(config, set_, backend, base_url), output)
    keys = ("in", "pairs", "sft", "dropped", "pairs_file", "report_file")
    typer.echo(json.dumps({k: stats[k] for k in keys}, ensure_ascii=False))
