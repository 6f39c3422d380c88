"""The diversity report: measured distributions against the requested weights, and the steering effect.

``report.md`` and a self-contained ``report.html`` (the plot embedded as a base64 PNG; ``report.png`` beside it).
"Measured" means classified from the generated instruction text by :mod:`codeja.quality` detectors, not read
back from the request.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

from codeja.quality import TASK_TYPES
from codeja.report.fonts import pyplot
from codeja.report.render import page, table_html, table_md
from codeja.runs import REPORT_HTML, REPORT_MD
from codeja.synth.config import MagpieConfig

COLUMNS = [("requested", "requested"), ("drawn", "drawn"), ("measured", "measured (all generated)"),
           ("measured_kept", "measured (kept)"), ("unsteered", "unsteered baseline")]
TITLES = {"language": "Programming language", "task_type": "Task type", "instruction_lang": "Instruction language"}


def _shares(counts: dict[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def steering_effect(dist: dict) -> list[tuple[str, float | None, float | None]]:
    """(metric, unsteered, steered) rows, both measured on generated instructions."""

    def metrics(key: str) -> dict[str, float | None]:
        langs = dist["language"][key]
        tasks = dist["task_type"][key]
        ilangs = dist["instruction_lang"][key]
        n = sum(langs.values())
        if not n:
            return {}
        task_share = _shares(dict(tasks))
        known = {k: v for k, v in task_share.items() if k in TASK_TYPES}
        entropy = -sum(p * math.log(p) for p in known.values() if p > 0) / math.log(len(TASK_TYPES))
        coded = n - langs.get("none", 0)
        return {
            "Python share (of all instructions)": langs.get("python", 0) / n,
            "Python share (of instructions with a detected language)": ((langs.get("python", 0) / coded)
                                                                         if coded else None),
            "share with a detected programming language": coded / n,
            "distinct programming languages": float(len([k for k in langs if k != "none"])),
            "'write' share of task types": task_share.get("write", 0.0),
            "'other' (no software task) share": task_share.get("other", 0.0),
            "distinct task types": float(len(known)),
            "task-type spread (normalised entropy over 10 types)": entropy,
            "Japanese share": ilangs.get("ja", 0) / n,
        }

    base, steered = metrics("unsteered"), metrics("measured")
    return [(name, base.get(name), steered.get(name)) for name in steered]


def _fmt(v: float | None, name: str = "") -> str:
    if v is None:
        return "–"
    if name.startswith("distinct"):
        return f"{int(v)}"
    return f"{v:.2f}" if "entropy" in name else f"{100 * v:.0f}%"


def _table_rows(d: dict) -> tuple[list[str], list[list[str]]]:
    cols = [(k, label) for k, label in COLUMNS if d.get(k)]
    keys = list(d["requested"]) + sorted({k for c, _ in cols for k in d[c]} - set(d["requested"]))
    shares = {c: (d[c] if c == "requested" else _shares(d[c])) for c, _ in cols}
    rows = [[k] + [_fmt(shares[c].get(k, 0.0)) for c, _ in cols] for k in keys]
    return [label for _, label in cols], rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    return table_md(header, rows).rstrip("\n")


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    return str(table_html(header, rows))


def plot_png(dist: dict) -> bytes:
    """Grouped bars per dimension: requested vs measured (steered) vs measured (unsteered)."""
    plt = pyplot()  # Agg, with a Japanese-capable font

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for ax, dim in zip(axes, ("language", "task_type", "instruction_lang")):
        d = dist[dim]
        series = [("requested", d["requested"]), ("measured (steered)", _shares(d["measured"])),
                  ("measured (unsteered)", _shares(d["unsteered"]))]
        series = [(n, s) for n, s in series if s]
        keys = list(d["requested"]) + sorted({k for _, s in series for k in s} - set(d["requested"]))
        width = 0.8 / max(len(series), 1)
        for i, (name, s) in enumerate(series):
            ax.bar([x + i * width for x in range(len(keys))], [s.get(k, 0.0) for k in keys], width, label=name)
        ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(keys))], keys, rotation=45, ha="right")
        ax.set_title(TITLES[dim])
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of instructions")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})  # no version stamp: byte-stable output
    plt.close(fig)
    return buf.getvalue()


def _prompt_name(cfg: MagpieConfig) -> str:
    st = cfg.steering
    if not st.enabled:
        return "the model's default"
    return {"task": "one per task type and instruction language", "seed": "the seed's prompt (Magpie's coding "
            "prompt naming the language)", "magpie-coding": "Magpie's coding prompt"}[st.system_prompt]


def _baseline_name(cfg: MagpieConfig) -> str:
    return "Magpie's coding prompt" if cfg.steering.baseline_system_prompt == "magpie-coding" else "model default"


def write_reports(out: Path, cfg: MagpieConfig, summary: dict) -> None:
    dist = summary["distributions"]
    png = plot_png(dist)
    (out / "report.png").write_bytes(png)
    model = summary.get("model", {})
    intro = (f"Model `{model.get('model', cfg.model)}` via `{model.get('backend', cfg.backend)}`; "
             f"{summary['generated']} steered instructions generated, {summary['kept']} kept, "
             f"{summary['removed']} removed; {summary['baseline_generated']} unsteered baseline instructions. "
             f"System prompts: {_prompt_name(cfg)} (steered rows), {_baseline_name(cfg)} (baseline). "
             "Measured = classified from the instruction text by codeja.quality detectors.")
    acc_rows = [["generated (in)", str(summary["generated"])], ["kept", str(summary["kept"])]]
    acc_rows += [[f"removed: {k}", str(v)] for k, v in summary["removed_by_reason"].items()]

    md = ["# Magpie synthesis report", "", intro, "", "## Accounting", "", _md_table(["rows", "count"], acc_rows)]
    body = [f"<h1>Magpie synthesis report</h1><p>{html.escape(intro)}</p><h2>Accounting</h2>",
            _html_table(["rows", "count"], acc_rows)]
    effect = steering_effect(dist) if summary["baseline_generated"] else []
    if effect:
        header = ["metric", f"unsteered ({_baseline_name(cfg)})", "steered"]
        rows = [[name, _fmt(b, name), _fmt(s, name)] for name, b, s in effect]
        md += ["", "## Steering effect (same model, unsteered vs steered)", "", _md_table(header, rows)]
        body += ["<h2>Steering effect (same model, unsteered vs steered)</h2>", _html_table(header, rows)]
    for dim, title in TITLES.items():
        header, rows = _table_rows(dist[dim])
        md += ["", f"## {title}", "", _md_table([title.lower()] + header, rows)]
        body += [f"<h2>{title}</h2>", _html_table([title.lower()] + header, rows)]
    md += ["", "![distributions](report.png)", ""]
    b64 = base64.b64encode(png).decode("ascii")
    body.append(f'<h2>Distributions</h2><img alt="distributions" src="data:image/png;base64,{b64}">')
    (out / REPORT_MD).write_text("\n".join(md), encoding="utf-8")
    (out / REPORT_HTML).write_text(page("Magpie synthesis report", "".join(body)), encoding="utf-8")
