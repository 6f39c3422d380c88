"""``study.completion-pairs``: conversational preference pairs -> TRL standard pairs on the raw prompt.

Output: ``pairs.jsonl`` (``prompt``, ``chosen``, ``rejected`` strings, plus the source pair's ``meta``) and
``stats.json`` (pairs in, kept, and the reasons for the others).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from codeja.errors import InputError
from codeja.io import iter_jsonl, write_jsonl
from codeja.runs import STATS, stage_run, write_json
from codeja.studies.config import CompletionPairsConfig


def _text(turns: Any, *, role: str, path: str, line: int, field: str) -> str:
    if isinstance(turns, str):
        return turns
    if not (isinstance(turns, list) and len(turns) == 1 and isinstance(turns[0], dict)
            and turns[0].get("role") == role and isinstance(turns[0].get("content"), str)):
        raise InputError(f"expected one {role} turn (or a string)", path=path, line=line, field=field)
    return turns[0]["content"]


def completion_pairs(cfg: CompletionPairsConfig, output_dir: str | Path) -> dict[str, Any]:
    if not cfg.pairs:
        raise InputError("set pairs: a prefs pairs.jsonl", field="pairs")
    out = Path(output_dir)
    with stage_run(out, "study.completion-pairs", cfg, inputs=[cfg.pairs]) as run:
        if run.skipped:
            return run.manifest["summary"]
        rows, skipped, n = [], Counter(), 0
        for line, obj in iter_jsonl(cfg.pairs):
            n += 1
            meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
            source = meta.get("rejected_source", "ranking")
            if cfg.rejected_source and source not in cfg.rejected_source:
                skipped[f"rejected_source={source}"] += 1
                continue
            score = meta.get("chosen_score")
            if cfg.chosen_min_score is not None and not (isinstance(score, (int, float))
                                                         and score >= cfg.chosen_min_score):
                skipped[f"chosen_score<{cfg.chosen_min_score}"] += 1
                continue
            texts = {key: _text(obj.get(key), role="user" if key == "prompt" else "assistant", path=cfg.pairs,
                                line=line, field=key) for key in ("prompt", "chosen", "rejected")}
            rows.append({**texts, "meta": meta})
        write_jsonl(out / "pairs.jsonl", rows)
        stats = {"pairs_in": n, "pairs": len(rows), "skipped": dict(sorted(skipped.items()))}
        write_json(out / STATS, stats)
        summary = {"pairs_file": str(out / "pairs.jsonl"), **stats}
        run.record(summary=summary)
    return summary
