"""docs/extending.md: the check / curation filter, pair strategy, benchmark and sanitizer sections run as
written, and each lists the files its extension touches."""

from __future__ import annotations

import json
import re

import pytest
from doc_blocks import REPO, section_blocks
from pydantic import ValidationError

from codeja.curate import filters as curate_filters
from codeja.errors import InputError
from codeja.evaluate.benchmarks import BENCHMARKS, get_benchmark
from codeja.evaluate.sanitize import SANITIZERS, get_sanitizer
from codeja.prefs import filters as prefs_filters
from codeja.prefs import strategies
from codeja.prefs.build import build_pairs
from codeja.prefs.config import BuildConfig, FiltersConfig
from codeja.prefs.execution import extract_program
from codeja.prefs.records import Instruction
from codeja.quality import CHECKS

DOC = REPO / "docs" / "extending.md"
REGISTRIES = (CHECKS, prefs_filters.FILTERS, curate_filters.FILTERS, strategies.STRATEGIES, BENCHMARKS,
              SANITIZERS)


@pytest.fixture
def registries_restored():
    before = [dict(r) for r in REGISTRIES]
    yield
    for registry, saved in zip(REGISTRIES, before):
        registry.clear()
        registry.update(saved)


def run_section(title: str, n_blocks: int) -> dict:
    blocks = section_blocks(DOC, title)
    assert len(blocks) == n_blocks
    namespace: dict = {}
    for block in blocks:
        # our own doc's code, which asserts what it shows
        exec(compile(block.text, f"{DOC}:{block.line}", "exec"), namespace)
    return namespace


def touched_files(title: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    files_list = text[text.index("Files it touches:", start):].split("\n\n")[1]
    return re.findall(r"^- `(src/[^`]+)`", files_list, re.MULTILINE)


def test_a_new_check_or_curation_filter(registries_restored):
    with pytest.raises(ValidationError, match="unknown filter"):
        FiltersConfig(chain=["halfwidth_kana"])
    ns = run_section("A new check or curation filter", 2)
    assert CHECKS["halfwidth_kana"] is ns["HalfwidthKana"]
    # the preference filter chain drops a response for it, stopping there, and counts the reason
    chain = prefs_filters.FilterChain.from_config(FiltersConfig(chain=["halfwidth_kana", "refusal"]))
    inst = Instruction(id="i", prompt=[{"role": "user", "content": "テストの書き方を教えて"}], line=1)
    records = [{"text": "ﾃｽﾄは pytest で書きます。"}, {"text": "テストは pytest で書きます。"},
               {"text": "`ｶﾅ` をコードに書くのは構いません。"}]
    chain.apply([(inst, records)])
    assert [r["filter_reasons"] for r in records] == [["halfwidth_kana"], [], []]
    assert chain.counts == {"halfwidth_kana": 1}
    assert touched_files("A new check or curation filter") == ["src/codeja/quality/checks.py",
                                                               "src/codeja/prefs/filters.py"]


def test_a_new_pair_strategy(registries_restored, tmp_path):
    with pytest.raises(ValidationError, match="unknown strategy 'median'"):
        BuildConfig(strategy="median")
    run_section("A new pair strategy", 1)
    cands = tmp_path / "candidates.jsonl"
    scores = [0.9, 0.2, 0.5, 0.7]
    responses = [{"text": f"r{i}", "score": s, "passed_filters": True} for i, s in enumerate(scores)]
    cands.write_text(json.dumps({"id": "q1", "prompt": "Write add.", "responses": responses}) + "\n", "utf-8")
    stats = build_pairs(cands, tmp_path / "pairs", "median", progress=False)  # the report draws it too
    pair = json.loads((tmp_path / "pairs" / "pairs.jsonl").read_text(encoding="utf-8"))
    assert stats["pairs"] == 1 and "median" in stats["per_strategy"]
    assert pair["rejected"][-1]["content"] == "r2"
    assert (tmp_path / "pairs" / "margins.png").stat().st_size > 0
    assert touched_files("A new pair strategy") == ["src/codeja/prefs/strategies.py"]


def test_a_new_benchmark(registries_restored):
    with pytest.raises(InputError, match="unknown benchmark 'add-n'"):
        get_benchmark("add-n")
    run_section("A new benchmark", 1)  # scores two samples in the sandbox: pass@1 0.5
    assert [t.task_id for t in get_benchmark("add-n", limit=1).tasks] == ["AddN/1"]
    assert touched_files("A new benchmark") == ["src/codeja/evaluate/benchmarks/<name>.py",
                                                "src/codeja/evaluate/benchmarks/__init__.py"]


def test_a_new_sanitizer(registries_restored):
    run_section("A new sanitizer", 1)
    # preferences turn an answer into a program with it, as evaluation does
    answer = "```python\ndef add(a, b):\n    return a + b\n```\n```python\nprint(add(1, 2))\n```"
    code = extract_program(answer, "python", "add", sanitizer="firstblock")
    assert code == "def add(a, b):\n    return a + b\n"
    assert get_sanitizer("firstblock").id == "firstblock@1"
    assert touched_files("A new sanitizer") == ["src/codeja/evaluate/sanitize/<name>.py",
                                                "src/codeja/evaluate/sanitize/__init__.py"]
