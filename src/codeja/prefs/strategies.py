"""Pair selection: which surviving response is chosen, which is rejected.

The survivors of one instruction are ranked by score, highest first; equal scores keep response order (the
earlier response ranks higher). Every strategy reads from that ranking:

* chosen = the best-ranked survivor that may be chosen: with ``chosen_min_pass_rate`` (default 1.0), one whose
  tests were run must have passed at least that share of them (a response that fails its tests is a fine
  rejected response, never a chosen one or an SFT row);
* the rejected candidates are the survivors scoring strictly below the chosen one (``allow_ties``: also those
  tying with it, ranked after it); among them
  - ``closest``: the highest (RLHFlow's ``max_max``);
  - ``farthest``: the lowest (Magpie PO, RLHFlow ``max_min``, distilabel);
  - ``random``: a uniform draw (UltraFeedback-binarized / Zephyr), seeded from (seed, instruction id), so the
    draw never depends on file order, chunking or worker count;
* ``placeholder_rejected``: where the placeholder filter removed a response, the first such response is the
  rejected one whatever the strategy (the seed's lesson: a stub answer is exactly what DPO should push down).

No survivor -> dropped (``no_survivors``); no survivor may be chosen -> dropped (``chosen_fails_tests``); a chosen
one but nothing to reject -> an SFT row (``single_survivor``, or ``no_lower_score`` when the others tie with it);
a pair whose margin is below ``min_margin`` -> dropped (``below_min_margin``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
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
    margin: float | None = None  # chosen score - rejected score (>= 0); None for a placeholder rejected
    reason: str | None = None  # why dropped, or why an SFT row
    rejected_source: str = "ranking"  # "ranking" | "placeholder"

    def rank_of(self, index: int) -> int | None:
        """1-based rank of a response among the survivors (None for a filtered one)."""
        return self.ranking.index(index) + 1 if index in self.ranking else None


def rank(survivors: list[Response]) -> list[Response]:
    """Best first; equal scores keep response order (sorted() is stable, and the key adds the index anyway)."""
    return sorted(survivors, key=lambda r: (-(r.score if r.score is not None else float("-inf")), r.index))


def random_pick(seed: int, instruction_id: str | int, k: int) -> int:
    """A uniform index in [0, k) from (seed, instruction id); ids are compared as strings (1 and "1" agree)."""
    return random.Random(derive_seed(seed, "prefs.random", str(instruction_id))).randrange(k)


def may_be_chosen(r: Response, chosen_min_pass_rate: float | None) -> bool:
    return chosen_min_pass_rate is None or r.pass_rate is None or r.pass_rate >= chosen_min_pass_rate


def is_placeholder(r: Response) -> bool:
    """Removed by the placeholder filter (the first filter that rejected it)."""
    return not r.passed and r.reasons[:1] == ["placeholder"]


Pick = Callable[[list[Response], int, "str | int"], Response]


def closest(lower: list[Response], seed: int, instruction_id: str | int) -> Response:
    return lower[0]


def farthest(lower: list[Response], seed: int, instruction_id: str | int) -> Response:
    return lower[-1]


def uniform(lower: list[Response], seed: int, instruction_id: str | int) -> Response:
    return lower[random_pick(seed, instruction_id, len(lower))]


# Strategy name -> which rejected candidate (best first, all scoring below the chosen one) is rejected.
STRATEGIES: dict[str, Pick] = {"closest": closest, "farthest": farthest, "random": uniform}


def select(
    responses: list[Response],
    strategy: str,
    *,
    instruction_id: str | int,
    seed: int = 0,
    min_margin: float | None = None,
    allow_ties: bool = False,
    chosen_min_pass_rate: float | None = 1.0,
    placeholder_rejected: bool = False,
) -> Selection:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    survivors = [r for r in responses if r.passed]
    ranked = rank(survivors)
    ranking = tuple(r.index for r in ranked)
    if not ranked:
        return Selection("dropped", strategy, ranking, reason="no_responses" if not responses else "no_survivors")
    pos = next((k for k, r in enumerate(ranked) if may_be_chosen(r, chosen_min_pass_rate)), None)
    if pos is None:
        return Selection("dropped", strategy, ranking, reason="chosen_fails_tests")
    best = ranked[pos]
    assert best.score is not None  # survivors are scored (checked on read)
    if placeholder_rejected:
        stub = next((r for r in responses if is_placeholder(r)), None)
        if stub is not None:
            return Selection("pair", strategy, ranking, best.index, stub.index, None, rejected_source="placeholder")
    lower = [r for r in ranked[pos + 1:] if allow_ties or r.score < best.score]
    if not lower:
        return Selection("sft", strategy, ranking, chosen=best.index,
                         reason="single_survivor" if len(ranked) == 1 else "no_lower_score")
    worse = STRATEGIES[strategy](lower, seed, instruction_id)
    assert worse.score is not None
    margin = best.score - worse.score
    if min_margin is not None and margin < min_margin:
        return Selection("dropped", strategy, ranking, best.index, worse.index, margin, reason="below_min_margin")
    return Selection("pair", strategy, ranking, best.index, worse.index, margin)
