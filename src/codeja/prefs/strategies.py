"""Pair selection: which surviving response is chosen, which is rejected.

The survivors of one instruction are ranked by score, highest first; equal scores keep response order (the
earlier response ranks higher). That ranking is the only tie rule, and every strategy reads from it:

* chosen = rank 1, always;
* ``closest``: rejected = rank 2 (the next highest; RLHFlow's ``max_max``);
* ``farthest``: rejected = the last rank (the lowest; Magpie PO, RLHFlow ``max_min``, distilabel);
* ``random``: rejected = a uniform draw among ranks 2..k (UltraFeedback-binarized / Zephyr), drawn with a seed
  derived from (seed, instruction id), so the draw never depends on file order, chunking or worker count.

No survivor -> dropped (``no_survivors``); one survivor -> an SFT row; a pair whose margin is below
``min_margin`` -> dropped (``below_min_margin``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from codeja.backends.base import derive_seed
from codeja.prefs.records import Response

Outcome = Literal["pair", "sft", "dropped"]


@dataclass(frozen=True)
class Selection:
    outcome: Outcome
    strategy: str
    ranking: tuple[int, ...]  # response indices, best first
    chosen: int | None = None  # response index
    rejected: int | None = None
    margin: float | None = None  # chosen score - rejected score (>= 0)
    reason: str | None = None  # why dropped

    def rank_of(self, index: int) -> int:
        """1-based rank of a response among the survivors."""
        return self.ranking.index(index) + 1


def rank(survivors: list[Response]) -> list[Response]:
    """Best first; equal scores keep response order (sorted() is stable, and the key adds the index anyway)."""
    return sorted(survivors, key=lambda r: (-(r.score if r.score is not None else float("-inf")), r.index))


def random_pick(seed: int, instruction_id: str | int, k: int) -> int:
    """A uniform index in [0, k) from (seed, instruction id); ids are compared as strings (1 and "1" agree)."""
    return random.Random(derive_seed(seed, "prefs.random", str(instruction_id))).randrange(k)


def select(
    responses: list[Response],
    strategy: str,
    *,
    instruction_id: str | int,
    seed: int = 0,
    min_margin: float | None = None,
) -> Selection:
    survivors = [r for r in responses if r.passed]
    ranked = rank(survivors)
    ranking = tuple(r.index for r in ranked)
    if not ranked:
        return Selection("dropped", strategy, ranking, reason="no_responses" if not responses else "no_survivors")
    best = ranked[0]
    if len(ranked) == 1:
        return Selection("sft", strategy, ranking, chosen=best.index)
    others = ranked[1:]
    if strategy == "closest":
        worse = others[0]
    elif strategy == "farthest":
        worse = others[-1]
    elif strategy == "random":
        worse = others[random_pick(seed, instruction_id, len(others))]
    else:
        raise ValueError(f"unknown strategy {strategy!r}; choose closest, farthest or random")
    assert best.score is not None and worse.score is not None  # survivors are scored (checked on read)
    margin = best.score - worse.score
    if min_margin is not None and margin < min_margin:
        return Selection("dropped", strategy, ranking, best.index, worse.index, margin, reason="below_min_margin")
    return Selection("pair", strategy, ranking, best.index, worse.index, margin)
