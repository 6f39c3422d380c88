"""``codeja eval run | score | compare | selfcheck``: thin wrappers over :mod:`codeja.evaluate.runner`, ``compare``
and ``selfcheck``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Evaluate models on code and Japanese benchmarks in a sandbox.", no_args_is_help=True)


@app.command("run")
def run_cmd(
    model: list[str] = typer.Option(..., "--model", "-m", help="Model (alias, folder, hub id); repeat for several."),
    benchmarks: str = typer.Option("humaneval", "--benchmarks", "-b", help="Comma-separated benchmark names."),
    output: Path = typer.Option(Path("runs/eval"), "--output", "-o", help="Output folder."),
    n: int | None = typer.Option(None, "--n", help="Samples per task."),
    temperature: float | None = typer.Option(None, "--temperature", help="0 = greedy."),
    top_p: float | None = typer.Option(None, "--top-p"),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens"),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N tasks of each benchmark."),
    mode: str | None = typer.Option(None, "--mode", help="completion | instruct | auto."),
    sanitizer: str | None = typer.Option(None, "--sanitizer", help="none | bigcode | evalplus | codeja | all."),
    prompt_lang: str | None = typer.Option(None, "--prompt-lang", help="jhumaneval prompts: ja | en."),
    backend: str | None = typer.Option(None, "--backend", help="transformers | openai | vllm."),
    config: Path | None = typer.Option(None, "--config", "-c", help="An eval config YAML."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a config key: a.b=value."),
    force: bool = typer.Option(False, "--force", help="Redo cells that already have results."),
) -> None:
    """Generate with identical settings for every model, score, and write the comparison."""
    from codeja.config import load_config
    from codeja.evaluate.compare import to_markdown
    from codeja.evaluate.config import EvalConfig
    from codeja.evaluate.runner import run_eval

    overrides = list(set_ or [])
    cfg = load_config(config, EvalConfig, overrides, stage="eval")
    updates = {"models": list(model), "benchmarks": [b.strip() for b in benchmarks.split(",") if b.strip()],
               "limit": limit, "sanitizer": sanitizer, "prompt_lang": prompt_lang, "backend": backend,
               "force": force or None}
    data = cfg.model_dump()
    data.update({k: v for k, v in updates.items() if v is not None})
    gen = {"n": n, "temperature": temperature, "top_p": top_p, "max_new_tokens": max_new_tokens, "mode": mode}
    data["generation"].update({k: v for k, v in gen.items() if v is not None})
    cfg = EvalConfig.model_validate(data)
    comp = run_eval(cfg, output)
    typer.echo(to_markdown(comp))
    typer.echo(f"results: {output}/comparison.md, comparison.html, comparison.json")


@app.command("score")
def score_cmd(
    benchmark: str = typer.Option(..., "--benchmark", "-b", help="Benchmark name."),
    samples: Path = typer.Option(..., "--samples", "-s", help="JSONL with task_id + completion or solution."),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder."),
    sanitizer: str = typer.Option("codeja", "--sanitizer", help="none | bigcode | evalplus | codeja | all | a,b."),
    data: str | None = typer.Option(None, "--data", help="Benchmark data file (or hub:<id>@<revision>)."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N tasks."),
    prompt_lang: str = typer.Option("ja", "--prompt-lang", help="jhumaneval prompts: ja | en."),
    k: str = typer.Option("1,10,100", "--k", help="pass@k values (where n >= k)."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds per program (default: per benchmark)."),
    workers: int | None = typer.Option(None, "--workers", help="Sandbox workers."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
) -> None:
    """Score existing samples (EvalPlus / human-eval layout) and write results.json, samples.jsonl, manifest.json."""
    from codeja.evaluate.benchmarks import get_benchmark
    from codeja.evaluate.runner import score_samples

    bench = get_benchmark(benchmark, data, limit, prompt_lang=prompt_lang)
    res = score_samples(bench, samples, output, sanitizer, k=[int(x) for x in k.split(",") if x.strip()],
                        timeout_s=timeout, workers=workers, seed=seed, progress=True)
    keys = [x for x in res if x.startswith("pass@")] + ["ci_low", "ci_high", "n_tasks", "n_samples"]
    for extra in ("exact_match", "char_f1", "fuzzy_token_sort_ratio"):
        keys += [extra] if extra in res else []
    typer.echo(json.dumps({"benchmark": res["benchmark"], "sanitizer": res["sanitizer"],
                           **{x: res[x] for x in keys}, "counts": res["counts"]}, indent=2))
    if "sensitivity" in res:
        typer.echo(res["sensitivity"])
    if res.get("warning"):
        typer.echo(f"warning: {res['warning']}", err=True)


@app.command("compare")
def compare_cmd(
    dirs: list[Path] = typer.Argument(..., help="Result folders (or run folders containing them)."),
    force: bool = typer.Option(False, "--force", help="Rank even when manifests differ in score-moving settings."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Also write comparison.{json,md,html} here."),
) -> None:
    """Side-by-side table; lists every manifest difference that can move a score, refusing to rank without --force."""
    from codeja.evaluate.compare import build_comparison, compare, to_markdown

    try:
        comp = compare(dirs, force=force, output=output)
    except Exception:
        typer.echo(to_markdown(build_comparison(dirs)))
        raise
    typer.echo(to_markdown(comp))


@app.command("selfcheck")
def selfcheck_cmd(
    benchmark: list[str] | None = typer.Option(None, "--benchmark", "-b", help="Benchmark to check; repeat for "
                                               "several (default: every registered benchmark)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: name -> {passed, total, exceptions}."),
    data: list[str] | None = typer.Option(None, "--data", help="NAME=PATH: data for one benchmark (a local file or "
                                          "hub:<id>@<revision>); repeatable."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N tasks of each benchmark."),
    workers: int | None = typer.Option(None, "--workers", help="Sandbox workers."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Keep each benchmark's scored samples here."),
) -> None:
    """Run every benchmark's reference solutions through the sandbox (a known-wrong sample where there are none)
    and print pass counts per benchmark, each exception explained. Exits 1 if any exception is unexplained."""
    from codeja.errors import ConfigError
    from codeja.evaluate.selfcheck import selfcheck, to_json, to_markdown

    paths = {}
    for item in data or []:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"--data: expected NAME=PATH, got '{item}'")
        paths[name.strip()] = path.strip()
    results = selfcheck(benchmark or None, data=paths, limit=limit, workers=workers, out_dir=output,
                        progress=not as_json)
    typer.echo(to_json(results) if as_json else to_markdown(results))
    if not all(r.ok for r in results):
        raise typer.Exit(1)
