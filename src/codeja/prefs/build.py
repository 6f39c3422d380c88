"""``codeja prefs build``: candidates in, TRL preference pairs + SFT fallback + dropped + stats + report out.

Output folder::

    pairs.jsonl      {"prompt": [...], "chosen": [{"role": "assistant", ...}], "rejected": [...], "meta": {...}}
    sft.jsonl        {"messages": [..., {"role": "assistant", ...}], "meta": {...}}   (one survivor)
    dropped.jsonl    {"id", "reason", ...}                                           (no survivor, small margin)
    quarantine.jsonl bad input lines (only with quarantine=True; otherwise a bad line is an error)
    stats.json       {"in", "pairs", "sft", "dropped", "quarantined", "dropped_by_reason", "sft_by_reason",
                      "zero_margin_pairs", "pairs_by_basis", "placeholder_rejected", "margin", "per_strategy",
                      "warnings"}
    margins.png, scores.png, report.md, report.html, manifest.json

Each pair's ``meta.decided_by`` says what separates chosen from rejected: ``pass_rate`` (more tests passed),
``tie_break`` (same tests passed, the execution scorer's second signal decided), ``score`` (a scorer without
test results), ``placeholder`` (the rejected one is a placeholder answer, ``build.placeholder_rejected``) or
``nothing`` (a tie, only with ``allow_ties``; such pairs are also counted as zero_margin_pairs and warned about).

All three strategies are evaluated on every instruction for the report (so a user sees what each would have
picked); only the requested one is written to ``pairs.jsonl``.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from tqdm import tqdm

from codeja.errors import ConfigError
from codeja.io import BadLine, write_jsonl
from codeja.prefs.records import Candidate, Response, read_candidates
from codeja.prefs.report import write_report
from codeja.prefs.strategies import STRATEGIES, Selection, is_placeholder, select
from codeja.runs import STATS, stage_run, write_json

EXAMPLES_IN_REPORT = 8
log = logging.getLogger("codeja.prefs")


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def summarize(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": round(statistics.fmean(values), 6), "median": round(statistics.median(values), 6),
            "min": round(min(values), 6), "max": round(max(values), 6)}


class PairWriter:
    """Turns one candidate + its selection into the pair / SFT / dropped row. One job: the output schema."""

    def __init__(self, strategy: str, seed: int, min_margin: float | None):
        self.strategy, self.seed, self.min_margin = strategy, seed, min_margin

    @staticmethod
    def decided_by(chosen: Response, rejected: Response, sel: Selection) -> str:
        if sel.rejected_source == "placeholder":
            return "placeholder"
        if chosen.score == rejected.score:
            return "nothing"  # a tie (only with allow_ties)
        if chosen.pass_rate is not None and rejected.pass_rate is not None:
            return "pass_rate" if chosen.pass_rate != rejected.pass_rate else "tie_break"
        return "score"

    def _common(self, cand: Candidate) -> dict[str, Any]:
        meta: dict[str, Any] = {"id": cand.id, "n_responses": len(cand.responses),
                                "n_survivors": len(cand.survivors)}
        if "scorer" in cand.extra:
            meta["scorer"] = cand.extra["scorer"]
        if isinstance(cand.extra.get("meta"), dict) and cand.extra["meta"]:
            meta["instruction_meta"] = cand.extra["meta"]
        return meta

    def pair(self, cand: Candidate, sel: Selection) -> dict[str, Any]:
        by_index = {r.index: r for r in cand.responses}
        chosen, rejected = by_index[sel.chosen], by_index[sel.rejected]
        meta = self._common(cand) | {
            "strategy": self.strategy, "seed": self.seed, "min_margin": self.min_margin,
            "chosen_score": chosen.score, "rejected_score": rejected.score, "margin": sel.margin,
            "chosen_index": chosen.index, "rejected_index": rejected.index,
            "chosen_rank": sel.rank_of(chosen.index), "rejected_rank": sel.rank_of(rejected.index),
            "scores": [r.score if r.passed else None for r in cand.responses],
            "ranking": list(sel.ranking),
            "decided_by": self.decided_by(chosen, rejected, sel), "rejected_source": sel.rejected_source,
        }
        if chosen.pass_rate is not None or rejected.pass_rate is not None:
            meta.update(chosen_pass_rate=chosen.pass_rate, rejected_pass_rate=rejected.pass_rate)
        if sel.rejected_source == "placeholder":
            meta["rejected_filter_detail"] = rejected.detail
        return {"prompt": cand.prompt, "chosen": _assistant(chosen.text), "rejected": _assistant(rejected.text),
                "meta": meta}

    def sft(self, cand: Candidate, sel: Selection) -> dict[str, Any]:
        best = next(r for r in cand.responses if r.index == sel.chosen)
        meta = self._common(cand) | {"source": f"prefs.{sel.reason}", "score": best.score,
                                     "response_index": best.index}
        if best.pass_rate is not None:
            meta["pass_rate"] = best.pass_rate
        return {"messages": cand.prompt + _assistant(best.text), "meta": meta}

    def dropped(self, cand: Candidate, sel: Selection) -> dict[str, Any]:
        row: dict[str, Any] = {"id": cand.id, "line": cand.line, "reason": sel.reason,
                               "n_responses": len(cand.responses), "n_survivors": len(cand.survivors)}
        if sel.reason == "below_min_margin":
            row.update(margin=sel.margin, min_margin=self.min_margin, chosen_index=sel.chosen,
                       rejected_index=sel.rejected)
        filtered = Counter(reason for r in cand.responses if not r.passed for reason in (r.reasons or ["unknown"]))
        if filtered:
            row["filter_reasons"] = dict(sorted(filtered.items()))
        return row


class StrategyTally:
    """What one strategy picked over the whole file: counts, margins, chosen/rejected scores (for the report)."""

    def __init__(self, name: str):
        self.name = name
        self.outcomes: Counter[str] = Counter()
        self.margins: list[float] = []
        self.chosen_scores: list[float] = []
        self.rejected_scores: list[float] = []
        self.below_margin: list[float] = []

    def add(self, cand: Candidate, sel: Selection) -> None:
        self.outcomes[sel.reason or sel.outcome] += 1
        scores = {r.index: r.score for r in cand.responses}
        if sel.outcome == "pair" and sel.margin is not None:  # a placeholder rejected one has no score
            self.margins.append(sel.margin)
            self.chosen_scores.append(scores[sel.chosen])
            self.rejected_scores.append(scores[sel.rejected])
        elif sel.reason == "below_min_margin":
            self.below_margin.append(sel.margin)

    def summary(self) -> dict[str, Any]:
        return {"pairs": self.outcomes["pair"], "below_min_margin": self.outcomes["below_min_margin"],
                "margin": summarize(self.margins), "chosen_score": summarize(self.chosen_scores),
                "rejected_score": summarize(self.rejected_scores)}


def build_pairs(
    candidates_path: str | Path,
    output_dir: str | Path,
    strategy: str,
    seed: int = 0,
    min_margin: float | None = None,
    *,
    allow_ties: bool = False,
    chosen_min_pass_rate: float | None = 1.0,
    placeholder_rejected: bool = False,
    quarantine: bool = False,
    config: BaseModel | dict | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Build pairs from a candidates JSONL; returns the stats written to ``stats.json``.

    ``quarantine``: bad lines go to ``quarantine.jsonl`` and are counted instead of stopping the run.
    ``config``: what to record in the manifest (``codeja prefs run`` passes the whole PrefsConfig).
    ``allow_ties``, ``chosen_min_pass_rate``, ``placeholder_rejected``: see :class:`codeja.prefs.config.BuildConfig`.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy: unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if min_margin is not None and min_margin < 0:
        raise ConfigError(f"min_margin: must be >= 0, got {min_margin}")
    out = Path(output_dir)
    if chosen_min_pass_rate is not None and not 0.0 <= chosen_min_pass_rate <= 1.0:
        raise ConfigError(f"chosen_min_pass_rate: must be in [0, 1], got {chosen_min_pass_rate}")
    rules = {"allow_ties": allow_ties, "chosen_min_pass_rate": chosen_min_pass_rate,
             "placeholder_rejected": placeholder_rejected}
    settings = {"strategy": strategy, "seed": seed, "min_margin": min_margin, "quarantine": quarantine, **rules}
    manifest_config = config if config is not None else settings
    with stage_run(out, "prefs.build", manifest_config, inputs=[candidates_path], seeds={"seed": seed}) as run:
        if run.skipped:
            return run.manifest["stats"]
        stats = _build(Path(candidates_path), out, strategy, seed, min_margin, rules, quarantine, progress)
        run.record(stats=stats, settings=settings,
                   outputs=sorted(p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".")))
    return stats


def _build(path: Path, out: Path, strategy: str, seed: int, min_margin: float | None, rules: dict[str, Any],
           quarantine: bool, progress: bool) -> dict[str, Any]:

    writer = PairWriter(strategy, seed, min_margin)
    tallies = {s: StrategyTally(s) for s in STRATEGIES}
    pairs, sft, dropped, examples = [], [], [], []
    bad: list[BadLine] | None = [] if quarantine else None
    n_responses, n_passed, n_with_placeholder = 0, 0, 0
    filtered_by_reason: Counter[str] = Counter()
    all_scores: list[float] = []
    for cand in tqdm(read_candidates(path, bad=bad), desc="prefs build", unit="instr", disable=not progress):
        sels = {s: select(cand.responses, s, instruction_id=cand.id, seed=seed, min_margin=min_margin, **rules)
                for s in STRATEGIES}
        for s, sel in sels.items():
            tallies[s].add(cand, sel)
        sel = sels[strategy]
        if sel.outcome == "pair":
            pairs.append(writer.pair(cand, sel))
        elif sel.outcome == "sft":
            sft.append(writer.sft(cand, sel))
        else:
            dropped.append(writer.dropped(cand, sel))
        n_with_placeholder += any(is_placeholder(r) for r in cand.responses)
        n_responses += len(cand.responses)
        n_passed += len(cand.survivors)
        all_scores.extend(r.score for r in cand.survivors)
        for r in cand.responses:
            if not r.passed:
                filtered_by_reason.update(r.reasons[:1] or ["unknown"])  # first failing filter, as in the chain
        if len(examples) < EXAMPLES_IN_REPORT and len(cand.survivors) >= 2:
            examples.append(_example(cand, sels))
    write_jsonl(out / "pairs.jsonl", pairs)
    write_jsonl(out / "sft.jsonl", sft)
    write_jsonl(out / "dropped.jsonl", dropped)
    if bad is not None:
        write_jsonl(out / "quarantine.jsonl", (b.as_dict() for b in bad))
    n_in = len(pairs) + len(sft) + len(dropped)
    zero_margin = sum(p["meta"]["margin"] == 0 for p in pairs)
    sft_by_reason = dict(sorted(Counter(r["meta"]["source"].removeprefix("prefs.") for r in sft).items()))
    placeholder_pairs = sum(p["meta"]["rejected_source"] == "placeholder" for p in pairs)
    stats = {
        "in": n_in + (len(bad) if bad else 0),
        "pairs": len(pairs), "sft": len(sft), "dropped": len(dropped), "quarantined": len(bad) if bad else 0,
        "dropped_by_reason": dict(sorted(Counter(d["reason"] for d in dropped).items())),
        "sft_by_reason": sft_by_reason,
        "zero_margin_pairs": zero_margin,
        "pairs_by_basis": dict(sorted(Counter(p["meta"]["decided_by"] for p in pairs).items())),
        "placeholder_rejected": {"enabled": rules["placeholder_rejected"], "pairs": placeholder_pairs,
                                 "instructions_with_placeholder": n_with_placeholder},
        "strategy": strategy, "seed": seed, "min_margin": min_margin,
        "allow_ties": rules["allow_ties"], "chosen_min_pass_rate": rules["chosen_min_pass_rate"],
        "margin": summarize([p["meta"]["margin"] for p in pairs if p["meta"]["margin"] is not None]),
        "responses": {"total": n_responses, "passed_filters": n_passed,
                      "filtered_by_reason": dict(sorted(filtered_by_reason.items())),
                      "score": summarize(all_scores)},
        "per_strategy": {s: t.summary() for s, t in tallies.items()},
        "warnings": _warnings(len(pairs), zero_margin, sft_by_reason.get("no_lower_score", 0)),
    }
    for w in stats["warnings"]:
        log.warning("prefs build: %s", w)
    assert stats["in"] == stats["pairs"] + stats["sft"] + stats["dropped"] + stats["quarantined"]

    stats["report"] = write_report(out, stats, tallies, examples, all_scores)
    write_json(out / STATS, stats)
    return stats


def _warnings(pairs: int, zero_margin: int, tied: int) -> list[str]:
    out = []
    if zero_margin:
        out.append(f"{zero_margin} of {pairs} pairs have margin 0 (chosen and rejected score the same): they carry "
                   "no preference; leave build.allow_ties off, or give the scorer a tie-break")
    if tied:
        out.append(f"{tied} instruction(s) had several survivors all scoring the same as the best one, so no pair: "
                   "use a scorer that separates them (scorer.execution.tie_break, or a reward model)")
    return out


def _example(cand: Candidate, sels: dict[str, Selection]) -> dict[str, Any]:
    """A short record of what each strategy picked on one instruction (for the report)."""
    prompt = cand.prompt[-1]["content"]
    return {
        "id": cand.id,
        "prompt": prompt[:160] + ("…" if len(prompt) > 160 else ""),
        "scores": [r.score if r.passed else None for r in cand.responses],
        "picks": {s: {"outcome": sel.outcome, "chosen": sel.chosen, "rejected": sel.rejected, "margin": sel.margin}
                  for s, sel in sels.items()},
    }
