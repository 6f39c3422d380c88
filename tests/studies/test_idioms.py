"""The idiom groups say the truth about the placeholder filter's tuning set.

held-in: the idiom's comment phrase occurs in a labelled positive of tests/data/placeholder/cases.jsonl;
held-out: its phrase occurs nowhere in that set (positive or negative) nor in the filter's pattern file;
bare-stub: the idiom has no comment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codeja.studies.idioms import load_idioms

ROOT = Path(__file__).resolve().parents[2]
CASES_FILE = ROOT / "tests/data/placeholder/cases.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text("utf-8").splitlines()]
PATTERNS = (ROOT / "src/codeja/quality/resources/placeholder_patterns.yaml").read_text("utf-8").lower()
COMMENT = re.compile(r"(?:#|//)\s*(.+?)\s*$")
IDIOMS = [i for idioms in load_idioms().values() for i in idioms]


def phrase(idiom) -> str | None:
    """The comment text of the idiom (its first comment), lower-cased, without the comment marker."""
    for line in idiom.lines:
        m = COMMENT.search(line)
        if m:
            return m.group(1).lower()
    return None


@pytest.mark.parametrize("idiom", IDIOMS, ids=lambda i: f"{i.language}:{i.id}")
def test_group_matches_the_tuning_set(idiom):
    text = phrase(idiom)
    positives = [c["code"].lower() for c in CASES if c["label"] == 1]
    everything = [c["code"].lower() for c in CASES]
    if idiom.group == "bare-stub":
        assert text is None
    elif idiom.group == "held-in":
        assert text and any(text in c for c in positives), f"'{text}' is not a labelled positive"
    else:
        assert text and not any(text in c for c in everything), f"'{text}' is in the labelled set"
        assert text not in PATTERNS


def test_every_language_has_all_three_groups():
    for lang, idioms in load_idioms().items():
        assert {i.group for i in idioms} == {"held-in", "held-out", "bare-stub"}, lang
        assert {i.lang for i in idioms} >= {"en", "ja"}, lang
