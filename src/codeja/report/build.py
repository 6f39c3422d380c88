"""``codeja report FOLDER``: one page that shows what each stage of a run did, for any codeja output folder.

A folder is read as (first match wins):

* a run of ``codeja run`` (``pipeline.json``): its stages, in recipe order;
* a run with ablation variants (sub-folders holding ``pipeline.json``): every variant's scores side by side, then
  one part per variant;
* one stage's output (``manifest.json``, as every stage writes; or an eval cell / comparison): that stage alone;
* a folder of stage outputs (e.g. ``/tmp/eval`` and ``/tmp/sft`` side by side): each of them.

Only files the stages wrote are read (``pipeline.json``, ``manifest.json``, ``result.json``, ``stats.json``,
``metrics.jsonl``, ``comparison.json``, ``report.md``, plots). Written next to them: ``report.html``
(self-contained: CSS inline, plots embedded) and ``report.md``; where a stage's own ``report.html`` already sits in
the folder, ``codeja-report.html`` / ``.md`` instead, so nothing a stage wrote is overwritten.

Sections: a report is a list of section functions. :data:`RUN_SECTIONS` take ``(doc, recs, prefix)`` (the run's
stage records); :data:`STAGE_SECTIONS` take ``(doc, rec, prefix)`` for one stage kind (others get
:func:`generic_section`). A section adds headings, text, tables and images to the :class:`~codeja.report.render.Doc`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeja.errors import CodejaError
from codeja.evaluate.compare import build_comparison
from codeja.io import iter_jsonl
from codeja.pipeline.stages import STAGES
from codeja.report import plots
from codeja.report.curves import render_curves, run_curves
from codeja.report.render import Doc, table_html, table_md
from codeja.runs import (
    COMPARISON,
    MANIFEST,
    METRICS,
    PIPELINE_STATE,
    REPORT_HTML,
    REPORT_MD,
    RESULT,
    RESULTS,
    STATS,
    TABLES,
    read_json,
)

GENERATOR = "codeja report"  # in the <meta name=generator> of pages this module writes


# ---------------------------------------------------------------------------------------------------------------
# reading a folder


def _read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSONL file a stage is still appending to: a half-written last line is not an error."""
    return [obj for _, obj in iter_jsonl(path, bad=[])]


def _is_stage_dir(d: Path) -> bool:
    return any((d / f).is_file() for f in (MANIFEST, COMPARISON, RESULTS))


def _stage_record(d: Path) -> dict[str, Any]:
    """A stage's record from its own folder (for folders not written by ``codeja run``)."""
    man = read_json(d / MANIFEST) if (d / MANIFEST).is_file() else {}
    kind = man.get("stage") or ("eval" if (d / COMPARISON).is_file() else "eval.score")
    if (d / RESULT).is_file():
        result = read_json(d / RESULT)
    else:
        result = man.get("summary") or man.get("counts") or {}
    return {"name": d.name, "kind": kind, "dir": d, "status": man.get("status", "complete"),
            "wall_s": man.get("wall_s"), "result": result}


def stage_records(run: Path) -> list[dict[str, Any]]:
    """``{"name", "kind", "dir", "status", "wall_s", "result"}`` for every stage of a run or output folder."""
    if (run / PIPELINE_STATE).is_file():
        state = read_json(run / PIPELINE_STATE)
        order = [s["name"] for s in state.get("recipe", {}).get("stages", [])] or list(state["stages"])
        return [{"name": n, "dir": run / n, **state["stages"][n]} for n in order if n in state["stages"]]
    if not run.is_dir():
        return []
    # the folder's own stage (if any), then stage outputs inside it: `codeja tokenize -o out/corpus` writes its
    # manifest into out/, beside out/sft/, out/eval/ ... of other commands
    own = [_stage_record(run)] if _is_stage_dir(run) else []
    return own + [_stage_record(p) for p in sorted(run.iterdir()) if p.is_dir() and _is_stage_dir(p)]


def find_runs(folder: Path) -> dict[str, Path]:
    """{"main": folder} for a run or stage output(s), {variant: sub-folder} for a run with variants."""
    if not folder.is_dir():
        raise CodejaError(f"{folder}: no such folder")
    if (folder / PIPELINE_STATE).is_file() or _is_stage_dir(folder):
        return {"main": folder}
    variants = {p.name: p for p in sorted(folder.iterdir()) if (p / PIPELINE_STATE).is_file()}
    if variants:
        return variants
    if stage_records(folder):
        return {"main": folder}
    raise CodejaError(f"{folder}: not a codeja output folder (no {PIPELINE_STATE} or {MANIFEST} here or in "
                      "its sub-folders; give a run folder, a stage's output folder, "
                      "or a folder holding them)")


def comparison(recs: list[dict[str, Any]]) -> dict | None:
    """The first evaluation's comparison (``comparison.json``, or built from its ``results.json`` cells)."""
    comps = comparisons(recs)
    return comps[0][1] if comps else None


def comparisons(recs: list[dict[str, Any]]) -> list[tuple[str, dict]]:
    out = []
    for rec in recs:
        if not rec["kind"].startswith("eval"):
            continue
        d = rec["dir"]
        if (d / COMPARISON).is_file():
            out.append((rec["name"], read_json(d / COMPARISON)))
        elif any(d.rglob(RESULTS)):
            out.append((rec["name"], build_comparison([d])))
    return out


# ---------------------------------------------------------------------------------------------------------------
# small formatting helpers


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1e5 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if v is None:
        return "—"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)[:120]
    return str(v)


def flat_numbers(d: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """Scalars of a (nested) dict as (dotted key, value) pairs, for summary tables; examples are left out."""
    out: list[tuple[str, str]] = []
    if isinstance(d, dict) and depth < 3:
        for k, v in d.items():
            if k == "examples":
                continue
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                out += flat_numbers(v, key + ".", depth + 1)
            elif isinstance(v, (int, float, str, bool)) and not (isinstance(v, str) and len(v) > 160):
                out.append((key, _fmt(v)))
    return out


def stage_pngs(d: Path, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(p.name, base64.b64encode(p.read_bytes()).decode()) for p in sorted(d.glob("*.png"))
            if p.name not in skip][:6]


def _figure(doc: Doc, name: str, fig) -> None:
    if fig is not None:
        doc.images([(name, plots.png_b64(fig))])


# ---------------------------------------------------------------------------------------------------------------
# scores


def score_table(comp: dict) -> tuple[list[str], list[list[str]]]:
    """Rows = models, columns = benchmarks; cells 'pass@1 [ci_low, ci_high] (n=tasks)'."""
    benches = comp.get("benchmarks", [])
    rows = []
    for m in comp.get("models", []):
        row = [m]
        for b in benches:
            cell = comp.get("scores", {}).get(m, {}).get(b) or {}
            v = plots.score(cell)
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
    cells = [(m, b, (comp.get("scores", {}).get(m, {}).get(b) or {}).get("health") or {})
             for m in comp.get("models", []) for b in comp.get("benchmarks", [])]
    for _, _, h in cells:
        keys += [k for k in h if k not in keys]
    return ["model", "benchmark", *keys], [[m, b, *[_fmt(h.get(k)) for k in keys]] for m, b, h in cells if h]


def scores_section(doc: Doc, recs: list[dict[str, Any]], prefix: str = "") -> None:
    comps = comparisons(recs)
    for name, comp in comps:
        doc.heading(f"{prefix}Scores per model and benchmark" + (f" ({name})" if len(comps) > 1 else ""))
        doc.para("pass@1 (exact match / char-F1 for QA) with bootstrap 95% confidence intervals; n = tasks scored. "
                 "Every model was generated and scored with identical settings in one run.", muted=True)
        doc.table(*score_table(comp))
        _figure(doc, "scores.png", plots.score_figure(comp))
        header, rows = health_table(comp)
        if rows:
            doc.heading(f"{prefix}Generation health", 3)
            doc.table(header, rows)
        sens = comp.get("sanitizer_sensitivity")
        if sens:
            doc.heading(f"{prefix}Sanitizer sensitivity", 3)
            if isinstance(sens, dict) and sens.get("header") and sens.get("rows"):
                doc.table(sens["header"], [[_fmt(c) for c in r] for r in sens["rows"]])
            else:
                doc.table(["key", "value"], [list(kv) for kv in flat_numbers(sens)])
        diffs = comp.get("manifest_differences") or []
        if diffs:
            doc.heading(f"{prefix}Differences that can move a score", 3)
            doc.table(["benchmark", "setting", "values"],
                      [[d.get("benchmark", ""), d.get("what", d.get("key", "")),
                        ", ".join(f"{m}={v!r}" for m, v in (d.get("values") or {}).items())]
                       if isinstance(d, dict) else ["", str(d), ""] for d in diffs])


# ---------------------------------------------------------------------------------------------------------------
# run-level sections


def stages_section(doc: Doc, recs: list[dict[str, Any]], prefix: str = "") -> None:
    doc.heading(f"{prefix}Stages")
    # CPU time and load beside the wall time: on a shared machine the wall time says little on its own
    doc.table(["stage", "kind", "status", "wall time (s)", "CPU time (s)", "load avg (start, end)"],
              [[r["name"], r["kind"], r.get("status", "?"), _fmt(r.get("wall_s")), _fmt(r.get("cpu_s")),
                ", ".join(map(str, r.get("load_avg_1m") or [])) or "—"] for r in recs])


def loss_section(doc: Doc, recs: list[dict[str, Any]], prefix: str = "") -> None:
    series = []
    for rec in recs:
        m = rec["dir"] / METRICS
        if rec["kind"].startswith("train.") and m.is_file():
            pts = [(r["step"], r["loss"]) for r in _read_jsonl(m)
                   if "step" in r and isinstance(r.get("loss"), (int, float))]
            if pts:
                series.append((rec["name"], pts))
    fig = plots.loss_figure(series)
    if fig is not None:
        doc.heading(f"{prefix}Loss curves")
        _figure(doc, "loss.png", fig)


def _is_study(rec: dict[str, Any]) -> bool:
    return (rec["dir"] / TABLES).is_file()


def study_sections(doc: Doc, recs: list[dict[str, Any]], prefix: str = "") -> None:
    """A study stage's tables (with their notes) and every plot in its folder: the point of a study run."""
    for rec in filter(_is_study, recs):
        doc.heading(f"{prefix}Study: {rec['name']}")
        for t in read_json(rec["dir"] / TABLES):
            doc.heading(t["title"], 3)
            if t.get("note"):
                doc.para(t["note"], muted=True)
            doc.table(t["header"], t["rows"])
        doc.images([(p.name, base64.b64encode(p.read_bytes()).decode()) for p in sorted(rec["dir"].glob("*.png"))],
                   md_dir=rec["name"])


def stage_sections(doc: Doc, recs: list[dict[str, Any]], prefix: str = "") -> None:
    for rec in recs:
        if rec["kind"].startswith("eval") or _is_study(rec):
            continue  # shown in the scores / study sections
        STAGE_SECTIONS.get(rec["kind"], generic_section)(doc, rec, prefix)


# ---------------------------------------------------------------------------------------------------------------
# stage sections


def _stage_heading(doc: Doc, rec: dict[str, Any], prefix: str) -> None:
    title = getattr(STAGES.get(rec["kind"]), "title", None) or rec["kind"]  # a kind no longer known: its name
    doc.heading(f"{prefix}{title} ({rec['name']})")


def _summary(rec: dict[str, Any]) -> Any:
    stats = rec["dir"] / STATS
    return read_json(stats) if stats.is_file() else rec.get("result") or {}


def generic_section(doc: Doc, rec: dict[str, Any], prefix: str = "") -> None:
    """Key figures, then the stage's own report (rendered) or its plots."""
    _stage_heading(doc, rec, prefix)
    own = rec["dir"] / REPORT_MD
    if own.is_file():  # the stage's report holds its figures and plots
        doc.markdown(own.read_text(encoding="utf-8"), rec["dir"], md_link=f"{rec['name']}/report.md")
        return
    doc.table(["figure", "value"], [list(p) for p in flat_numbers(_summary(rec))[:30]])
    skip = ("loss.png",) if rec["kind"].startswith("train.") else ()  # drawn in the loss curves section
    doc.images(stage_pngs(rec["dir"], skip), md_dir=rec["name"])


# The order in which the curation filters see a document (codeja.curate.pipeline.build_stages), and their names.
CURATE_STEPS = {
    "langid": "language ID",
    "japanese": "Japanese text quality",
    "code": "code heuristics",
    "lint": "lint signals",
    "placeholder": "placeholders (\"write your code here\")",
    "decont": "benchmark decontamination",
    "exact_dedup": "exact duplicates",
    "minhash_dedup": "near duplicates (MinHash)",
}


def curate_funnel(stats: dict[str, Any]) -> tuple[list[str], list[list[str]], list[tuple[str, int, int]]]:
    """Curation as a funnel: one row per step that removed something, with its reasons and what was left."""

    def reasons(counts: dict[str, int], examples: dict[str, list] | None = None) -> str:
        parts = []
        for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            ex = ((examples or {}).get(reason) or [{}])[0].get("match")
            parts.append(f"{reason} {n}" + (f" (e.g. {_fmt(ex)[:60]})" if isinstance(ex, (str, int, float)) else ""))
        return "; ".join(parts)

    left = int(stats.get("in") or 0)
    header = ["step", "removed", "reasons (documents)", "left"]
    rows = [["input documents", "", "", str(left)]]
    bars = [("input", 0, left)]
    q = stats.get("quarantined") or {}
    if q.get("docs"):
        left -= q["docs"]
        rows.append(["bad input (quarantined)", str(q["docs"]), reasons(q.get("reasons") or {}), str(left)])
        bars.append(("quarantined", q["docs"], left))
    removed = stats.get("removed") or {}
    for step in [s for s in CURATE_STEPS if s in removed] + sorted(set(removed) - set(CURATE_STEPS)):
        r = removed[step]
        left -= r.get("docs", 0)
        rows.append([CURATE_STEPS.get(step, step), str(r.get("docs", 0)),
                     reasons(r.get("reasons") or {}, r.get("examples")), str(left)])
        bars.append((step, r.get("docs", 0), left))
    kept = stats.get("kept") or {}
    rows.append(["kept", "", f"{kept.get('bytes', 0):,} bytes", str(kept.get("docs", left))])
    return header, rows, bars


def curate_section(doc: Doc, rec: dict[str, Any], prefix: str = "") -> None:
    stats_path = rec["dir"] / STATS
    if not stats_path.is_file():
        return generic_section(doc, rec, prefix)
    stats = read_json(stats_path)
    _stage_heading(doc, rec, prefix)
    header, rows, bars = curate_funnel(stats)
    kept, q = (stats.get("kept") or {}).get("docs", 0), (stats.get("quarantined") or {}).get("docs", 0)
    doc.para(f"Documents in = kept + removed + quarantined: {stats.get('in')} = {kept} + "
             f"{stats.get('removed_total', 0)} + {q}" + ("" if stats.get("balanced", True) else " (NOT balanced)")
             + ". Each step sees what the steps above it left.", muted=True)
    doc.table(header, rows)
    _figure(doc, "funnel.png", plots.funnel_figure(bars))
    examples = [[CURATE_STEPS.get(step, step), reason, str(ex.get("id", "")), _fmt(ex.get("match")),
                 str(ex.get("text", ""))[:200]]
                for step, r in (stats.get("removed") or {}).items()
                for reason, exs in (r.get("examples") or {}).items() for ex in exs[:2]]
    if examples:
        ex_header = ["step", "reason", "document", "match", "text (start)"]
        doc.details(f"Examples of removed documents ({len(examples)})", table_html(ex_header, examples),
                    md="Examples of removed documents:\n\n" + table_md(ex_header, examples))


STAGE_SECTIONS: dict[str, Callable[[Doc, dict[str, Any], str], None]] = {
    "curate": curate_section,
}

RUN_SECTIONS: list[Callable[[Doc, list[dict[str, Any]], str], None]] = [
    stages_section, study_sections, scores_section, loss_section, stage_sections,
]


def render_run(doc: Doc, run: Path, title_prefix: str = "") -> None:
    recs = stage_records(run)
    for section in RUN_SECTIONS:
        section(doc, recs, title_prefix)


# ---------------------------------------------------------------------------------------------------------------
# the page


def _output_path(folder: Path) -> Path:
    """report.html, unless a stage's own report.html / report.md sits there (then codeja-report.html)."""
    own = folder / REPORT_HTML
    if own.is_file() and GENERATOR in own.read_text(encoding="utf-8", errors="replace")[:600]:
        return own
    if own.exists() or (folder / REPORT_MD).exists():
        return folder / "codeja-report.html"
    return own


def variant_curves(runs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Every variant's series, labelled by variant (``variant/series`` when a variant has several)."""
    out = {}
    for v, path in runs.items():
        series = run_curves(stage_records(path))
        out.update({v if len(series) == 1 else f"{v}/{name}": c for name, c in series.items()})
    return out


def write_report(run_dir: str | Path) -> str:
    """Write report.html and report.md for any codeja output folder (see the module doc); returns the HTML path."""
    run_dir = Path(run_dir).resolve()
    runs = find_runs(run_dir)
    doc = Doc()
    first = next(iter(runs.values()))
    state = first / PIPELINE_STATE
    name = read_json(state).get("recipe_name", run_dir.name) if state.is_file() else run_dir.name
    doc.heading(f"codeja report: {name}", 1)
    doc.para(f"Folder: {run_dir}", muted=True)
    if len(runs) > 1 or "main" not in runs:
        doc.heading("Ablation: every variant side by side")
        header, rows = None, []
        for v, path in runs.items():
            comp = comparison(stage_records(path))
            if comp:
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
    out = _output_path(run_dir)
    out.write_text(doc.html(f"codeja report: {name}", generator=GENERATOR), encoding="utf-8")
    out.with_suffix(".md").write_text(doc.markdown_text(), encoding="utf-8")
    return str(out)

