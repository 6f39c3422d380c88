"""Small, fast trainer configs and chat data for the tests (a module of its own: ``conftest`` is a name every test
folder has, so importing from it picks whichever folder came first)."""

from __future__ import annotations

from typing import Any


def small_config(cls, model, data, **kw: Any):
    """``cls`` (CPTConfig, SFTConfig, DPOConfig) for ``model`` on ``data``; ``kw`` overrides or adds fields."""
    base = {
        "model": str(model),
        "data": data if isinstance(data, (list, dict)) else str(data),
        "max_steps": 3,
        "per_device_batch_size": 2,
        "optim": {"learning_rate": 1e-3, "warmup_ratio": 0.0},
    }
    return cls.model_validate({**base, **kw})


# (question, answer) pairs in English and Japanese, answers with and without code
CONVERSATIONS = [
    ("Write a Python function that adds two numbers.", "```python\ndef add(a, b):\n    return a + b\n```"),
    ("文字列を反転する関数を書いてください。", "```python\ndef reverse(s):\n    return s[::-1]\n```"),
    (
        "How do I read a file line by line?",
        "```python\nwith open(path) as f:\n    for line in f:\n        print(line)\n```",
    ),
    ("リストの合計を求めるには？", "`sum(xs)` を使います。\n```python\ntotal = sum([1, 2, 3])\n```"),
]
