"""The run report's plots: scores per model and benchmark, loss curves, the curation funnel.

Each ``*_figure`` function returns a matplotlib figure (tests look at its axes); :func:`png_b64` turns it into the
base64 PNG the HTML embeds. Axes are set from what the values mean, so all-zero data gets 0..1, not -0.04..0.04.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from codeja.report.fonts import pyplot


def png_b64(fig) -> str:
    buf = io.BytesIO()
    # no version stamp in the PNG: the same data gives the same bytes
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def value_limits(values: list[float], *, unit: bool = False) -> tuple[float, float]:
    """y-limits for values that are counts, losses or shares: from 0 (or the lowest negative value) to a little
    above the highest; ``unit`` (pass@1, exact match, shares) always shows 0..1. Flat or all-zero data gets a
    range that starts at 0 instead of matplotlib's +-4 % around the value."""
    if unit:
        return 0.0, 1.0
    lo = min([0.0, *values])
    hi = max([0.0, *values])
    if hi == lo:
        return lo, lo + 1.0
    return lo, hi + 0.05 * (hi - lo)


def score(cell: dict | None) -> float | None:
    """The headline number of a comparison cell (pass@1, else exact match, else the benchmark's metric)."""
    if not isinstance(cell, dict):
        return None
    for key in ("pass@1", "exact_match", "score"):
        if isinstance(cell.get(key), (int, float)):
            return float(cell[key])
    return None


def score_figure(comp: dict[str, Any]):
    """Grouped bars: one group per benchmark, one bar per model, 95 % intervals where known; y from 0 to 1."""
    models, benches = comp.get("models", []), comp.get("benchmarks", [])
    if not models or not benches:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.8 + 1.5 * len(benches), 3.4))
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        cells = [comp.get("scores", {}).get(m, {}).get(b) or {} for b in benches]
        vals = [score(c) or 0.0 for c in cells]
        err = [[max(0.0, v - c["ci_low"]) if isinstance(c.get("ci_low"), (int, float)) else 0.0
                for v, c in zip(vals, cells)],
               [max(0.0, c["ci_high"] - v) if isinstance(c.get("ci_high"), (int, float)) else 0.0
                for v, c in zip(vals, cells)]]
        bars = ax.bar([j + i * width for j in range(len(benches))], vals, width, label=m, yerr=err, capsize=2)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)  # a score of 0 is a visible "0.00", not nothing
    ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(benches))], benches)
    ax.set_ylim(*value_limits([], unit=True))
    ax.set_ylabel("pass@1 / exact match")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def loss_figure(series: list[tuple[str, list[tuple[float, float]]]]):
    """One panel per training stage: loss per optimizer step."""
    if not series:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.2), squeeze=False)
    for ax, (name, pts) in zip(axes[0], series):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3)
        ax.set_ylim(*value_limits([p[1] for p in pts]))
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
    return fig


def funnel_figure(steps: list[tuple[str, int, int]]):
    """Curation as a funnel: for each step (name, removed, left), documents left after it; removed as a label."""
    if not steps:
        return None
    plt = pyplot()
    names = [s[0] for s in steps]
    left = [s[2] for s in steps]
    fig, ax = plt.subplots(figsize=(7, 0.42 * len(steps) + 1.2))
    y = list(range(len(steps)))[::-1]
    ax.barh(y, left, color="#3b6ea8", height=0.6)
    top = max(left + [1])
    for yy, (_, removed, n) in zip(y, steps):
        ax.text(n + top * 0.01, yy, f"{n:,}" + (f"  (−{removed:,})" if removed else ""), va="center", fontsize=8)
    ax.set_yticks(y, names)
    ax.set_xlim(0, top * 1.25)
    ax.set_xlabel("documents left")
    ax.grid(axis="x", alpha=0.3)
    return fig
