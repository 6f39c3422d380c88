"""Side-by-side tables of result folders, and the manifest differences that make a ranking unfair.

A result folder is one (model, benchmark) cell: ``results.json`` + ``manifest.json``. ``compare`` reads any
number of them (or run folders holding them), builds ``{"models", "benchmarks", "scores",
"manifest_differences"}`` and refuses to rank when a difference could move a score (sanitizer, data hashes,
decoding, prompt handling, prompt template, limits, toolchains, codeja version and git commit) unless
``force``. Model identity differs by design and is not such a difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from codeja.errors import CodejaError
from codeja.report.fonts import pyplot
from codeja.report.render import markdown_html, page, table_md
from codeja.runs import COMPARISON, MANIFEST, RESULTS, read_json, write_json

# manifest keys (dotted) that can move a score, and what to call them in a report. "x.*" compares each key
# under x on its own, so a report names the one decoding setting that differs. The data's path is not here:
# the same data sits at different paths on different machines; its hash is.
SCORE_MOVING = {
    "sanitizer": "sanitizer (name@version)",
    "benchmark.source.sha256": "benchmark data (sha256 of the file or hub rows)",
    "benchmark.source.hub_id": "benchmark data (hub dataset)",
    "benchmark.source.revision": "benchmark data (hub revision)",
    "benchmark.source.config": "benchmark data (hub config)",
    "benchmark.n_tasks": "number of tasks (limit)",
    "benchmark.options": "benchmark options (prompt language, FIM mode, variant, shots)",
    "benchmark.stop": "generation stop strings",
    "generation.*": "decoding setting",
    "prompt_template": "prompt template",
    "execution.timeout_s": "execution timeout",
    "execution.memory_mb": "execution memory limit",
    "execution.toolchains": "compiler / interpreter versions",
    "codeja_version": "codeja version",
    "git_commit": "codeja git commit",
    "backend.backend": "generation backend",
}
# What a setting meant before manifests recorded it (so an old run and a new one with the same behaviour
# agree).
RECORDED_SINCE = {"generation.prompt_tail": "keep"}
LABELS = {"generation.prompt_tail": "completion prompt's trailing whitespace (strip: the model writes it)"}


class ManifestMismatch(CodejaError):
    """Runs differ in a setting that moves scores; rerun them identically or pass --force."""


def _get(d: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def find_cells(paths: list[str | Path]) -> list[Path]:
    cells: list[Path] = []
    for p in map(Path, paths):
        if (p / RESULTS).is_file():
            cells.append(p)
        elif p.is_dir():
            cells += sorted(q.parent for q in p.rglob(RESULTS))
        else:
            raise CodejaError(f"{p}: not a result folder (no results.json) nor a folder containing any")
    if not cells:
        raise CodejaError(f"no results.json under: {', '.join(map(str, paths))}")
    return cells


def _cell_view(cell: Path) -> tuple[str, str, dict, dict]:
    res = read_json(cell / RESULTS)
    man = read_json(cell / MANIFEST) if (cell / MANIFEST).is_file() else {}
    model = _get(man, "model.name") or _get(man, "model.arg") or cell.parent.name
    metric = res.get("metric", "pass@1")
    row = {"metric": metric, "score": res.get(metric), "pass@1": res.get("pass@1"), "ci_low": res.get("ci_low"),
           "ci_high": res.get("ci_high"), "n_tasks": res.get("n_tasks"),
           "sanitizer": res.get("sanitizer_id", res.get("sanitizer")),
           "health": {k: v for k, v in (res.get("health") or {}).items() if k != "placeholder_detector"},
           "path": str(cell)}
    for extra in ("exact_match", "char_f1", "fuzzy_token_sort_ratio"):
        if extra in res:
            row[extra] = res[extra]
    man = {**man, "sanitizer": row["sanitizer"]}
    return model, res["benchmark"], row, man


def _score_keys(cells: dict[str, dict]) -> list[tuple[str, str]]:
    """(dotted key, label) of each score-moving setting; "x.*" becomes every key a manifest has under x."""
    out = []
    for key, label in SCORE_MOVING.items():
        if not key.endswith(".*"):
            out.append((key, label))
            continue
        base = key[:-2]
        subs = sorted({k for man in cells.values() if isinstance(_get(man, base), dict)
                       for k in _get(man, base)}
                      | {k.rsplit(".", 1)[1] for k in RECORDED_SINCE if k.startswith(base + ".")})
        out += [(f"{base}.{k}", LABELS.get(f"{base}.{k}", f"{label} {base}.{k}")) for k in subs]
    return out


def _setting(man: dict, key: str) -> Any:
    v = _get(man, key)
    recorded_later = v is None and key in RECORDED_SINCE and man.get("generation") is not None
    return RECORDED_SINCE[key] if recorded_later else v


def manifest_differences(manifests: dict[tuple[str, str], dict]) -> list[dict[str, Any]]:
    """Per benchmark, every score-moving key whose value differs between models."""
    diffs = []
    benchmarks = sorted({b for _, b in manifests})
    for b in benchmarks:
        cells = {m: man for (m, bb), man in manifests.items() if bb == b}
        for key, label in _score_keys(cells):
            values = {m: _setting(man, key) for m, man in cells.items()}
            if len({repr(v) for v in values.values()}) > 1:
                diffs.append({"benchmark": b, "key": key, "what": label, "values": values})
    return diffs


def build_comparison(paths: list[str | Path]) -> dict[str, Any]:
    models: list[str] = []
    benchmarks: list[str] = []
    scores: dict[str, dict[str, dict]] = {}
    manifests: dict[tuple[str, str], dict] = {}
    for cell in find_cells(paths):
        model, bench, row, man = _cell_view(cell)
        if model in scores and bench in scores[model]:  # the same model evaluated twice: keep both visibly
            model = f"{model} ({cell.parent.parent.name})"
        models += [model] if model not in models else []
        benchmarks += [bench] if bench not in benchmarks else []
        scores.setdefault(model, {})[bench] = row
        manifests[(model, bench)] = man
    return {"models": models, "benchmarks": benchmarks, "scores": scores,
            "manifest_differences": manifest_differences(manifests)}


def _fmt(row: dict | None) -> str:
    if not row or row.get("score") is None:
        return "–"
    s = f"{row['score']:.3f}"
    if row.get("ci_low") is not None and row.get("ci_high") is not None:
        s += f" [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    return s


def to_markdown(comp: dict[str, Any]) -> str:
    b = comp["benchmarks"]
    header = ["model", *b]
    scores = [[m, *(_fmt(comp["scores"][m].get(x)) for x in b)] for m in comp["models"]]
    lines = table_md(header, scores).splitlines()
    lines += ["", "Generation health (placeholder share / mean output tokens / truncation / refusal):", ""]
    health_rows = []
    for m in comp["models"]:
        cells = []
        for x in b:
            h = (comp["scores"][m].get(x) or {}).get("health") or {}
            def f(v, pct=True):
                return "n/a" if v is None else (f"{v * 100:.0f}%" if pct else f"{v:.0f}")

            cells.append(f"{f(h.get('placeholder_share'))} / {f(h.get('mean_output_tokens'), False)} / "
                         f"{f(h.get('truncation_rate'))} / {f(h.get('refusal_rate'))}")
        health_rows.append([m, *cells])
    lines += table_md(header, health_rows).splitlines()
    if comp["manifest_differences"]:
        lines += ["", "**Differences that can move a score** (ranking not meaningful):", ""]
        lines += [f"- {d['benchmark']}: {d['what']}: " + ", ".join(f"{m}={v!r}" for m, v in d["values"].items())
                  for d in comp["manifest_differences"]]
    else:
        lines += ["", "No score-moving differences between the runs' manifests."]
    return "\n".join(lines) + "\n"


def to_html(comp: dict[str, Any], chart_png: str | Path | None = None) -> str:
    """comparison.md rendered as a page; the chart is embedded when ``chart_png`` is a file."""
    text = f"# Evaluation comparison\n\n{to_markdown(comp)}"
    if chart_png:
        text += f"\n![pass@1 by model and benchmark]({Path(chart_png).name})\n"
    return page("codeja eval comparison", markdown_html(text, Path(chart_png).parent if chart_png else None))


def bar_chart(comp: dict[str, Any], path: Path) -> Path:


    plt = pyplot()  # Agg, with a Japanese-capable font

    models, benches = comp["models"], comp["benchmarks"]
    x = np.arange(len(benches))
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(benches) + 2), 3.2))
    for i, m in enumerate(models):
        vals = [(comp["scores"][m].get(b) or {}).get("score") or 0.0 for b in benches]
        lo = [v - ((comp["scores"][m].get(b) or {}).get("ci_low") or v) for v, b in zip(vals, benches)]
        hi = [((comp["scores"][m].get(b) or {}).get("ci_high") or v) - v for v, b in zip(vals, benches)]
        ax.bar(x + i * width, vals, width, label=m, yerr=[lo, hi], capsize=2)
    ax.set_xticks(x + width * (len(models) - 1) / 2, benches)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (pass@1 / exact match)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_comparison(comp: dict[str, Any], out_dir: str | Path, *, chart: bool = True) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = bar_chart(comp, out / "comparison.png") if chart and comp["models"] else None
    write_json(out / COMPARISON, comp)
    (out / "comparison.md").write_text(to_markdown(comp), encoding="utf-8")
    (out / "comparison.html").write_text(to_html(comp, png), encoding="utf-8")
    return {"json": out / COMPARISON, "md": out / "comparison.md", "html": out / "comparison.html"}


def compare(paths: list[str | Path], *, force: bool = False, output: str | Path | None = None) -> dict[str, Any]:
    """Build the comparison; raise ManifestMismatch on score-moving differences unless ``force``."""
    comp = build_comparison(paths)
    if output is not None:
        write_comparison(comp, output)
    if comp["manifest_differences"] and not force:
        lines = [f"{d['benchmark']}: {d['what']} differs: " + ", ".join(f"{m}={v!r}" for m, v in d["values"].items())
                 for d in comp["manifest_differences"]]
        raise ManifestMismatch("refusing to rank runs that differ in settings that move scores (pass --force to "
                               "compare anyway):\n  " + "\n  ".join(lines))
    return comp
