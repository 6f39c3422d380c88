"""``codeja report RUN_DIR``: one page that shows what each phase of a run did.

Reads only files the stages wrote (``pipeline.json``, each stage's ``result.json``, ``stats.json``,
``metrics.jsonl``, ``comparison.json`` and plots) and writes ``report.html`` (self-contained: CSS inline, plots
as base64 PNG) and ``report.md`` next to them. A run with ablation variants (sub-folders holding ``pipeline.json``)
gets one section per variant and a table of every variant's scores side by side.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from codeja.report.curves import render_curves, run_curves
from codeja.runs import read_json

STATE = "pipeline.json"


# ---------------------------------------------------------------------------------------------------------------
# reading a run


def find_runs(run_dir: Path) -> dict[str, Path]:
    """{"main": run_dir} for a plain run, {variant: folder} for a run with variants."""
    if (run_dir / STATE).exists():
        return {"main": run_dir}
    runs = {p.name: p for p in sorted(run_dir.iterdir()) if (p / STATE).exists()} if run_dir.is_dir() else {}
    if not runs:
        from codeja.errors import CodejaError

        raise CodejaError(f"{run_dir}: not a codeja run directory (no {STATE} here or in its sub-folders)")
    return runs


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            rows.append(obj)
    return rows


def stage_records(run: Path) -> list[dict[str, Any]]:
    state = read_json(run / STATE)
    order = [s["name"] for s in state.get("recipe", {}).get("stages", [])] or list(state["stages"])
    out = []
    for name in order:
        rec = state["stages"].get(name)
        if rec is None:
            continue
        d = run / name
        out.append({"name": name, "dir": d, **rec})
    return out


def comparison(recs: list[dict[str, Any]]) -> dict | None:
    for rec in recs:
        if rec["kind"] == "eval" and (rec["dir"] / "comparison.json").exists():
            return read_json(rec["dir"] / "comparison.json")
    return None


# ---------------------------------------------------------------------------------------------------------------
# plots


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def loss_curves(recs: list[dict[str, Any]]) -> str | None:
    """One figure: training loss per step for every training stage (and eval losses where logged)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = []
    for rec in recs:
        m = rec["dir"] / "metrics.jsonl"
        if rec["kind"].startswith("train.") and m.exists():
            rows = _read_jsonl(m)
            pts = [(r["step"], r["loss"]) for r in rows if "step" in r and isinstance(r.get("loss"), (int, float))]
            if pts:
                series.append((rec["name"], pts))
    if not series:
        return None
    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.2), squeeze=False)
    for ax, (name, pts) in zip(axes[0], series):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
    return _png(fig)


def score_chart(comp: dict) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models, benches = comp.get("models", []), comp.get("benchmarks", [])
    if not models or not benches:
        return None
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(benches), 3.2))
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        vals = [_score(comp, m, b) or 0.0 for b in benches]
        ax.bar([j + i * width for j in range(len(benches))], vals, width, label=m)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(benches))], benches)
    ax.set_ylabel("pass@1")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _score(comp: dict, model: str, bench: str) -> float | None:
    cell = comp.get("scores", {}).get(model, {}).get(bench)
    if not isinstance(cell, dict):
        return None
    for key in ("pass@1", "exact_match", "score"):
        if isinstance(cell.get(key), (int, float)):
            return float(cell[key])
    return None


# ---------------------------------------------------------------------------------------------------------------
# tables


def score_table(comp: dict) -> tuple[list[str], list[list[str]]]:
    """Rows = models, columns = benchmarks; cells 'pass@1 [ci_low, ci_high]'."""
    benches = comp.get("benchmarks", [])
    rows = []
    for m in comp.get("models", []):
        row = [m]
        for b in benches:
            cell = comp.get("scores", {}).get(m, {}).get(b) or {}
            v = _score(comp, m, b)
            if v is None:
                row.append("—")
                continue
            ci = ""
            if isinstance(cell.get("ci_low"), (int, float)) and isinstance(cell.get("ci_high"), (int, float)):
                ci = f" [{cell['ci_low']:.3f}, {cell['ci_high']:.3f}]"
            n = f" (n={cell['n_tasks']})" if cell.get("n_tasks") else ""
            row.append(f"{v:.3f}{ci}{n}")
        rows.append(row)
    return ["model", *benches], rows


def health_table(comp: dict) -> tuple[list[str], list[list[str]]]:
    keys: list[str] = []
    for m in comp.get("models", []):
        for b in comp.get("benchmarks", []):
            for k in ((comp.get("scores", {}).get(m, {}).get(b) or {}).get("health") or {}):
                if k not in keys:
                    keys.append(k)
    rows = []
    for m in comp.get("models", []):
        for b in comp.get("benchmarks", []):
            h = (comp.get("scores", {}).get(m, {}).get(b) or {}).get("health") or {}
            if h:
                rows.append([m, b, *[_fmt(h.get(k)) for k in keys]])
    return ["model", "benchmark", *keys], rows


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if v is None:
        return "—"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)[:120]
    return str(v)


def flat_numbers(d: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """Scalars of a (nested) dict as (dotted key, value) pairs, for summary tables."""
    out: list[tuple[str, str]] = []
    if isinstance(d, dict) and depth < 3:
        for k, v in d.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                out += flat_numbers(v, key + ".", depth + 1)
            elif isinstance(v, (int, float, str, bool)) and not (isinstance(v, str) and len(v) > 160):
                out.append((key, _fmt(v)))
    return out


def stage_pngs(d: Path) -> list[tuple[str, str]]:
    return [(p.name, base64.b64encode(p.read_bytes()).decode()) for p in sorted(d.glob("*.png"))][:6]


# ---------------------------------------------------------------------------------------------------------------
# rendering


CSS = """
body{font-family:-apple-system,'Segoe UI','Hiragino Sans','Noto Sans CJK JP',sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d2330;line-height:1.45} h1{border-bottom:3px solid #3b6ea8;padding-bottom:.2em}
h2{margin-top:2em;color:#3b6ea8} table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}
th,td{border:1px solid #c9d2de;padding:.3em .6em;text-align:left;vertical-align:top} th{background:#eef3f9}
td.num{text-align:right;font-variant-numeric:tabular-nums} .muted{color:#667} img{max-width:100%;border:1px solid #e3e8ef}
details{margin:.4em 0} code{background:#f3f5f8;padding:0 .25em} .grid{display:flex;flex-wrap:wrap;gap:12px}
.grid figure{margin:0;max-width:520px} figcaption{font-size:.85em;color:#556}
"""


def _table_html(header: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if _numeric(c) else ''}>{html.escape(c)}</td>" for c in r) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _numeric(c: str) -> bool:
    return bool(c) and (c[0].isdigit() or c[0] == "-") and not c.startswith("--")


def _table_md(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


class Doc:
    """Builds the HTML and Markdown versions side by side."""

    def __init__(self) -> None:
        self.h: list[str] = []
        self.m: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.h.append(f"<h{level}>{html.escape(text)}</h{level}>")
        self.m.append("#" * level + " " + text + "\n")

    def para(self, text: str, muted: bool = False) -> None:
        self.h.append(f"<p{' class=muted' if muted else ''}>{html.escape(text)}</p>")
        self.m.append(text + "\n")

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        if rows:
            self.h.append(_table_html(header, rows))
            self.m.append(_table_md(header, rows))

    def images(self, imgs: list[tuple[str, str]], md_dir: str | None = None) -> None:
        if not imgs:
            return
        figs = "".join(f"<figure><img src='data:image/png;base64,{b}' alt='{html.escape(n)}'>"
                       f"<figcaption>{html.escape(n)}</figcaption></figure>" for n, b in imgs)
        self.h.append(f"<div class=grid>{figs}</div>")
        if md_dir:
            self.m += [f"![{n}]({md_dir}/{n})\n" for n, _ in imgs]

    def raw_details(self, summary: str, text: str) -> None:
        self.h.append(f"<details><summary>{html.escape(summary)}</summary><pre>{html.escape(text)}</pre></details>")


STAGE_TITLES = {
    "curate": "Curation: filter statistics",
    "tokenize": "Tokenization",
    "train.cpt": "Continued pretraining",
    "synth.magpie": "Magpie synthesis: diversity",
    "prefs": "Preference pairs: margins",
    "prefs.candidates": "Preference candidates: sampled and scored",
    "prefs.pairs": "Preference pairs: margins",
    "train.sft": "Supervised fine-tuning",
    "train.dpo": "DPO",
    "eval": "Evaluation",
}


def render_run(doc: Doc, run: Path, title_prefix: str = "") -> None:
    recs = stage_records(run)
    doc.heading(f"{title_prefix}Stages")
    doc.table(["stage", "kind", "status", "wall time (s)", "CPU time (s)", "load avg (start, end)"],
              [[r["name"], r["kind"], r.get("status", "?"), _fmt(r.get("wall_s")), _fmt(r.get("cpu_s")),
                ", ".join(map(str, r.get("load_avg_1m") or [])) or "—"] for r in recs])
    for r in recs:  # studies (stages that write tables.json) first: their tables are the point of the run
        if (r["dir"] / STUDY_TABLES).exists():
            render_study(doc, r, title_prefix)
    comp = comparison(recs)
    if comp:
        doc.heading(f"{title_prefix}Scores per model and benchmark")
        doc.para("pass@1 (exact match / char-F1 for QA) with bootstrap 95% confidence intervals; n = tasks scored. "
                 "Every model was generated and scored with identical settings in one run.", muted=True)
        doc.table(*score_table(comp))
        chart = score_chart(comp)
        doc.images([("scores.png", chart)] if chart else [])
        doc.heading(f"{title_prefix}Generation health", 3)
        doc.table(*health_table(comp))
        sens = comp.get("sanitizer_sensitivity")
        if sens:
            doc.heading(f"{title_prefix}Sanitizer sensitivity", 3)
            if isinstance(sens, dict) and sens.get("header") and sens.get("rows"):
                doc.table(sens["header"], [[_fmt(c) for c in r] for r in sens["rows"]])
            else:
                doc.table(["key", "value"], [list(kv) for kv in flat_numbers(sens)])
        diffs = comp.get("manifest_differences") or []
        if diffs:
            doc.para("Manifest differences between models that can move a score: " + "; ".join(map(str, diffs)))
    curves = loss_curves(recs)
    if curves:
        doc.heading(f"{title_prefix}Loss curves")
        doc.images([("loss.png", curves)])
    for r in recs:
        if (r["dir"] / STUDY_TABLES).exists():
            continue  # rendered above
        doc.heading(f"{title_prefix}{STAGE_TITLES.get(r['kind'], r['kind'])} ({r['name']})", 3)
        stats_path = r["dir"] / "stats.json"
        summary = read_json(stats_path) if stats_path.exists() else r.get("result") or {}
        pairs = flat_numbers(summary)
        doc.table(["figure", "value"], [list(p) for p in pairs[:40]])
        doc.images(stage_pngs(r["dir"]), md_dir=r["name"])
        md = r["dir"] / "report.md"
        if md.exists():
            doc.raw_details(f"{r['name']}: report.md", md.read_text(encoding="utf-8")[:20000])


STUDY_TABLES = "tables.json"  # [{"title", "note", "header", "rows"}], written by study stages (codeja.studies)


def render_study(doc: Doc, rec: dict[str, Any], title_prefix: str = "") -> None:
    """A study stage's tables (with their notes) and every plot in its folder."""
    doc.heading(f"{title_prefix}Study: {rec['name']}")
    for t in read_json(rec["dir"] / STUDY_TABLES):
        doc.heading(t["title"], 3)
        if t.get("note"):
            doc.para(t["note"], muted=True)
        doc.table(t["header"], t["rows"])
    doc.images([(p.name, base64.b64encode(p.read_bytes()).decode()) for p in sorted(rec["dir"].glob("*.png"))],
               md_dir=rec["name"])


def variant_curves(runs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Every variant's series, labelled by variant (``variant/series`` when a variant has several)."""
    out = {}
    for v, path in runs.items():
        series = run_curves(stage_records(path))
        out.update({v if len(series) == 1 else f"{v}/{name}": c for name, c in series.items()})
    return out


def write_report(run_dir: str | Path) -> str:
    """Write report.html and report.md into ``run_dir``; returns the path of report.html."""
    run_dir = Path(run_dir).resolve()
    runs = find_runs(run_dir)
    doc = Doc()
    first = read_json(next(iter(runs.values())) / STATE)
    name = first.get("recipe_name", run_dir.name)
    doc.heading(f"codeja run report: {name}", 1)
    doc.para(f"Run directory: {run_dir}", muted=True)
    if len(runs) > 1 or "main" not in runs:
        doc.heading("Ablation: every variant side by side")
        header, rows = None, []
        for v, path in runs.items():
            comp = comparison(stage_records(path))
            if not comp:
                continue
            h, rs = score_table(comp)
            header = ["variant", *h]
            rows += [[v, *r] for r in rs]
        if header:
            doc.table(header, rows)
        render_curves(doc, variant_curves(runs), run_dir)
        for v, path in runs.items():
            render_run(doc, path, title_prefix=f"[{v}] ")
    else:
        render_run(doc, runs["main"])
        render_curves(doc, run_curves(stage_records(runs["main"])), run_dir)
    html_text = (f"<!doctype html><html lang=en><meta charset=utf-8><title>codeja report: {html.escape(name)}</title>"
                 f"<style>{CSS}</style><body>{''.join(doc.h)}</body></html>")
    (run_dir / "report.html").write_text(html_text, encoding="utf-8")
    (run_dir / "report.md").write_text("\n".join(doc.m), encoding="utf-8")
    return str(run_dir / "report.html")
