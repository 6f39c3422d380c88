"""HumanEvalFix (FixTests variant) and HumanEvalSynthesize from HumanEvalPack (bigcode-project/octopack).

HumanEvalFix*Tests*: the model sees the buggy function and its unit tests with the instruction
"Fix bugs in <entry_point>." and writes the function again, continuing from its declaration. The reference
"fixed" solution is the canonical one, so canonical samples must score 1.0. HumanEvalSynthesize: the model
writes the function from its docstring prompt.

Toolchain notes: Go's tests import ``github.com/stretchr/testify`` and Rust's use the ``rand``, ``regex`` and ``md5``
crates with ``#[cfg(test)]``; both need those packages available to the sandbox (offline machines usually lack
them, and then the result says so instead of counting a model failure).
"""

from __future__ import annotations

from pathlib import Path

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import Benchmark, Task, read_rows, source_for
from codeja.paths import shared_data

PACK_LANGS = {"python": "python", "js": "javascript", "java": "java", "cpp": "cpp", "go": "go", "rust": "rust"}
# bigcode `humanevalpack.py` LANGUAGE_TO_STOP_WORDS (after CodeGeeX), "<|endoftext|>" always appended.
PACK_STOP = {
    "python": ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\nassert", "<|endoftext|>"),
    "go": ("\n//", "\nfunc main(", "struct", "\nfunc", "<|endoftext|>"),
}
DISPLAY = {"python": "Python", "js": "JavaScript", "java": "Java", "cpp": "C++", "go": "Go", "rust": "Rust"}


class HumanEvalPack(Benchmark):
    """One language of HumanEvalPack; ``variant`` is ``fixtests`` (HumanEvalFix) or ``synthesize``."""

    timeout_s = 20.0

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, lang: str = "python", variant: str = "fixtests", **_):
        if lang not in PACK_LANGS:
            raise InputError(f"HumanEvalPack has no language '{lang}'; known: {', '.join(PACK_LANGS)}")
        p = Path(path) if path else shared_data() / "benchmarks" / "humanevalpack" / lang / "data" / "humanevalpack.jsonl"
        need = ("task_id", "prompt", "declaration", "canonical_solution", "buggy_solution", "entry_point", "test")
        rows = read_rows(p, need)
        tasks = []
        for _, r in rows:
            base = r["declaration"] + ("fn main(){}\n" if lang == "rust" else "")
            if variant == "fixtests":
                instruction = f"Fix bugs in {r['entry_point']}."
                context = base + r["buggy_solution"] + "\n" + r["test"]
                prompt = f"{context}\n{instruction}\n{base}"
            else:
                instruction = r.get("instruction") or f"Write a {DISPLAY[lang]} function to solve the problem."
                prompt = r["prompt"]
                context = r["prompt"]
            code_prefix = base if variant == "fixtests" else r["prompt"]
            tasks.append(Task(
                task_id=r["task_id"], prompt=prompt, language=PACK_LANGS[lang], test=r["test"],
                # the reference continues `prompt` (CPP/38's `declaration` already holds part of the body)
                entry_point=r["entry_point"], canonical=r["prompt"] + r["canonical_solution"],
                canonical_is_program=True, code_prefix=code_prefix,
                instruction=f"{instruction}\n\n```{DISPLAY[lang].lower().replace('c++', 'cpp')}\n{context}\n```",
                meta={"bug_type": r.get("bug_type"), "go_import": r.get("import"),
                      "go_test_setup": r.get("test_setup")},
            ))
        bench = cls(tasks, source_for(p, "bigcode/humanevalpack"), limit=limit, options={"lang": lang, "variant": variant})
        bench.name = f"humanevalfix-{lang}" if variant == "fixtests" else f"humanevalsynthesize-{lang}"
        bench.language = PACK_LANGS[lang]
        bench.lang = lang
        bench.stop = PACK_STOP.get(lang, ("<|endoftext|>",))
        bench.bigcode_stop = bench.stop
        return bench

    def program(self, task: Task, code: str, *, closed: bool) -> str:
        if self.lang == "go":
            # octopack layout: test_setup (package main + imports) + the model's imports + code + tests
            return (task.meta.get("go_test_setup") or "") + "\n" + code + "\n" + task.test
        return code + "\n" + task.test

    def passed(self, task: Task, result) -> bool:
        if result.status != "ok":
            return False
        if self.lang == "js":  # the JS tests use console.assert, which prints and does not change the exit code
            return "Assertion failed" not in (result.stderr or "")
        return True
