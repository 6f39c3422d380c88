"""``study.placeholder``: the placeholder study's table, contrasts and plots from the stages' outputs.

Reads only what earlier stages wrote (the eval's ``samples.jsonl`` per model and benchmark, curate
``stats.json``, the contamination ``stats.json``) plus one forward pass per arm over the held-out windows.
Writes::

    study.json     every figure: per arm x benchmark, per arm, per corpus, per contrast (mean, CI, n)
    table.md       the tables as Markdown (what docs/studies.md quotes)
    tables.json    the same tables for `codeja report`
    placeholder_rate.png, stub_rate.png, output_tokens.png, pass_at_1.png, heldout_loss.png, filter_drops.png

Intervals are percentile bootstraps over tasks (each benchmark's 164), or over held-out windows for the loss;
contrasts resample the same tasks (windows) for both arms, so they are paired.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from codeja.errors import InputError
from codeja.evaluate.metrics import bootstrap_ci
from codeja.evaluate.runner import _safe as safe
from codeja.io import read_jsonl
from codeja.report.render import table_md
from codeja.runs import RESULTS, SAMPLES, STATS, TABLES, read_json, stage_run, write_json
from codeja.studies.config import PlaceholderStudyConfig
from codeja.studies.heldout import heldout_losses
from codeja.studies.outputs import judge_body

MEASURES = {  # key -> (title, plot file, y label)
    "placeholder_rate": ("placeholder-output rate", "placeholder_rate.png", "share of outputs"),
    "stub_rate": ("stub rate (placeholder with pass / ... / raise)", "stub_rate.png", "share of outputs"),
    "output_tokens": ("mean output length", "output_tokens.png", "tokens"),
    "pass_at_1": ("pass@1", "pass_at_1.png", "pass@1"),
}


def _safe(name: str) -> str:
    return safe(name)


def task_values(cell: Path, top: int = 0) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """(task_id -> {placeholder_rate, stub_rate, empty_rate, output_tokens, pass_at_1} averaged over its samples,
    the cell's placeholder outputs: how many, how many with a stub statement, and the ``top`` most frequent bodies
    (lines stripped, joined by ' / ') with their counts)."""
    samples, results = cell / SAMPLES, cell / RESULTS
    if not samples.is_file() or not results.is_file():
        raise InputError("no samples.jsonl / results.json here: did the eval stage score this model and "
                         "benchmark?", path=str(cell))
    sanitizer = read_json(results).get("sanitizer_id")
    per: dict[str, list[dict[str, float]]] = {}
    bodies, stubs = Counter(), 0
    for row in read_jsonl(samples):
        body = judge_body(row["raw"])
        if body.verdict == "placeholder":
            bodies[" / ".join(ln.strip() for ln in body.body.splitlines() if ln.strip())] += 1
            stubs += body.stub
        v = row["verdicts"].get(sanitizer) or next(iter(row["verdicts"].values()))
        per.setdefault(row["task_id"], []).append({
            "placeholder_rate": float(body.verdict == "placeholder"),
            "stub_rate": float(body.stub),  # a stub is a placeholder (codeja.studies.outputs)
            "empty_rate": float(body.verdict == "empty"),
            "output_tokens": float(row.get("completion_tokens") or 0), "pass_at_1": float(bool(v["passed"]))})
    examples = {"placeholders": sum(bodies.values()), "stubs": stubs,
                "top": [{"body": b, "count": n} for b, n in bodies.most_common(top)]}
    return {t: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} for t, rows in per.items()}, examples


def interval(values: list[float] | np.ndarray, cfg: PlaceholderStudyConfig) -> dict[str, Any]:
    """Mean and percentile-bootstrap CI; resamples are drawn from the config's seed (same seed, same CI)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return {"mean": None, "ci": [None, None], "n": 0}
    mean = float(arr.mean())
    ci = bootstrap_ci(arr, resamples=cfg.bootstrap, confidence=cfg.confidence, seed=cfg.seed)
    return {"mean": mean, "ci": list(ci), "n": int(arr.size)}


def filter_drops(folder: str) -> dict[str, Any]:
    stats_path = Path(folder) / STATS
    if not stats_path.is_file():
        raise InputError("no stats.json: not a finished curate output", path=str(stats_path))
    s = read_json(stats_path)
    ph = s.get("removed", {}).get("placeholder", {})
    return {"in": s["in"], "kept": s["kept"]["docs"], "placeholder_dropped": ph.get("docs", 0),
            "reasons": ph.get("reasons", {})}


def measure(cfg: PlaceholderStudyConfig, output_dir: str | Path) -> dict[str, Any]:
    if not cfg.eval or not cfg.arms:
        raise InputError("set eval (the eval stage's folder) and arms (its model names)", field="eval")
    if cfg.models and len(cfg.models) != len(cfg.arms):
        raise InputError(f"models: {len(cfg.models)} models for {len(cfg.arms)} arms", field="models")
    out = Path(output_dir)
    inputs = [Path(cfg.eval) / _safe(a) / b / SAMPLES for a in cfg.arms for b in cfg.benchmarks]
    with stage_run(out, "study.placeholder", cfg, inputs=inputs, seeds={"bootstrap": cfg.seed}) as run:
        if run.skipped:
            return run.manifest["summary"]
        read = {a: {b: task_values(Path(cfg.eval) / _safe(a) / b, cfg.examples) for b in cfg.benchmarks}
                for a in cfg.arms}
        per_task = {a: {b: read[a][b][0] for b in cfg.benchmarks} for a in cfg.arms}
        cells = {a: {b: {k: interval(list(v.values()), cfg) for k, v in _columns(per_task[a][b]).items()}
                     for b in cfg.benchmarks} for a in cfg.arms}
        losses = {}
        if cfg.models and cfg.heldout:
            for arm, model in zip(cfg.arms, cfg.models):
                losses[arm] = heldout_losses(model, cfg.heldout, seq_len=cfg.heldout_seq_len,
                                             max_windows=cfg.heldout_windows)
        contrasts = [_contrast(a, b, per_task, losses, cfg) for a, b in cfg.contrasts]
        study = {
            "arms": cfg.arms, "benchmarks": cfg.benchmarks, "cells": cells,
            "examples": {a: {b: read[a][b][1] for b in cfg.benchmarks} for a in cfg.arms} if cfg.examples else {},
            "heldout_loss": {a: interval(v, cfg) for a, v in losses.items()},
            "filters": {label: filter_drops(folder) for label, folder in cfg.filters.items()},
            "contamination": _contamination(cfg.contamination),
            "dpo_data": _dpo_data(cfg.dpo_candidates, cfg.dpo_pairs),
            "contrasts": contrasts, "bootstrap": cfg.bootstrap, "confidence": cfg.confidence,
        }
        write_json(out / "study.json", study)
        tables = build_tables(study)
        write_json(out / TABLES, tables)
        (out / "table.md").write_text(tables_md(tables), encoding="utf-8")
        plot_all(study, out)
        summary = {"study_file": str(out / "study.json"), "table_file": str(out / "table.md"),
                   **{f"{a}.{b}.{k}": cells[a][b][k]["mean"] for a in cfg.arms for b in cfg.benchmarks
                      for k in ("placeholder_rate", "pass_at_1")}}
        run.record(summary=summary)
    return summary


def _columns(per_task: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    keys = next(iter(per_task.values())).keys() if per_task else []
    return {k: {t: v[k] for t, v in per_task.items()} for k in keys}


def _contrast(a: str, b: str, per_task, losses, cfg) -> dict[str, Any]:
    """Paired differences a - b: per benchmark over the tasks both have; the held-out loss per window."""
    if a not in per_task or b not in per_task:
        raise InputError(f"contrast ({a}, {b}): both must be arms ({', '.join(cfg.arms)})", field="contrasts")
    out: dict[str, Any] = {"arm": a, "reference": b, "benchmarks": {}}
    for bench in cfg.benchmarks:
        ta, tb = per_task[a][bench], per_task[b][bench]
        tasks = sorted(set(ta) & set(tb))
        out["benchmarks"][bench] = {k: interval([ta[t][k] - tb[t][k] for t in tasks], cfg)
                                    for k in ("placeholder_rate", "stub_rate", "empty_rate", "output_tokens",
                                              "pass_at_1")}
    if a in losses and b in losses:
        out["heldout_loss"] = interval(np.asarray(losses[a]) - np.asarray(losses[b]), cfg)
    return out


def _contamination(folder: str) -> dict[str, Any]:
    if not folder:
        return {}
    stats = read_json(Path(folder) / STATS)
    records = Path(folder) / "contamination.jsonl"
    return {"documents": stats["documents"], "contaminated": stats["contaminated"],
            "bodies_replaced": stats["bodies_replaced"], "bodies_total": stats["bodies_total"],
            "filter_recall": dict(stats["filter"]["by_group"]),
            "record_sha256": hashlib.sha256(records.read_bytes()).hexdigest() if records.is_file() else None}


def _dpo_data(candidates: str, pairs: str) -> dict[str, Any]:
    """What the policy wrote on the DPO prompts (verdicts) and what the placeholder filter caught of it."""
    if not candidates:
        return {}

    verdicts, caught = Counter(), Counter()
    prompts = prompts_flagged = 0
    for row in read_jsonl(candidates):
        prompts += 1
        flagged_here = False
        for r in row["responses"]:
            verdict = r.get("verdict") or judge_body(r["text"]).verdict
            verdicts[verdict] += 1
            if (r.get("filter_reasons") or [None])[0] == "placeholder":
                caught["placeholder" if verdict == "placeholder" else "other"] += 1
                flagged_here = True
        prompts_flagged += flagged_here
    out = {"prompts": prompts, "responses": sum(verdicts.values()),
           "verdicts": dict(sorted(verdicts.items())),
           "placeholder_flagged": caught["placeholder"], "other_flagged": caught["other"],
           "prompts_flagged": prompts_flagged}
    if pairs and (Path(pairs) / STATS).is_file():
        out["pairs"] = read_json(Path(pairs) / STATS)["pairs"]
    return out


# ------------------------------------------------------------------------------------------------------------
# tables and plots


def _ci(cell: dict[str, Any], fmt: str = "{:.3f}") -> str:
    if cell.get("mean") is None:
        return "—"
    lo, hi = cell["ci"]
    return f"{fmt.format(cell['mean'])} [{fmt.format(lo)}, {fmt.format(hi)}]"


def build_tables(study: dict[str, Any]) -> list[dict[str, Any]]:
    conf = f"{round(study['confidence'] * 100)}%"
    main = {"title": "Per arm and benchmark", "header": ["arm", "benchmark", "placeholder rate", "stub rate",
                                                        "empty rate", "mean output tokens", "pass@1",
                                                        "held-out loss"],
            "note": f"Mean [{conf} bootstrap CI] over the benchmark's tasks (greedy, one sample per task); "
                    "held-out loss: mean next-token loss over the held-out windows.", "rows": []}
    for a in study["arms"]:
        loss = study["heldout_loss"].get(a)
        for i, b in enumerate(study["benchmarks"]):
            c = study["cells"][a][b]
            main["rows"].append([a, b, _ci(c["placeholder_rate"]), _ci(c["stub_rate"]), _ci(c["empty_rate"]),
                                 _ci(c["output_tokens"], "{:.1f}"), _ci(c["pass_at_1"]),
                                 _ci(loss) if loss and i == 0 else ""])
    tables = [main]
    if study["contrasts"]:
        t = {"title": "Paired differences (arm - reference)", "note": f"Same tasks / windows for both arms; "
             f"{conf} bootstrap CI. An interval that excludes 0 is a difference this run resolves.",
             "header": ["arm - reference", "benchmark", "placeholder rate", "stub rate", "mean output tokens",
                        "pass@1", "held-out loss"], "rows": []}
        for c in study["contrasts"]:
            for i, b in enumerate(study["benchmarks"]):
                d = c["benchmarks"][b]
                t["rows"].append([f"{c['arm']} - {c['reference']}", b, _ci(d["placeholder_rate"]), _ci(d["stub_rate"]),
                                  _ci(d["output_tokens"], "{:.1f}"), _ci(d["pass_at_1"]),
                                  _ci(c["heldout_loss"]) if "heldout_loss" in c and i == 0 else ""])
        tables.append(t)
    if study.get("examples"):
        t = {"title": "Most frequent placeholder outputs", "note": "Per arm and benchmark: placeholder outputs, "
             "how many have a stub statement, and the most frequent bodies (lines joined by ' / ', with counts).",
             "header": ["arm", "benchmark", "placeholders", "stubs", "most frequent"], "rows": []}
        for a in study["arms"]:
            for b in study["benchmarks"]:
                e = study["examples"][a][b]
                top = "; ".join(f"`{_clip(x['body'])}` ({x['count']})" for x in e["top"])
                t["rows"].append([a, b, str(e["placeholders"]), str(e["stubs"]), top or "—"])
        tables.append(t)
    if study["filters"]:
        tables.append({"title": "Placeholder filter on each corpus",
                       "note": "Documents in, dropped by the placeholder filter, kept.",
                       "header": ["corpus", "documents", "placeholder drops", "kept"],
                       "rows": [[k, str(v["in"]), str(v["placeholder_dropped"]), str(v["kept"])]
                                for k, v in study["filters"].items()]})
    dpo = study.get("dpo_data") or {}
    if dpo.get("responses"):
        v = dpo["verdicts"]
        tables.append({"title": "DPO data: the contaminated model's completions of standard-library prompts",
                       "note": "verdicts as for the benchmark outputs; 'flagged' = removed by the preference "
                       "stage's placeholder filter, which is what makes a rejected answer.",
                       "header": ["prompts", "completions", "code", "placeholder", "empty",
                                  "placeholder flagged by the filter", "other flagged",
                                  "prompts with a flagged one", "pairs trained on"],
                       "rows": [[str(dpo["prompts"]), str(dpo["responses"]), str(v.get("code", 0)),
                                 str(v.get("placeholder", 0)), str(v.get("empty", 0)),
                                 str(dpo["placeholder_flagged"]), str(dpo["other_flagged"]),
                                 str(dpo["prompts_flagged"]), str(dpo.get("pairs", "—"))]]})
    rec = study["contamination"].get("filter_recall")
    if rec:
        tables.append({"title": "Filter recall on the contaminated documents, by idiom group",
                       "note": "held-in: phrasings in the filter's labelled set; held-out: phrasings it was "
                       "not tuned on; bare-stub: no comment (kept by design).",
                       "header": ["idiom group", "contaminated documents", "flagged", "recall"],
                       "rows": [[g, str(v["documents"]), str(v["flagged"]), _rate(v["recall"])]
                                for g, v in rec.items()]})
    return tables


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _rate(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def tables_md(tables: list[dict[str, Any]]) -> str:
    parts = []
    for t in tables:
        parts += [f"### {t['title']}", "", t.get("note", ""), "", table_md(t["header"], t["rows"])]
    return "\n".join(parts)


def plot_all(study: dict[str, Any], out: Path) -> None:
    # heavy: matplotlib (kept out of `codeja --help` and light imports)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms, benches = study["arms"], study["benchmarks"]
    x = np.arange(len(arms))
    width = 0.8 / max(1, len(benches))
    for key, (title, fname, ylabel) in MEASURES.items():
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(arms), 3.4))
        for j, b in enumerate(benches):
            cells = [study["cells"][a][b][key] for a in arms]
            means = [c["mean"] for c in cells]
            err = np.array([[c["mean"] - c["ci"][0], c["ci"][1] - c["mean"]] for c in cells]).T
            ax.bar(x + j * width - 0.4 + width / 2, means, width, yerr=err, capsize=3, label=b)
        _finish(ax, x, arms, f"{title} ({round(study['confidence'] * 100)}% CI)", ylabel)
        fig.savefig(out / fname, dpi=110, bbox_inches="tight")
        plt.close(fig)
    if study["heldout_loss"]:
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(arms), 3.4))
        cells = [study["heldout_loss"].get(a) for a in arms]
        means = [c["mean"] if c else np.nan for c in cells]
        err = np.array([[c["mean"] - c["ci"][0], c["ci"][1] - c["mean"]] if c else [0, 0] for c in cells]).T
        ax.bar(x, means, 0.6, yerr=err, capsize=3, color="#7a5195")
        finite = [m for m in means if np.isfinite(m)]
        if finite:
            ax.set_ylim(min(finite) * 0.95, max(finite) * 1.03)
        _finish(ax, x, arms, "held-out left-to-right loss", "nats / token", legend=False)
        fig.savefig(out / "heldout_loss.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    if study["filters"]:
        labels = list(study["filters"])
        fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(labels), 3.4))
        drops = [study["filters"][k]["placeholder_dropped"] for k in labels]
        kept = [study["filters"][k]["kept"] for k in labels]
        ax.bar(labels, kept, 0.6, label="kept", color="#9fc5e8")
        ax.bar(labels, drops, 0.6, bottom=kept, label="placeholder drops", color="#e06666")
        for i, d in enumerate(drops):
            ax.text(i, kept[i] + d, str(d), ha="center", va="bottom", fontsize=8)
        ax.set_title("placeholder filter: documents dropped per corpus")
        ax.set_ylabel("documents")
        ax.legend(fontsize=8)
        fig.savefig(out / "filter_drops.png", dpi=110, bbox_inches="tight")
        plt.close(fig)


def _finish(ax, x, arms, title, ylabel, legend: bool = True) -> None:
    ax.set_xticks(x, arms, rotation=20, ha="right")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
