"""Shared data and builders for the FIM tests (imported by conftest and test modules)."""

from __future__ import annotations

import json
from pathlib import Path

FIM = ["<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"]
RARE_KANJI = "鬱麤龘靐齾爩鱻𠮷𩸽"  # not in any training text below: byte-split by both tokenizers

CODE = [
    "def add(a, b):\n    return a + b\n",
    ("class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n"
     "        self.items.append(x)\n"),
    "for (let i = 0; i < n; i++) {\n  console.log(i);\n}\n",
    "import os\nprint(os.getcwd())  # カレントディレクトリ\n",
    "fn main() {\n    println!(\"こんにちは\");\n}\n",
]
JAPANESE = [
    "これは日本語の文章です。漢字とひらがなとカタカナを含みます。",
    "関数の引数を検証してから、結果を返します。",
    "東京は日本の首都であり、多くの人が住んでいます。",
]


def training_text() -> list[str]:
    return (CODE + JAPANESE) * 20


def make_docs(n: int, seed: int = 0) -> list[str]:
    """Documents mixing code, Japanese, rare kanji, literal sentinel strings and odd whitespace."""
    import random

    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        parts = [rnd.choice(CODE + JAPANESE) for _ in range(rnd.randint(1, 12))]
        if i % 3 == 0:
            parts.insert(rnd.randrange(len(parts) + 1), f"# 稀な字: {RARE_KANJI[: rnd.randint(1, len(RARE_KANJI))]}\n")
        if i % 5 == 0:
            parts.append("s = '<fim_prefix>' + '<|endoftext|>'  \n\t ")
        docs.append("".join(parts))
    return docs


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for i, d in enumerate(docs):
            f.write(json.dumps({"id": f"d{i}", "text": d}, ensure_ascii=False) + "\n")
    return path


def make(tok, **kw):
    """A TokenCodec for ``tok`` and a FIMTransform with its resolved sentinels and ``FIMConfig(**kw)``."""
    from codeja.fim.codec import TokenCodec
    from codeja.fim.config import FIMConfig
    from codeja.fim.sentinels import resolve_sentinels
    from codeja.fim.transform import FIMTransform

    codec = TokenCodec(tok)
    return codec, FIMTransform(codec, resolve_sentinels(tok), FIMConfig(**kw))


def build_corpus(tmp: Path, tok, docs: list[str], name: str = "corpus") -> str:
    from codeja.fim.config import TokenizeConfig
    from codeja.fim.tokenize import tokenize_corpus

    src = write_jsonl(tmp / f"{name}_in" / "docs.jsonl", docs)
    prefix = tmp / f"{name}_out" / name
    tokenize_corpus(TokenizeConfig(input=str(src), model="unused"), prefix, tokenizer=tok, progress=False)
    return str(prefix)


