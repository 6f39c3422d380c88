"""Generation on a CPU: the llama.cpp backend against the transformers backend, same model, same prompts.

    .venv/bin/python benchmarks/bench_llamacpp.py            # 8 HumanEval prompts, 128 new tokens, 3 repeats
    .venv/bin/python benchmarks/bench_llamacpp.py --quick    # 4 prompts, 48 new tokens, 1 repeat

The workload is the eval stage's: HumanEval prompts in completion mode, greedy, the benchmark's stop strings,
generation ending at EOS or a stop string as in a real run (so the transformers backend pays for the rows of a
batch that finished early, as it does in a run). Both backends use the same weights (the tiny model in bf16; the
llama.cpp side runs the GGUF codeja exports from that checkpoint, weights unchanged) and the same thread count.
Cases are interleaved per repeat; medians are reported, of wall time and of process CPU time (all threads): on a
shared, loaded machine the CPU time is the steadier figure (run with --threads 1 there: engines that spin-wait
for their worker threads collapse when the cores are oversubscribed). Needs llama-cpp-python (make setup-test).

"same text" is the share of prompts whose greedy completion is identical to transformers at batch 1. Batch 8 vs
batch 1 inside transformers is printed too: left padding alone moves bf16 logits, so that row shows how much two
correct runs of one model differ before any change of engine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--prompts", type=int, default=None)
    ap.add_argument("--new-tokens", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="threads for both engines (default: all CPUs)")
    args = ap.parse_args(argv)
    n_prompts = args.prompts or (4 if args.quick else 8)
    new_tokens = args.new_tokens or (48 if args.quick else 128)
    repeats = args.repeats or (1 if args.quick else 3)
    threads = args.threads or len(os.sched_getaffinity(0))

    import torch

    from codeja.backends import SamplingParams, get_backend
    from codeja.backends.llamacpp import available
    from codeja.evaluate.benchmarks import get_benchmark

    if not available():
        print("llama-cpp-python is not installed (make setup-test); nothing to compare")
        return 0
    torch.set_num_threads(threads)
    bench = get_benchmark("humaneval", limit=n_prompts)
    prompts = [t.prompt for t in bench.tasks]
    params = SamplingParams(max_new_tokens=new_tokens, stop=bench.stop_for(bench.tasks[0]))
    hf = get_backend(args.model, "transformers", progress=False)
    lc = get_backend(args.model, "llamacpp", n_threads=threads, progress=False)

    def run(backend, batch_size=None):
        def go():
            if batch_size:
                backend.batch_size = batch_size
            return [g[0] for g in backend.complete(prompts, params)]
        return go

    cases = {"transformers batch 8": run(hf, 8), "transformers batch 1": run(hf, 1), "llamacpp": run(lc)}
    walls: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    outs: dict[str, list] = {}
    warm = SamplingParams(max_new_tokens=4)
    lc.complete(prompts[:1], warm)  # warm-up: first-call allocations
    hf.complete(prompts[:2], warm)
    for _ in range(repeats):
        for name, fn in cases.items():
            t0, c0 = time.perf_counter(), time.process_time()
            outs[name] = fn()
            walls[name].append(time.perf_counter() - t0)
            cpus[name].append(time.process_time() - c0)
    ref = outs["transformers batch 1"]
    print(f"model={args.model} dtype={hf.model.dtype} prompts={len(prompts)} max_new_tokens={new_tokens} "
          f"threads={threads} repeats={repeats} gguf={lc.gguf_path.name}")
    print(f"{'case':<22} {'wall med s':>10} {'cpu med s':>9} {'tokens':>7} {'tok/s wall':>10} {'tok/cpu-s':>9} "
          f"{'cpu vs tf b8':>12} {'same text':>10}")
    base = statistics.median(cpus["transformers batch 8"])
    for name in cases:
        w, c = statistics.median(walls[name]), statistics.median(cpus[name])
        toks = sum(g.completion_tokens for g in outs[name])
        same = sum(a.text == b.text for a, b in zip(outs[name], ref))
        print(f"{name:<22} {w:>10.2f} {c:>9.2f} {toks:>7d} {toks / w:>10.1f} {toks / c:>9.1f} {base / c:>11.2f}x "
              f"{same:>5d}/{len(ref)}")
    first_diff = [_first_diff(a.text, b.text) for a, b in zip(outs["llamacpp"], ref) if a.text != b.text]
    if first_diff:
        print("llamacpp vs transformers b1, first differing character of the differing completions: "
              + ", ".join(map(str, first_diff)))
    lc.close()
    hf.close()
    return 0


def _first_diff(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


if __name__ == "__main__":
    sys.exit(main())
