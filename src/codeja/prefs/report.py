"""The builder's report: score distributions and margins per strategy, and what each strategy picked.

Writes ``margins.png`` (margin histogram, one series per strategy, the one written to pairs.jsonl drawn solid),
``scores.png`` (all survivor scores vs the chosen and rejected scores each strategy picked), ``report.md`` and
``report.html`` (the same content; the HTML embeds the plots so it can be mailed around on its own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeja.report.fonts import pyplot
from codeja.report.render import markdown_html, page, table_md
from codeja.runs import REPORT_HTML, REPORT_MD

# A strategy without a colour here gets matplotlib's next one.
COLORS = {"closest": "#d62728", "farthest": "#1f77b4", "random": "#2ca02c"}


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _plot_margins(out: Path, stats: dict, tallies: dict) -> Path:
    plt = pyplot()  # Agg, with a Japanese-capable font

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    values = [m for t in tallies.values() for m in t.margins + t.below_margin]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    bins = [lo + (hi - lo + 1e-9) * i / 20 for i in range(21)]
    for name, t in tallies.items():
        margins = t.margins + t.below_margin
        if not margins:
            continue
        ax.hist(margins, bins=bins, histtype="stepfilled" if name == stats["strategy"] else "step",
                alpha=0.35 if name == stats["strategy"] else 1.0, color=COLORS.get(name), linewidth=1.5,
                label=f"{name} (n={len(margins)})" + (" [written]" if name == stats["strategy"] else ""))
    if stats.get("min_margin") is not None:
        ax.axvline(stats["min_margin"], color="black", linestyle="--", linewidth=1, label="min margin")
    ax.set_xlabel("margin = chosen score − rejected score")
    ax.set_ylabel("instructions")
    ax.set_title("Pair margins per strategy")
    if values:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "margins.png"
    fig.savefig(path, metadata={"Software": None})  # no version stamp: same data, same bytes
    plt.close(fig)
    return path


def _plot_scores(out: Path, tallies: dict, all_scores: list[float]) -> Path:
    plt = pyplot()  # Agg, with a Japanese-capable font

    series, labels = [all_scores], ["all survivors"]
    for name, t in tallies.items():
        series += [t.chosen_scores, t.rejected_scores]
        labels += [f"{name}\nchosen", f"{name}\nrejected"]
    fig, ax = plt.subplots(figsize=(8, 3.8), dpi=100)
    positions = [i + 1 for i, s in enumerate(series) if s]
    if positions:  # an empty file still gets a (blank) plot so the outputs are always the same set of files
        ax.boxplot([s for s in series if s], positions=positions, widths=0.6, showmeans=True)
    ax.set_xticks(range(1, len(series) + 1), labels, fontsize=7)
    ax.set_ylabel("score")
    ax.set_title("Score distributions: what each strategy picked")
    fig.tight_layout()
    path = out / "scores.png"
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def _markdown(stats: dict, examples: list[dict]) -> str:
    lines = [
        "# Preference pairs",
        "",
        (f"Strategy written to `pairs.jsonl`: **{stats['strategy']}** (seed {stats['seed']}, "
        f"min margin {_fmt(stats['min_margin'])})."),
        "",
        *table_md(["in", "pairs", "sft", "dropped", "quarantined"],
                  [[stats[k] for k in ("in", "pairs", "sft", "dropped", "quarantined")]],
                  "rrrrr").splitlines(),
        "",
        "Dropped by reason: " + (", ".join(f"{k}: {v}" for k, v in stats["dropped_by_reason"].items()) or "none"),
        "",
        "SFT rows by reason: " + (", ".join(f"{k}: {v}" for k, v in stats["sft_by_reason"].items()) or "none"),
        "",
        "Pairs decided by: " + (", ".join(f"{k}: {v}" for k, v in stats["pairs_by_basis"].items()) or "none")
        + f"; pairs with margin 0: {stats['zero_margin_pairs']}"
        + (f"; placeholder responses as rejected: {stats['placeholder_rejected']['pairs']} pairs"
           if stats["placeholder_rejected"]["enabled"] else ""),
        "",
        *[f"**Warning**: {w}" for w in stats["warnings"]],
        *([""] if stats["warnings"] else []),
        f"Responses: {stats['responses']['total']}, passed the filters: {stats['responses']['passed_filters']}; "
        "filtered by reason: "
        + (", ".join(f"{k}: {v}" for k, v in stats["responses"]["filtered_by_reason"].items()) or "none"),
        "",
        "## Per strategy",
        "",
    ]
    per_strategy = []
    for name, s in stats["per_strategy"].items():
        m, c, r = s["margin"], s["chosen_score"], s["rejected_score"]
        per_strategy.append([f"{name}{' (written)' if name == stats['strategy'] else ''}", s["pairs"],
                             s["below_min_margin"],
                             *(_fmt(m.get(k)) for k in ("mean", "median", "min", "max")),
                             _fmt(c.get("mean")), _fmt(r.get("mean"))])
    lines += table_md(["strategy", "pairs", "below min margin", "margin mean", "margin median", "margin min",
                       "margin max", "chosen mean", "rejected mean"], per_strategy, "lrrrrrrrr").splitlines()
    lines += ["", "![margins](margins.png)", "", "![scores](scores.png)", "", "## What each strategy picked", ""]
    if not examples:
        lines.append("No instruction had two or more surviving responses.")
    for ex in examples:
        lines.append(f"**{ex['id']}**: {ex['prompt']!s}".replace("\n", " "))
        lines.append("")
        lines.append("scores (response order; – = filtered): " + ", ".join(_fmt(s) for s in ex["scores"]))
        lines.append("")
        for name, p in ex["picks"].items():
            if p["outcome"] == "pair" or p["margin"] is not None:
                what = f"chosen #{p['chosen']}, rejected #{p['rejected']}, margin {_fmt(p['margin'])}"
                if p["outcome"] != "pair":
                    what += " (dropped: below min margin)"
            else:
                what = p["outcome"]
            lines.append(f"- {name}: {what}")
        lines.append("")
    return "\n".join(lines) + "\n"


def _html(md: str, images: dict[str, Path]) -> str:
    """report.md as a self-contained page (the plots it references embedded)."""
    base = next(iter(images.values())).parent if images else None
    return page("Preference pairs", markdown_html(md, base)) + "\n"


def write_report(out: Path, stats: dict, tallies: dict, examples: list[dict], all_scores: list[float]) -> dict:
    margins = _plot_margins(out, stats, tallies)
    scores = _plot_scores(out, tallies, all_scores)
    md = _markdown(stats, examples)
    (out / REPORT_MD).write_text(md, encoding="utf-8")
    (out / REPORT_HTML).write_text(_html(md, {"margins.png": margins, "scores.png": scores}),
                                   encoding="utf-8")
    return {"markdown": REPORT_MD, "html": REPORT_HTML, "margins_png": "margins.png",
            "scores_png": "scores.png"}
