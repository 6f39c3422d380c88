"""``codeja eval selfcheck``: are every benchmark's data and test programs right on this machine?

A benchmark with reference solutions has every reference scored exactly as a model's samples are (the same
program assembly, sanitizer ``none``, the sandbox); each must pass. A benchmark without references (MultiPL-E)
has a known-wrong sample per task scored (:meth:`Benchmark.wrong_samples`); each must fail, so a test suite that
passes anything is caught. The benchmarks to check come from the registry (``benchmark_names``), so a benchmark
added there is checked with no change here.

Every task that does not behave as expected is an exception. It is *explained* when the benchmark declares it
(:attr:`Benchmark.known_failures`: upstream data facts such as a flaky reference, each with its reason) or when
the program could not run because a toolchain is missing (the sandbox's ``toolchain-missing``, never counted as
a pass nor as the expected failure). Anything else is *unexplained*, and makes the check fail.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from codeja.errors import CodejaError

Check = Literal["reference", "known-wrong", "unavailable"]


@dataclass
class BenchmarkCheck:
    """The outcome for one benchmark. ``passed``: tasks whose sample passed (reference check: want all but the
    explained exceptions; known-wrong check: want 0)."""

    name: str
    check: Check
    passed: int = 0
    total: int = 0
    exceptions: dict[str, str] = field(default_factory=dict)  # task id -> explanation (explained or not)
    unexplained: list[str] = field(default_factory=list)  # task ids among exceptions that nothing explains
    statuses: dict[str, int] = field(default_factory=dict)  # sandbox status counts
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.unexplained

    def as_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "total": self.total, "exceptions": self.exceptions, "check": self.check,
                "unexplained": self.unexplained, "statuses": self.statuses, "wall_s": self.wall_s}


def check_benchmark(name: str, *, path: str | None = None, limit: int | None = None, workers: int | None = None,
                    out_dir: Path | None = None) -> BenchmarkCheck:
    """Run one benchmark's check (see the module docstring). ``out_dir`` keeps the scored samples."""
    from codeja.evaluate.benchmarks import get_benchmark
    from codeja.evaluate.runner import SAMPLES, score_samples
    from codeja.io import write_jsonl

    t0 = time.monotonic()
    try:
        bench = get_benchmark(name, path, limit)
    except CodejaError as e:  # e.g. CanItEdit: hub-only data and no --data given
        return BenchmarkCheck(name, "unavailable", exceptions={"*": f"not loaded: {e}"})
    rows = bench.canonical_samples()
    check: Check = "reference" if rows else "known-wrong"
    if not rows:
        rows = bench.wrong_samples()
    with tempfile.TemporaryDirectory(prefix="codeja-selfcheck-") as tmp:
        work = out_dir / name if out_dir is not None else Path(tmp)
        write_jsonl(work / "input.jsonl", rows)
        score_samples(bench, work / "input.jsonl", work, "none", k=[1], bootstrap=0, workers=workers)
        samples = [json.loads(line) for line in (work / SAMPLES).read_text(encoding="utf-8").splitlines()]
    result = BenchmarkCheck(name, check, total=len({s["task_id"] for s in samples}))
    want_pass = check == "reference"
    for s in samples:
        v = next(iter(s["verdicts"].values()))
        result.statuses[v["status"]] = result.statuses.get(v["status"], 0) + 1
        result.passed += int(v["passed"])
        if v["passed"] == want_pass:
            continue
        tid = s["task_id"]
        if tid in bench.known_failures:
            result.exceptions[tid] = bench.known_failures[tid]
        elif v["status"] == "toolchain-missing":
            result.exceptions[tid] = f"toolchain-missing: {v.get('detail') or bench.language}"
        else:
            why = "reference failed" if want_pass else "known-wrong sample passed"
            detail = v.get("detail") or ((v.get("stderr") or "").strip().splitlines() or [""])[-1]
            result.exceptions[tid] = f"UNEXPLAINED: {why} (status {v['status']}: {detail[:200]})"
            result.unexplained.append(tid)
    result.wall_s = round(time.monotonic() - t0, 1)
    return result


def selfcheck(names: list[str] | None = None, *, data: dict[str, str] | None = None, limit: int | None = None,
              workers: int | None = None, out_dir: Path | None = None, progress: bool = False) -> list[BenchmarkCheck]:
    """Check the named benchmarks (default: every registered one), in registry order."""
    from codeja.evaluate.benchmarks import benchmark_names, get_benchmark

    names = list(names or benchmark_names())
    for n in names:  # fail on a typo before running anything (the error suggests the close name)
        if n not in benchmark_names():
            get_benchmark(n)
    results = []
    for n in names:
        if progress:
            import sys

            print(f"selfcheck: {n} ...", file=sys.stderr, flush=True)
        results.append(check_benchmark(n, path=(data or {}).get(n), limit=limit, workers=workers, out_dir=out_dir))
    return results


def to_json(results: list[BenchmarkCheck]) -> str:
    return json.dumps({r.name: r.as_json() for r in results}, indent=2, ensure_ascii=False)


def to_markdown(results: list[BenchmarkCheck]) -> str:
    """The table: one row per benchmark, then every exception with its explanation."""
    want = {"reference": "all but exceptions", "known-wrong": "0", "unavailable": "-"}
    lines = ["| benchmark | check | passed | total | expected passed | sandbox statuses | exceptions | ok |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(r.statuses.items()))
        lines.append(f"| {r.name} | {r.check} | {r.passed} | {r.total} | {want[r.check]} | {statuses} | "
                     f"{len(r.exceptions)} | {'yes' if r.ok else 'NO'} |")
    notes = [f"- {r.name} {tid}: {why}" for r in results for tid, why in r.exceptions.items()]
    if notes:
        lines += ["", "Exceptions:", "", *notes]
    return "\n".join(lines) + "\n"

