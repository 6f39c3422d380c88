"""The placeholder filter: labelled set (recall / false-positive rate), CPython stdlib share, API contract."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest

from codeja.curate.placeholder import PatternSet, PlaceholderDetector, PlaceholderMatch, find_placeholder
from codeja.errors import ConfigError

CASES = Path(__file__).resolve().parents[1] / "data" / "placeholder" / "cases.jsonl"


def _cases():
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_labelled_set_shape():
    rows = _cases()
    pos = [r for r in rows if r["label"] == 1]
    neg = [r for r in rows if r["label"] == 0]
    assert len(pos) >= 100 and len(neg) >= 300
    assert len({r["language"] for r in pos}) >= 6
    assert any(any("\u3040" <= ch <= "\u30ff" for ch in r["code"]) for r in pos), "needs Japanese-comment positives"
    notes = {r["note"] for r in neg}
    for trap in ("pass in except", "NotImplementedError in base class", "abstractmethod with pass", "java interface"):
        assert trap in notes


def test_recall_and_false_positive_rate():
    rows = _cases()
    pos = [r for r in rows if r["label"] == 1]
    neg = [r for r in rows if r["label"] == 0]
    missed = [r["id"] for r in pos if find_placeholder(r["code"], r["language"]) is None]
    false_pos = [r["id"] for r in neg if find_placeholder(r["code"], r["language"]) is not None]
    recall = 1 - len(missed) / len(pos)
    fpr = len(false_pos) / len(neg)
    print(f"placeholder labelled set: recall={recall:.3f} ({len(pos)} positives) fpr={fpr:.4f} ({len(neg)} negatives)")
    assert recall >= 0.95, missed
    assert fpr <= 0.02, false_pos


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if not ({"site-packages", "dist-packages"} & set(p.parts)))


def test_cpython_stdlib_share_flagged_is_tiny():
    files = stdlib_files()
    assert len(files) > 500
    flagged = []
    for p in files:
        text = p.read_bytes().decode("utf-8", "replace")
        m = find_placeholder(text, "python")
        if m:
            flagged.append((str(p), m.pattern, m.text))
    share = len(flagged) / len(files)
    print(f"stdlib: {len(flagged)}/{len(files)} files flagged ({share:.3%}): {flagged}")
    assert share <= 0.005


@pytest.mark.parametrize("answer", [
    "def f(x):\n    # TODO: implement this function\n    pass",
    "def f(x):\n    pass  # your code here",
    "def f(x):\n    # TODO: implement this function",
    "Sure! Here is the code:\n```python\ndef add(a, b):\n    # TODO: implement\n    ...\n```",
    "fn add(a: i32, b: i32) -> i32 {\n    todo!()\n}",
    "int add(int a, int b) {\n    // TODO: implement\n    return 0;\n}",
    "def 合計(xs):\n    # ここに処理を書いてください\n    pass",
])
def test_model_answers_that_are_stubs_are_flagged(answer):
    m = find_placeholder(answer)
    assert isinstance(m, PlaceholderMatch)
    assert m.kind in ("strong", "weak-stub") and m.line >= 1 and m.text


def test_match_fields_and_line_numbers():
    text = "import os\n\n\ndef f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    m = find_placeholder(text)
    # the earliest match wins: the comment rule starts at '#', before 'YOUR'
    assert m == PlaceholderMatch("code-here-comment", "strong", "# YOUR CODE HERE", 5)
    assert m.as_dict()["pattern"] == "code-here-comment"
    weak = find_placeholder("def f():\n    x = 1\n    return x\n\ndef g():\n    # TODO: write this\n    pass\n")
    assert weak.kind == "weak-stub" and weak.line == 6 and weak.pattern == "todo"


@pytest.mark.parametrize("text", [
    "", "\n\n", "x" * 200_000, "def f():\n    # TODO(alice): handle unicode\n    return s.strip()\n",
    "try:\n    f()\nexcept OSError:\n    pass  # TODO\n", "\udcff broken surrogate TODO",
    "以下にコードを書きます。\n\n```python\nprint('hello')\n```",
])
def test_negatives_and_odd_inputs(text):
    assert find_placeholder(text) is None


def test_huge_document_with_placeholder_at_the_end():
    text = ("x = 1\n" * 200_000) + "def f():\n    # TODO: implement\n    pass\n"
    m = find_placeholder(text)
    assert m is not None and m.line == 200_002


def test_pattern_set_is_extendable(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("strong:\n  - id: course-xyz\n    guard: [student code]\n    regex: 'STUDENT\\s+CODE\\s+BEGINS'\n", "utf-8")
    det = PlaceholderDetector(PatternSet.load((str(extra),)))
    assert det.find("# STUDENT CODE BEGINS\nx = 1\n").pattern == "course-xyz"
    assert find_placeholder("# STUDENT CODE BEGINS\nx = 1\n") is None  # the default set is unchanged


def test_bad_extra_pattern_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("strong:\n  - id: broken\n    regex: '(unclosed'\n", "utf-8")
    with pytest.raises(ConfigError, match="broken.*invalid regex"):
        PatternSet.load((str(bad),))
    dup = tmp_path / "dup.yaml"
    dup.write_text("strong:\n  - id: your-code-here\n    regex: 'x'\n", "utf-8")
    with pytest.raises(ConfigError, match="duplicate id"):
        PatternSet.load((str(dup),))
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("stubz: []\n", "utf-8")
    with pytest.raises(ConfigError, match="unknown keys"):
        PatternSet.load((str(wrong),))
    with pytest.raises(ConfigError, match="not found"):
        PatternSet.load((str(tmp_path / "missing.yaml"),))
