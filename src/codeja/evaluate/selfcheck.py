"""``codeja eval selfcheck``: are every benchmark's data and test programs right on this machine?

A benchmark with reference solutions has every reference scored exactly as a model's samples are (the same
program assembly, sanitizer ``none``, the sandbox); each must pass. A benchmark without references (MultiPL-E)
has a known-wrong sample per task scored (:meth:`Benchmark.wrong_samples`); each must fail, so a test suite
that passes anything is caught; its hand-written probes (:meth:`Benchmark.probe_samples`, an expected verdict
each) show that something can pass at all. The benchmarks to check come from the registry
(``benchmark_names``), so a benchmark added there is checked with no change here.

Every task that does not behave as expected is an exception. It is *explained* when the benchmark declares it
(:attr:`Benchmark.known_failures`: upstream data facts such as a flaky reference, each with its reason) or
when the program could not run because a toolchain is missing (the sandbox's ``toolchain-missing``, never
counted as a pass nor as the expected failure). Anything else is *unexplained*, and makes the check fail.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from codeja.errors import CodejaError
from codeja.evaluate.benchmarks import benchmark_names, get_benchmark
from codeja.evaluate.config import ScoringConfig
from codeja.evaluate.runner import SAMPLES, score_samples
from codeja.io import read_jsonl, write_jsonl
from codeja.report.render import table_md

Check = Literal["reference", "known-wrong", "unavailable"]
# A program that never ran proves nothing either way: always an exception (explained for a missing toolchain)
COULD_NOT_RUN = ("toolchain-missing", "sandbox-error")


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
    probes: int = 0  # hand-written samples with an expected verdict (benchmarks without references)
    probes_ok: int = 0  # of which behaved as expected
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.unexplained

    def as_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "total": self.total, "exceptions": self.exceptions,
                "check": self.check, "unexplained": self.unexplained, "statuses": self.statuses,
                "probes": f"{self.probes_ok}/{self.probes}" if self.probes else None, "wall_s": self.wall_s}


def check_benchmark(name: str, *, path: str | None = None, limit: int | None = None,
                    workers: int | None = None, out_dir: Path | None = None) -> BenchmarkCheck:
    """Run one benchmark's check (see the module docstring). ``out_dir`` keeps the scored samples."""
    t0 = time.monotonic()
    try:
        bench = get_benchmark(name, path, limit)
    except CodejaError as e:  # e.g. CanItEdit: hub-only data and no --data given
        return BenchmarkCheck(name, "unavailable", exceptions={"*": f"not loaded: {e}"})
    rows = bench.canonical_samples()
    check: Check = "reference" if rows else "known-wrong"
    with tempfile.TemporaryDirectory(prefix="codeja-selfcheck-") as tmp:
        work = out_dir / name if out_dir is not None else Path(tmp)
        verdicts = _score(bench, rows or bench.wrong_samples(), work, workers)
        probes = [] if rows else [p for p in bench.probe_samples() if _has_task(bench, p["task_id"])]
        probe_verdicts = _score(bench, probes, work / "probes", workers) if probes else []
    result = BenchmarkCheck(name, check, total=len({v["task_id"] for v in verdicts}))
    want_pass = check == "reference"
    for v in verdicts:
        # a compiled program that never ran failed at compile time: say so (a known-wrong sample that does not
        # compile shows the assembly is right, not that the tests reject wrong answers)
        compiled = v.get("compile_status") in (None, "ok", "cached-ok")
        status = "compile-failed" if v["status"] == "failed" and not compiled else v["status"]
        result.statuses[status] = result.statuses.get(status, 0) + 1
        result.passed += int(v["passed"])
        if v["passed"] != want_pass or v["status"] in COULD_NOT_RUN:
            why = "reference failed" if want_pass else "known-wrong sample passed"
            _exception(result, bench, v["task_id"], v, why)
    for p, v in zip(probes, probe_verdicts):
        if v["passed"] == (p["expect"] == "pass") and v["status"] not in COULD_NOT_RUN:
            result.probes_ok += 1
        else:
            _exception(result, bench, f"probe {p['task_id']} (expected to {p['expect']})", v,
                       "probe did not " + p["expect"])
    result.probes = len(probes)
    result.wall_s = round(time.monotonic() - t0, 1)
    return result


def _has_task(bench, task_id: str) -> bool:
    """Whether the loaded data has the task (a local file may hold a subset; probes name fixed tasks)."""
    try:
        bench.task(task_id)
    except KeyError:
        return False
    return True


def _score(bench, rows: list[dict], work: Path, workers: int | None) -> list[dict]:
    """Each row's verdict under sanitizer ``none`` (scored exactly as a model's samples), in row order."""
    write_jsonl(work / "input.jsonl", [{k: r[k] for k in ("task_id", "completion", "solution") if k in r}
                                       for r in rows])
    scoring = ScoringConfig(sanitizer="none", k=[1], bootstrap=0, workers=workers)
    score_samples(bench, work / "input.jsonl", work, scoring)
    by_line = {}
    for s in read_jsonl(work / SAMPLES):
        by_line[s["line"]] = {"task_id": s["task_id"], **next(iter(s["verdicts"].values()))}
    return [by_line[i] for i in range(1, len(rows) + 1)]


def _exception(result: BenchmarkCheck, bench, key: str, v: dict, why: str) -> None:
    """Record a task that did not behave as expected: explained (declared, or no toolchain) or not."""
    tid = v["task_id"]
    if tid in bench.known_failures and not key.startswith("probe"):
        result.exceptions[key] = bench.known_failures[tid]
    elif v["status"] == "toolchain-missing":
        result.exceptions[key] = f"toolchain-missing: {v.get('detail') or bench.language}"
    else:
        detail = v.get("detail") or ((v.get("stderr") or "").strip().splitlines() or [""])[-1]
        result.exceptions[key] = f"UNEXPLAINED: {why} (status {v['status']}: {detail[:200]})"
        result.unexplained.append(key)


def selfcheck(names: list[str] | None = None, *, data: dict[str, str] | None = None,
              limit: int | None = None, workers: int | None = None, out_dir: Path | None = None,
              progress: bool = False) -> list[BenchmarkCheck]:
    """Check the named benchmarks (default: every registered one), in registry order."""
    names = list(names or benchmark_names())
    for n in names:  # fail on a typo before running anything (the error suggests the close name)
        if n not in benchmark_names():
            get_benchmark(n)
    results = []
    for n in names:
        if progress:
            print(f"selfcheck: {n} ...", file=sys.stderr, flush=True)
        results.append(check_benchmark(n, path=(data or {}).get(n), limit=limit, workers=workers,
                                       out_dir=out_dir))
    return results


def to_json(results: list[BenchmarkCheck]) -> str:
    return json.dumps({r.name: r.as_json() for r in results}, indent=2, ensure_ascii=False)


def to_markdown(results: list[BenchmarkCheck]) -> str:
    """The table: one row per benchmark, then every exception with its explanation."""
    want = {"reference": "all but exceptions", "known-wrong": "0", "unavailable": "-"}
    rows = []
    for r in results:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(r.statuses.items()))
        probes = f"{r.probes_ok}/{r.probes}" if r.probes else ""
        rows.append([r.name, r.check, r.passed, r.total, want[r.check], statuses, probes, len(r.exceptions),
                     "yes" if r.ok else "NO"])
    header = ["benchmark", "check", "passed", "total", "expected passed", "sandbox statuses", "probes",
              "exceptions", "ok"]
    lines = table_md(header, rows).splitlines()
    notes = []
    for r in results:  # tasks with the same explanation on one line (a missing toolchain fails them all)
        by_why: dict[str, list[str]] = {}
        for tid, why in r.exceptions.items():
            by_why.setdefault(why, []).append(tid)
        for why, tids in by_why.items():
            shown = ", ".join(tids[:4]) + (f" and {len(tids) - 4} more" if len(tids) > 4 else "")
            notes.append(f"- {r.name} {shown}: {why}")
    if notes:
        lines += ["", "Exceptions:", "", *notes]
    return "\n".join(lines) + "\n"

