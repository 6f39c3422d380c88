"""Scoring samples and running models x benchmarks.

``score_samples`` is the one path from samples to scores: sanitize (one or every sanitizer), assemble the test
program, run it in :mod:`codeja.sandbox` (identical programs run once), count per task, estimate pass@k with a
bootstrap CI, measure generation health. ``run_eval`` generates the samples through a backend, with the same
settings for every model, then calls the same scoring code, then writes the comparison.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from codeja.config import config_hash
from codeja.evaluate.benchmarks import Benchmark, get_benchmark
from codeja.evaluate.checkpoints import CURVES, curves, expand_models
from codeja.evaluate.compare import build_comparison, write_comparison
from codeja.evaluate.config import ScoringConfig
from codeja.evaluate.generate import TEMPLATES, generate_samples, infill_stop, resolve_mode
from codeja.evaluate.metrics import bootstrap_ci, health, mean_pass_at_k, qa_scores
from codeja.evaluate.samples import read_samples
from codeja.evaluate.sanitize import SANITIZERS, Sanitizer, get_sanitizer
from codeja.io import write_jsonl
from codeja.report.render import table_md
from codeja.runs import MANIFEST, RESULTS, SAMPLES, hash_path, read_json, write_json, write_manifest
from codeja.sandbox import Job, Limits, describe, run_many


def _sanitizers(spec: str | list[str]) -> list[Sanitizer]:
    if isinstance(spec, str):
        spec = list(SANITIZERS) if spec == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    return [get_sanitizer(s) for s in spec]


def _program_for(bench: Benchmark, san: Sanitizer, sample: dict) -> tuple[str, str, str]:
    """(sanitized code, rule, program)."""
    task = bench.task(sample["task_id"])
    if task.suffix is not None:  # infilling: the sample is the middle
        middle = san.sanitize_middle(sample["raw"], task, bench)
        code = task.prompt + middle + task.suffix
        return middle, "infill", bench.program(task, code, closed=True)
    s = san.sanitize(sample["raw"], task, bench, sample["kind"])
    return s.code, s.rule, bench.program(task, s.code, closed=s.closed)


def execute(bench: Benchmark, programs: list[tuple[str, str]], *, timeout_s: float | None, memory_mb: int | None,
            workers: int | None, progress: bool) -> dict[str, Any]:
    """Run each distinct (task_id, program) once in the sandbox; returns {program hash: SandboxResult}."""
    limits = Limits(wall_s=timeout_s or bench.timeout_s, memory_mb=memory_mb)
    unique: dict[str, tuple[str, str]] = {}
    for tid, prog in programs:
        unique.setdefault(hashlib.sha256(prog.encode("utf-8", "surrogatepass")).hexdigest(), (tid, prog))
    keys = list(unique)
    # end_marker: a pass needs the program to reach its end (the tests' last line), not only exit 0
    jobs = [Job(unique[k][1], bench.task(unique[k][0]).language, files=bench.files(bench.task(unique[k][0])),
                limits=limits, key=k, end_marker=True) for k in keys]
    results = run_many(jobs, workers=workers, progress=progress) if jobs else []
    return dict(zip(keys, results))


def _summary(bench: Benchmark, per_sample: list[dict], san_id: str, *, ks, bootstrap: int, confidence: float,
             seed: int) -> dict[str, Any]:
    per_task: dict[str, dict[str, int]] = {}
    for t in bench.tasks:  # every task appears, so a task with no samples is visible, not silently skipped
        per_task[t.task_id] = {"passed": 0, "n": 0}
    statuses: dict[str, int] = {}
    for s in per_sample:
        v = s["verdicts"][san_id]
        pt = per_task.setdefault(s["task_id"], {"passed": 0, "n": 0})
        pt["n"] += 1
        pt["passed"] += int(v["passed"])
        statuses[v["status"]] = statuses.get(v["status"], 0) + 1
    scored = {k: v for k, v in per_task.items() if v["n"] > 0}
    values = [v["passed"] / v["n"] for v in scored.values()]
    lo, hi = bootstrap_ci(values, resamples=bootstrap, confidence=confidence, seed=seed)
    out = {"sanitizer": san_id, **mean_pass_at_k(scored, ks), "ci_low": lo, "ci_high": hi,
           "confidence": confidence, "bootstrap": bootstrap, "n_tasks": len(scored),
           "n_tasks_without_samples": len(per_task) - len(scored), "n_samples": len(per_sample),
           "statuses": statuses, "per_task": per_task}
    if "toolchain-missing" in statuses or "sandbox-error" in statuses:
        out["warning"] = "some programs could not run (toolchain-missing / sandbox-error): not model failures"
    return out


def score_samples(benchmark: str | Benchmark, samples_path: str | Path, output_dir: str | Path,
                  scoring: ScoringConfig | None = None, *, path: str | None = None, progress: bool = False,
                  extra_manifest: dict | None = None, **bench_options) -> dict[str, Any]:
    """Score a samples JSONL (``task_id`` + ``completion`` or ``solution``) and write results, samples, manifest.

    ``samples_path`` is a JSONL file, an EvalPlus samples folder or a bigcode generations.json
    (:mod:`codeja.evaluate.samples`); a line that cannot be scored is an error unless
    ``scoring.skip_bad_lines``. ``scoring.sanitizer`` is a name, a comma list, or ``"all"`` (every sample
    scored under each; ``results.json`` then has ``by_sanitizer`` and a ``sensitivity`` table, and its
    headline is the first one listed, ``codeja`` for all)."""
    sc = scoring or ScoringConfig()
    t0 = time.monotonic()
    bench = benchmark if isinstance(benchmark, Benchmark) else get_benchmark(benchmark, path, **bench_options)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples, quarantined = read_samples(samples_path, bench, skip_bad_lines=sc.skip_bad_lines)
    sans = _sanitizers(sc.sanitizer)
    if "all" == sc.sanitizer:
        sans.sort(key=lambda s: s.name != "codeja")
    ids = [s.id for s in sans]
    for s in samples:
        s["language"] = bench.task(s["task_id"]).language
        s["verdicts"] = {}

    if bench.kind == "qa":
        for s in samples:
            scores = qa_scores(s["raw"], bench.task(s["task_id"]).answers)
            s["verdicts"] = {sid: {"passed": scores["exact_match"] == 1.0, "status": "scored", **scores} for sid in ids}
    else:
        programs = []
        for s in samples:
            for san in sans:
                code, rule, prog = _program_for(bench, san, s)
                h = hashlib.sha256(prog.encode("utf-8", "surrogatepass")).hexdigest()
                s["verdicts"][san.id] = {"sanitized": code, "rule": rule, "program_sha256": h}
                programs.append((s["task_id"], prog))
        results = execute(bench, programs, timeout_s=sc.timeout_s, memory_mb=sc.memory_mb, workers=sc.workers,
                          progress=progress)
        for s in samples:
            task = bench.task(s["task_id"])
            for v in s["verdicts"].values():
                r = results[v["program_sha256"]]
                v.update(status=r.status, passed=bool(bench.passed(task, r)), wall_s=r.wall_s,
                         stderr=(r.compile_stderr or r.stderr)[-600:], detail=r.detail or None,
                         compile_status=r.compile_status)

    by_san = {sid: _summary(bench, samples, sid, ks=sc.k, bootstrap=sc.bootstrap, confidence=sc.confidence,
                            seed=sc.seed) for sid in ids}
    if bench.kind == "qa":
        for sid in ids:
            for m in ("exact_match", "char_f1", "fuzzy_token_sort_ratio"):
                by_san[sid][m] = sum(s["verdicts"][sid][m] for s in samples) / len(samples)
    head = by_san[ids[0]]
    result = {"benchmark": bench.name, "sanitizer": "all" if sc.sanitizer == "all" else ids[0], **head,
              "metric": "exact_match" if bench.kind == "qa" else "pass@1",
              "health": health(samples), "counts": {"in": len(samples) + len(quarantined), "scored": len(samples),
                                                    "quarantined": len(quarantined)},
              "quarantined": quarantined[:50]}
    result["sanitizer_id"] = ids[0]
    if len(ids) > 1:
        result["by_sanitizer"] = by_san
        result["sensitivity"] = sensitivity_table(bench.name, by_san)
    rows = [{"task_id": s["task_id"], "line": s["line"], "kind": s["kind"], "raw": s["raw"],
             **{kk: s[kk] for kk in ("completion_tokens", "finish_reason", "sample_index") if kk in s},
             "verdicts": s["verdicts"]} for s in samples]
    write_jsonl(out / SAMPLES, rows)
    write_json(out / RESULTS, result)
    timeout_s = sc.timeout_s or bench.timeout_s
    settings = {"benchmark": bench.name, "sanitizers": ids, "k": list(sc.k), "bootstrap": sc.bootstrap,
                "confidence": sc.confidence, "seed": sc.seed, "timeout_s": timeout_s, "memory_mb": sc.memory_mb}
    write_manifest(out, "eval.score", settings,
                   benchmark=bench.describe(),
                   sanitizers=[{"name": s.name, "version": s.version, "id": s.id} for s in sans],
                   samples={"path": str(samples_path), "sha256": hash_path(samples_path)},
                   execution={"engine": "codeja.sandbox", "timeout_s": timeout_s, "memory_mb": sc.memory_mb,
                              "toolchains": _toolchains(bench), **_sandbox_description()},
                   seeds={"bootstrap": sc.seed}, wall_s=round(time.monotonic() - t0, 3),
                   **(extra_manifest or {}))
    return result


def _sandbox_description() -> dict[str, Any]:
    """How the sandbox isolated and limited the programs (its weaker fallbacks are named here)."""
    return {"sandbox": describe()}


def _toolchains(bench: Benchmark) -> dict[str, Any]:
    """Compiler / interpreter versions the programs ran with (they can move a score)."""
    if bench.kind == "qa":
        return {}
    try:
        from codeja.sandbox import get_language

        return {bench.language: get_language(bench.language).toolchain_id()}
    except Exception as e:  # noqa: BLE001 - provenance only; never fail a score on it
        return {bench.language: f"unknown ({type(e).__name__})"}


def sensitivity_table(name: str, by_san: dict[str, dict]) -> str:
    """Markdown: the headline metric under each sanitizer, with its difference from the first."""
    ids = list(by_san)
    metric = "exact_match" if "exact_match" in by_san[ids[0]] else "pass@1"
    base = by_san[ids[0]].get(metric)
    rows = []
    for sid in ids:
        v = by_san[sid]
        m = v.get(metric)
        delta = "" if m is None or base is None else f"{(m - base) * 100:+.1f} pt"
        rows.append([sid, f"{m:.3f}", f"[{v['ci_low']:.3f}, {v['ci_high']:.3f}]", delta] if m is not None
                    else [sid, "n/a", "", ""])
    return table_md([name, metric, "95% CI", f"Δ vs {ids[0]}"], rows).rstrip("\n")


# ---------------------------------------------------------------------------------------------------------------
# models x benchmarks


def model_identity(arg: str, name: str) -> dict[str, Any]:
    """Path or hub id, plus a hash of the model's config and weights index: what produced the samples."""
    ident: dict[str, Any] = {"arg": arg, "name": name}
    try:
        from codeja.models import model_fingerprint, resolve_model

        ref = resolve_model(arg)
        ident.update(kind=ref.kind, path=str(ref.path) if ref.path else None, hub_id=ref.hub_id,
                     fingerprint=model_fingerprint(ref))
    except Exception as e:  # noqa: BLE001 - e.g. an HTTP backend's model name: recorded as given
        ident["resolve_error"] = f"{type(e).__name__}: {e}"
    return ident


def _infill_stop(bench: Benchmark, mode: str, tokenizer) -> list[str] | None:
    """The stop strings infilling generation used (they come from the model's FIM convention; recorded, and
    expected to differ between models of different conventions)."""
    if mode != "completion" or not any(t.suffix is not None for t in bench.tasks):
        return None
    return infill_stop(tokenizer)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name).strip("._") or "model"


def run_eval(cfg, output_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Generate with identical settings for every model, score every benchmark, write the comparison.

    Layout: ``output_dir/<model>/<benchmark>/{generations.jsonl, samples.jsonl, results.json, manifest.json}`` and
    ``output_dir/comparison.{json,md,html,png}``. A cell whose manifest records the same settings is reused
    (``cfg.force`` redoes it), so an interrupted run resumes at the next cell.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # a training run (or a glob of checkpoints) becomes one model per saved step, named <name>@step-<N>
    specs = expand_models(list(cfg.models), list(cfg.model_names))
    benches = {b: get_benchmark(b, cfg.benchmark_paths.get(b), None if cfg.subset_seed is not None else cfg.limit,
                                prompt_lang=cfg.prompt_lang, fim_mode=cfg.fim_mode) for b in cfg.benchmarks}
    if cfg.subset_seed is not None and cfg.limit:
        for bench in benches.values():
            seeded_subset(bench, cfg.limit, cfg.subset_seed)
    gen = cfg.generation
    cells = []
    by_model: dict[str, dict[str, Path]] = {}
    for spec in specs:
        arg, name = spec.arg, spec.name
        identity = model_identity(arg, name)
        if spec.series is not None:
            identity.update(series=spec.series, step=spec.step)
        backend = tokenizer = None
        for bname, bench in benches.items():
            cell = out / _safe(name) / bname
            settings = {"model": identity, "benchmark": bench.describe(), "generation": gen.model_dump(),
                        "sanitizer": cfg.sanitizer, "k": cfg.k, "bootstrap": cfg.bootstrap, "seed": cfg.seed,
                        "timeout_s": cfg.timeout_s, "memory_mb": cfg.memory_mb, "backend": cfg.backend}
            key = config_hash(settings)
            man_path = cell / MANIFEST
            by_model.setdefault(name, {})[bname] = cell
            if not cfg.force and man_path.is_file() and read_json(man_path).get("cell_hash") == key:
                cells.append(cell)
                continue
            if backend is None:
                # looked up at call time: tests and embedders swap codeja.backends.get_backend
                from codeja.backends import get_backend

                backend = get_backend(arg, cfg.backend, **cfg.backend_options)
                tokenizer = getattr(backend, "tokenizer", None)
            mode = resolve_mode(gen.mode, backend)
            t0 = time.monotonic()
            rows = generate_samples(backend, bench, gen, mode=mode, fim_mode=cfg.fim_mode, tokenizer=tokenizer,
                                    progress=progress)
            gen_s = time.monotonic() - t0
            write_jsonl(cell / "generations.jsonl", rows)
            score_samples(bench, cell / "generations.jsonl", cell, cfg.scoring(), progress=progress,
                          extra_manifest={"cell_hash": key, "model": identity,
                                          "backend": backend.identity() if hasattr(backend, "identity")
                                          else {"backend": cfg.backend},
                                          "generation": {**gen.model_dump(), "mode": mode},
                                          "infill_stop": _infill_stop(bench, mode, tokenizer),
                                          "prompt_template": (gen.prompt_template if mode == "instruct"
                                                              else "raw-prompt"),
                                          "prompt_template_text": (TEMPLATES.get(gen.prompt_template)
                                                                   if mode == "instruct" else None),
                                          "generation_wall_s": round(gen_s, 3)})
            cells.append(cell)
        if backend is not None and hasattr(backend, "close"):
            backend.close()
    comp = build_comparison(cells)
    write_comparison(comp, out)
    if any(s.series is not None for s in specs):  # scores by training step, for the report's curves
        write_json(out / CURVES, curves(specs, by_model, bootstrap=cfg.bootstrap, seed=cfg.seed))
    write_manifest(out, "eval", cfg, cells=[str(c.relative_to(out)) for c in cells],
                   models=[{"arg": s.arg, "name": s.name, "series": s.series, "step": s.step} for s in specs],
                   seeds={"generation": gen.seed, "bootstrap": cfg.seed})
    return comp


def seeded_subset(bench: Benchmark, n: int, seed: int) -> None:
    """Keep ``n`` tasks chosen by ``seed`` (in their original order) instead of the first ``n``: the first tasks of
    an infilling benchmark are a handful of problems. A task is picked by a hash of (seed, task id), so benchmarks
    that share task ids (HumanEval-Infilling and JHumanEval-Infilling) get the same tasks wherever both have them."""
    rank = sorted(bench.all_tasks, key=lambda t: hashlib.sha256(f"{seed}:{t.task_id}".encode()).hexdigest())
    keep = {t.task_id for t in rank[:n]}
    bench.tasks = [t for t in bench.all_tasks if t.task_id in keep]
    bench.limit = n
    bench.options = {**bench.options, "subset_seed": seed}
