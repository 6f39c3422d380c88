"""The Check protocol, its registry and chains, and that every stage judges one text the same way."""

import pytest

from codeja.evaluate.metrics import health
from codeja.prefs.config import FiltersConfig
from codeja.prefs.filters import FilterChain
from codeja.prefs.records import Instruction
from codeja.quality import CHECKS, Chain, Check, Text, build_check, checks, register
from codeja.quality.refusal import HEAD_CHARS
from codeja.synth.config import FilterConfig
from codeja.synth.filters import build_filters, judge

REFUSAL = "I'm sorry, but I can't help with that request."


def test_registry_names_every_check_once_and_builds_with_options():
    assert {"empty", "truncated", "refusal", "length", "repetition", "placeholder", "stub_body", "parse",
            "language"} <= set(CHECKS)
    assert build_check("repetition", max_repetition=0.1).max_repetition == 0.1
    with pytest.raises(ValueError, match="unknown check 'nope'; known: empty"):
        build_check("nope")
    with pytest.raises(ValueError, match="registered twice"):
        register(type("Again", (Check,), {"name": "empty"}))


def test_chain_stops_at_first_or_collects_all():
    text = Text("   ")  # empty, and too short
    steps = [checks.Empty(), checks.Length(min_chars=5)]
    assert [f.check for f in Chain("first", steps).run(text)] == ["empty"]
    assert [(f.check, f.detail) for f in Chain("all", steps, stop_at_first=False).run(text)] == [
        ("empty", "empty response"), ("length", "too short (0 < 5 chars)")]
    assert Chain("ok", steps).run(Text("a fine answer")) == []


def test_refusal_window_is_one_value_for_filters_and_eval_health():
    # 300 characters (quality.refusal.HEAD_CHARS): evaluation's health used to search 400 with its own pattern
    assert HEAD_CHARS == 300
    inside = "x" * (HEAD_CHARS - len(REFUSAL) - 1) + " " + REFUSAL
    beyond = "x" * (HEAD_CHARS + 50) + " " + REFUSAL  # inside the old 400-character window, not the new one
    apology = "I'm sorry for the confusion; here is the fix."  # the old eval pattern counted this
    for text, refused in ((inside, True), (beyond, False), (apology, False)):
        assert (checks.Refusal().check(Text(text)) is not None) is refused
        assert health([{"raw": text}])["refusal_rate"] == float(refused)
        row = {"messages": [{"role": "user", "content": "Write a function."},
                            {"role": "assistant", "content": text}], "spec": {}, "gens": []}
        _, res = build_filters(FilterConfig(programming_language=False, parse=False, placeholders=False))
        assert ("refusal" in judge(row, res).reasons) is refused
        rec = {"text": text}
        FilterChain.from_config(FiltersConfig(chain=["refusal"])).apply(
            [(Instruction(id="i", prompt=[{"role": "user", "content": "Write a function."}], line=1), [rec])])
        assert (rec["filter_reasons"] == ["refusal"]) is refused


def test_placeholder_scopes():
    fenced = "Fill in the TODO yourself.\n```python\ndef f():\n    # YOUR CODE HERE\n    pass\n```\n"
    bare = "def f():\n    # YOUR CODE HERE\n    pass\n"
    assert checks.Placeholder(scope="blocks").check(Text(fenced)).startswith("placeholder (")
    assert checks.Placeholder(scope="blocks").check(Text(bare)) is None  # no fence: prose to a chat filter
    assert checks.Placeholder(scope="blocks_or_text").check(Text(bare)) is not None  # a bare code answer
    assert checks.Placeholder(scope="text").check(Text(bare)) is not None  # a completion
    # evaluation's health adds the stub-body rule: a bare `pass` has no marker but is no code either
    assert checks.StubBody().check(Text("    pass\n")) is not None
    assert checks.StubBody().check(Text("    return x\n")) is None
    samples = [{"raw": "    pass\n"}, {"raw": bare}, {"raw": "    return 1\n"}]
    assert health(samples)["placeholder_share"] == 2 / 3
