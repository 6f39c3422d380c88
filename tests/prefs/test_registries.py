"""Strategies, scorers and filters come from dict registries: names in one place, config and report follow."""

import pytest
from pydantic import ValidationError

from codeja.prefs import strategies
from codeja.prefs.config import BuildConfig, ExecutionScorerConfig, FiltersConfig, ScorerConfig
from codeja.prefs.filters import FILTERS
from codeja.prefs.report import _plot_margins
from codeja.prefs.scorers import SCORERS


def test_config_names_come_from_the_registries():
    assert tuple(FiltersConfig().chain) == tuple(f for f in FILTERS if f != "execution")
    with pytest.raises(ValidationError, match="unknown filter"):
        FiltersConfig(chain=["nope"])
    with pytest.raises(ValidationError, match="unknown strategy 'nope'; known: closest, farthest, random"):
        BuildConfig(strategy="nope")
    with pytest.raises(ValidationError, match="unknown scorer kind 'nope'"):
        ScorerConfig(kind="nope")
    with pytest.raises(ValidationError, match="weights: unknown scorer kind"):
        ScorerConfig(kind="weighted", weights={"nope": 1.0})
    assert set(SCORERS) == {"reward_model", "http", "execution", "input"}
    with pytest.raises(ValidationError, match="unknown sanitizer 'nope'"):
        ExecutionScorerConfig(sanitizer="nope")


def test_a_new_strategy_needs_no_colour(tmp_path, monkeypatch):
    monkeypatch.setitem(strategies.STRATEGIES, "median", lambda lower, seed, iid: lower[len(lower) // 2])
    assert BuildConfig(strategy="median").strategy == "median"

    class Tally:
        margins, below_margin = [0.5, 1.0], []

    stats = {"strategy": "median", "min_margin": None}
    path = _plot_margins(tmp_path, stats, {"median": Tally(), "closest": Tally()})
    assert path.stat().st_size > 0
