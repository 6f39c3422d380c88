"""HumanEvalFix (FixTests variant) and HumanEvalSynthesize from HumanEvalPack (bigcode-project/octopack).

HumanEvalFix*Tests*: the model sees the buggy function and its unit tests with the instruction
"Fix bugs in <entry_point>." and writes the function again, continuing from its declaration. The reference
"fixed" solution is the canonical one, so canonical samples must score 1.0. HumanEvalSynthesize: the model
writes the function from its docstring prompt.

Toolchain notes: Go's tests import ``github.com/stretchr/testify`` and Rust's use the ``rand``, ``regex`` and ``md5``
crates with ``#[cfg(test)]``; both need those packages available to the sandbox (offline machines usually lack
them, and then the result says so instead of counting a model failure).

Upstream data quirks handled here (each recorded in the benchmark's ``options["assembly"]``, so runs assembled
differently are never ranked against each other):

- Go: the prompt, ``test_setup`` and the reference disagree about imports; programs get one merged import block
  (:mod:`codeja.evaluate.benchmarks.golang`).
- Rust/32 and Rust/50's tests call rand 0.7's ``rng.gen_range(low, high)``; the sandbox has rand 0.8 (Debian's
  ``librust-rand-dev``), where the same half-open range is written ``rng.gen_range(low..high)``. The tests are
  ported call by call (:func:`port_rand_07`): the same distribution over the same range.
- Rust/32 draws its 100 test polynomials from an unseeded ``thread_rng``; the reference's Newton iteration has no
  iteration cap and does not terminate (or misses 1e-3) for some draws, so upstream's verdict on the reference is
  a coin flip (measured: 2 of 8 runs pass). Python's HumanEval/32 and Go/32 draw from a generator seeded with 42;
  the Rust test is given the same seed (:data:`RUST_SEEDED`), which makes every verdict reproducible. The
  reference passes with seed 42 and fails with seeds 0, 1 and 7: it is fragile, the seed is upstream's, not picked.
- 14 tasks' ``entry_point`` is not the name their ``declaration`` declares (Rust/61 says ``correct_bracketing``,
  the code and tests use ``correct_bracketing_parenthesis``; also Rust/71, 85, 116, 120, 121, 142, 156, 161,
  CPP/121, CPP/156, Java/99, 101, 114). Sanitizers look for the declared name (:func:`declared_entry`); the
  instruction keeps upstream's wording so prompts stay identical to octopack's.
"""

from __future__ import annotations

import re

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import Benchmark, Task
from codeja.evaluate.benchmarks.golang import go_test_program
from codeja.evaluate.benchmarks.loading import HubDefault, load_records
from codeja.paths import benchmark_file

PACK_LANGS = {"python": "python", "js": "javascript", "java": "java", "cpp": "cpp", "go": "go", "rust": "rust"}
# bigcode `humanevalpack.py` LANGUAGE_TO_STOP_WORDS (after CodeGeeX), "<|endoftext|>" always appended.
PACK_STOP = {
    "python": ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\nassert", "<|endoftext|>"),
    "go": ("\n//", "\nfunc main(", "struct", "\nfunc", "<|endoftext|>"),
}
DISPLAY = {"python": "Python", "js": "JavaScript", "java": "Java", "cpp": "C++", "go": "Go", "rust": "Rust"}
# How test programs are put together per language; part of the benchmark identity in every manifest.
ASSEMBLY = {"go": "go-imports@1", "rust": "rand-0.8-port@1"}
# The hub copy (config = language), at the revision a public archiving script pins (parquet; not re-verified
# here).
HUB_ID, HUB_REVISION = "bigcode/humanevalpack", "9a41762f73a8cb23bb5811b73d5aab164efcf378"

# rand 0.7: gen_range(low, high); rand 0.8: gen_range(low..high) (both sample [low, high)). Only two plain
# arguments without parentheses or commas are rewritten, which covers every call in HumanEvalPack.
_GEN_RANGE_07 = re.compile(r"\.gen_range\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)")
# the name a declaration's last signature line declares: `fn f(`, `func F(`, `int f(`, `public List<X> f(`
_SIGNATURE = re.compile(r"(\w+)\s*(?:<[^<>]*>)?\s*\(")


# References that cannot pass everywhere, and why (`eval selfcheck`; docs/evaluation.md).
KNOWN_FAILURES = {
    "js": {"JavaScript/162": "the tests require('js-md5'), an npm package Debian does not ship: environment, "
                             "not data"},
    "go": {"Go/95": "flaky upstream: the reference returns after comparing the first two keys of a Go map, "
                    "whose iteration order is random (measured: fails about 1 run in 6)"},
}
# Rust tests whose verdict depends on the random draw get the seed their Python/Go twins use (see module doc).
RUST_SEEDED = {"Rust/32": 42}


def port_rand_07(test: str) -> str:
    """Rust test code written for rand 0.7 rewritten for rand 0.8 (``gen_range(a, b)`` -> ``gen_range(a..b)``)."""
    return _GEN_RANGE_07.sub(r".gen_range(\1..\2)", test)


def port_rust_test(task_id: str, test: str) -> str:
    """The rand 0.8 port, plus a seeded generator for the tasks in :data:`RUST_SEEDED`."""
    test = port_rand_07(test)
    if task_id in RUST_SEEDED:
        seeded = f"<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64({RUST_SEEDED[task_id]})"
        test = test.replace("rand::thread_rng()", seeded)
    return test


def declared_entry(declaration: str, entry_point: str) -> str:
    """``entry_point`` when the declaration declares it (any case), else the name the declaration declares."""
    if re.search(rf"\b{re.escape(entry_point)}\s*(?:<[^<>]*>)?\s*(?:\(|=)", declaration, re.IGNORECASE):
        return entry_point
    lines = [ln for ln in declaration.splitlines() if "(" in ln]
    found = _SIGNATURE.findall(lines[-1]) if lines else []
    return found[0] if found else entry_point


class HumanEvalPack(Benchmark):
    """One language of HumanEvalPack; ``variant`` is ``fixtests`` (HumanEvalFix) or ``synthesize``."""

    timeout_s = 20.0

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, lang: str = "python", variant: str = "fixtests",
             **_):
        if lang not in PACK_LANGS:
            raise InputError(f"HumanEvalPack has no language '{lang}'; known: {', '.join(PACK_LANGS)}")
        need = ("task_id", "prompt", "declaration", "canonical_solution", "buggy_solution", "entry_point", "test")
        packaged = f"humanevalpack/{lang}/data/humanevalpack.jsonl"
        rows, source = load_records(path, benchmark=f"humanevalpack ({lang})", required=need,
                                    default_file=lambda: benchmark_file(packaged),
                                    hub=HubDefault(HUB_ID, HUB_REVISION, config=lang))
        tasks = []
        for r in rows:
            test = port_rust_test(r["task_id"], r["test"]) if lang == "rust" else r["test"]
            # Rust: `fn main(){}` goes first, as in octopack; after the declaration it would land inside the open
            # function whenever the declaration holds helpers before it (Rust/32: poly, then find_zero's header)
            base = ("fn main(){}\n" if lang == "rust" else "") + r["declaration"]
            if variant == "fixtests":
                instruction = f"Fix bugs in {r['entry_point']}."
                context = base + r["buggy_solution"] + "\n" + r["test"]  # upstream's test text in the prompt
                prompt = f"{context}\n{instruction}\n{base}"
            else:
                instruction = r.get("instruction") or f"Write a {DISPLAY[lang]} function to solve the problem."
                prompt = r["prompt"]
                context = r["prompt"]
            code_prefix = base if variant == "fixtests" else r["prompt"]
            tasks.append(Task(
                task_id=r["task_id"], prompt=prompt, language=PACK_LANGS[lang], test=test,
                # the reference continues `prompt` (CPP/38's `declaration` already holds part of the body)
                entry_point=declared_entry(r["declaration"], r["entry_point"]),
                canonical=r["prompt"] + r["canonical_solution"],
                canonical_is_program=True, code_prefix=code_prefix,
                instruction=f"{instruction}\n\n```{DISPLAY[lang].lower().replace('c++', 'cpp')}\n{context}\n```",
                meta={"bug_type": r.get("bug_type"), "go_import": r.get("import"),
                      "dataset_entry_point": r["entry_point"],
                      "go_test_setup": r.get("test_setup")},
            ))
        bench = cls(tasks, source, limit=limit, options={"lang": lang, "variant": variant,
                                                         "assembly": ASSEMBLY.get(lang, "plain@1")})
        bench.name = f"humanevalfix-{lang}" if variant == "fixtests" else f"humanevalsynthesize-{lang}"
        bench.language = PACK_LANGS[lang]
        bench.lang = lang
        bench.stop = PACK_STOP.get(lang, ("<|endoftext|>",))
        bench.bigcode_stop = bench.stop
        bench.known_failures = KNOWN_FAILURES.get(lang, {})
        return bench

    def program(self, task: Task, code: str, *, closed: bool) -> str:
        if self.lang == "go":
            # octopack layout (test_setup + code + tests) with one import block the compiler accepts
            return go_test_program(code, task.test, task.meta.get("go_test_setup") or "")
        return code + "\n" + task.test

    def passed(self, task: Task, result) -> bool:
        if result.status != "ok":
            return False
        if self.lang == "js":  # the JS tests use console.assert, which prints and does not change the exit code
            return "Assertion failed" not in (result.stderr or "")
        return True
