"""Scores over training: score vs step per benchmark, next to the held-out loss curves of the same steps.

Reads only what stages wrote: every eval stage's ``curves.json`` (scores of a series of checkpoints by step, see
:mod:`codeja.evaluate.checkpoints`) and the ``metrics.jsonl`` of the training stage the series is named after
(``cpt@step-N`` -> stage ``cpt``: its ``eval_*loss`` rows, e.g. held-out left-to-right and FIM loss). Several eval
stages of one run add up (infilling in one, HumanEval in another); ablation variants become one line each.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from codeja.io import read_jsonl
from codeja.runs import METRICS, read_json

CURVES = "curves.json"  # what an eval stage writes (codeja.evaluate.checkpoints.CURVES)
PNG = "curves.png"


def run_curves(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{series: {"scores": {benchmark: [point]}, "losses": {key: [(step, value)]}}}`` of one run, where a point
    is ``{"step", "value", "ci_low", "ci_high", "n_tasks", "metric"}``."""
    out: dict[str, dict[str, Any]] = {}
    for rec in recs:
        path = rec["dir"] / CURVES
        if rec["kind"] != "eval" or not path.is_file():
            continue
        for series, rows in (read_json(path).get("series") or {}).items():
            scores = out.setdefault(series, {"scores": {}, "losses": {}})["scores"]
            for row in rows:
                for bench, s in (row.get("scores") or {}).items():
                    scores.setdefault(bench, []).append({"step": row["step"], **s})
    train = {rec["name"]: rec["dir"] for rec in recs if rec["kind"].startswith("train.")}
    for series, data in out.items():
        for points in data["scores"].values():
            points.sort(key=lambda p: p["step"])
        metrics = train.get(series, Path("/nonexistent")) / METRICS
        if metrics.is_file():
            for row in read_jsonl(metrics):
                for k, v in row.items():
                    if k.startswith("eval_") and k.endswith("loss") and isinstance(v, (int, float)):
                        data["losses"].setdefault(k.removeprefix("eval_"), {})[row["step"]] = v
        data["losses"] = {k: sorted(v.items()) for k, v in data["losses"].items()}
    return out


LOSS_TITLES = {"l2r_loss": "held-out loss, left-to-right", "fim_loss": "held-out loss, FIM (every doc FIM'd)"}


def curves_figure(curves: dict[str, dict[str, Any]]) -> bytes | None:
    """One panel per held-out loss and per benchmark; one line per label (series or variant), CIs as bands."""
    # heavy: matplotlib (kept out of `codeja --help` and light imports)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = sorted({k for c in curves.values() for k in c["losses"]})
    benches = list(dict.fromkeys(b for c in curves.values() for b in c["scores"]))
    panels = [("loss", k) for k in losses] + [("score", b) for b in benches]
    if not benches:
        return None
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.2 * rows), squeeze=False)
    for ax, (kind, key) in zip(axes.flat, panels):
        for label, c in curves.items():
            if kind == "loss" and key in c["losses"]:
                pts = c["losses"][key]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=label)
            elif kind == "score" and key in c["scores"]:
                pts = c["scores"][key]
                steps = [p["step"] for p in pts]
                line, = ax.plot(steps, [p["value"] for p in pts], marker="o", ms=3, label=label)
                lo = [p["ci_low"] if p.get("ci_low") is not None else p["value"] for p in pts]
                hi = [p["ci_high"] if p.get("ci_high") is not None else p["value"] for p in pts]
                ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        if kind == "loss":
            ax.set_title(LOSS_TITLES.get(key, f"held-out {key}"), fontsize=10)
            ax.set_ylabel("loss (nats/token)")
        else:
            metric = next((p["metric"] for c in curves.values() for p in c["scores"].get(key, [])), "score")
            n = next((p.get("n_tasks") for c in curves.values() for p in c["scores"].get(key, [])), None)
            ax.set_title(f"{key} (n={n})" if n else key, fontsize=10)
            ax.set_ylabel(f"{metric}, 95% CI band")
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _fmt_point(p: dict[str, Any]) -> str:
    ci = f" [{p['ci_low']:.3f}, {p['ci_high']:.3f}]" if p.get("ci_low") is not None and p.get("ci_high") is not None \
        else ""
    return f"{p['value']:.3f}{ci}"


def curves_table(curves: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Rows (label, step); columns: each held-out loss, then each benchmark's score with its CI."""
    losses = sorted({k for c in curves.values() for k in c["losses"]})
    benches = list(dict.fromkeys(b for c in curves.values() for b in c["scores"]))
    header = ["run", "step", *[f"held-out {k}" for k in losses]]
    for b in benches:
        metric = next((p["metric"] for c in curves.values() for p in c["scores"].get(b, [])), "score")
        header.append(f"{b} {metric}")
    rows = []
    for label, c in curves.items():
        steps = sorted({s for k in c["losses"] for s, _ in c["losses"][k]} |
                       {p["step"] for pts in c["scores"].values() for p in pts})
        for step in steps:
            row = [label, str(step)]
            row += [next((f"{v:.4f}" for s, v in c["losses"].get(k, []) if s == step), "—") for k in losses]
            row += [next((_fmt_point(p) for p in c["scores"].get(b, []) if p["step"] == step), "—") for b in benches]
            rows.append(row)
    return header, rows


def render_curves(doc, curves: dict[str, dict[str, Any]], run_dir: Path) -> None:
    """The report section: figure (also written to ``run_dir/curves.png``), then the table."""
    if not any(c["scores"] for c in curves.values()):
        return
    doc.heading("Scores over training")
    doc.para("Each checkpoint's scores (pass@1 for code, character F1 for NIILC) with bootstrap 95% confidence "
             "intervals over tasks, next to the held-out losses at the same steps.", muted=True)
    png = curves_figure(curves)
    if png:
        (run_dir / PNG).write_bytes(png)
        doc.images([(PNG, base64.b64encode(png).decode())], md_dir=".")
    doc.table(*curves_table(curves))
