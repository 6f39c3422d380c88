"""A small hand-written multi-language corpus in the curate output layout (id, text, metadata)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PY = '''"""Geometry helpers — 幾何の補助関数."""
import math


def area(r):
    """Circle area (円の面積)."""
    return math.pi * r * r


class Vec:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm(self):
        # Euclidean length
        total = self.x ** 2 + self.y ** 2
        return math.sqrt(total)

    def scaled(self, k): return Vec(self.x * k, self.y * k)


def outer(xs):
    def inner(x):
        return x + 1
    return [inner(x) for x in xs]
# a comment about what follows
def only_doc():
    """Nothing but a docstring."""
'''

JS = '''// utils.js
function sum(xs) {
  let t = 0;
  for (const x of xs) t += x;
  return t;
}

const double = (x) => {
  return x * 2;
};

class Box {
  get(k) {
    return this.items[k];
  }
  size() { return this.items.length; }
}
'''

TS = '''export function clamp(x: number, lo: number, hi: number): number {
  if (x < lo) return lo;
  return x > hi ? hi : x;
}
'''

JAVA = '''public class Counter {
    private int n;

    public Counter() {
        n = 0;
    }

    public int next() {
        n += 1;
        return n;
    }
}
'''

GO = '''package counter

func Sum(xs []int) int {
\ttotal := 0
\tfor _, x := range xs {
\t\ttotal += x
\t}
\treturn total
}

func (c *Counter) Inc() {
\tc.n++
}
'''

RUST = '''pub fn gap(xs: &[i32]) -> i32 {
    xs.windows(2).map(|w| (w[1] - w[0]).abs()).max().unwrap_or(0)
}

impl Counter {
    pub fn inc(&mut self) {
        self.n += 1;
    }
}
'''

CPP = '''#include <vector>

int count_pairs(const std::vector<int>& v) {
    int n = 0;
    for (size_t i = 0; i + 1 < v.size(); ++i) {
        if (v[i] == v[i + 1]) ++n;
    }
    return n;
}
'''

RUBY = "def hello(name)\n  puts \"hi #{name}\"\nend\n"
PROSE = "これはコードではない文章です。関数はありません。"


def doc(i: int, text: str, language: str | None, path: str) -> dict:
    meta = {"source": "test", "path": path}
    if language:
        meta["language"] = language
    return {"id": f"test:{path}:{i}", "text": text, "metadata": meta}


MIXED = [
    ("python", PY, "geo.py"), ("javascript", JS, "utils.js"), ("typescript", TS, "clamp.ts"),
    ("java", JAVA, "Counter.java"), ("go", GO, "counter.go"), ("rust", RUST, "gap.rs"),
    ("cpp", CPP, "pairs.cpp"),
    ("ruby", RUBY, "hello.rb"), (None, PROSE, "note.txt"), ("python", "", "empty.py"),
    ("python", "x = 1\nprint(x)\n", "script.py"),
]


def write_corpus(folder: Path, docs: list[dict], per_file: int = 5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(0, len(docs), per_file):
        with open(folder / f"{k // per_file:05d}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n"
                         for d in docs[k:k + per_file])
    return folder


@pytest.fixture
def mixed_corpus(tmp_path: Path) -> Path:
    docs = [doc(i, t, lang, p) for i, (lang, t, p) in enumerate(MIXED)]
    return write_corpus(tmp_path / "mixed", docs, per_file=4)


def py_module(i: int, n_funcs: int) -> str:
    funcs = "\n\n".join(f'def f{i}_{j}(x):\n    """Function {j}."""\n    y = x * {j}\n    return y + {i}\n'
                        for j in range(n_funcs))
    return f"import os\n\n{funcs}\n"


@pytest.fixture
def py_corpus(tmp_path: Path) -> Path:
    docs = [doc(i, py_module(i, 2 + i % 5), "python", f"m{i}.py") for i in range(120)]
    docs += [doc(120 + i, f"X_{i} = {i}\n", "python", f"const{i}.py") for i in range(20)]  # no bodies
    return write_corpus(tmp_path / "py", docs, per_file=50)
