"""Generation benchmark: the transformers backend against raw ``model.generate``, and batch 8 against batch 1.

    .venv/bin/python benchmarks/bench_generation.py            # full: 5 repeats, 64 new tokens
    .venv/bin/python benchmarks/bench_generation.py --quick    # ~1 minute: 3 repeats, 16 new tokens

Both sides use the same loaded model, the same 8 prompts, greedy decoding and the same number of new tokens
(EOS is suppressed on both sides, so every row generates exactly ``--new-tokens``), and the same bf16-autocast
setting. Runs are interleaved (baseline, backend, baseline, ...) so load changes on a shared machine hit both
alike; medians are reported, of wall time and of process CPU time (all threads): on a shared, loaded machine
the CPU time is the steadier figure, and the overhead is computed from it. Targets: backend overhead < 5 %; batch 8
several times batch 1 in tokens/s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROMPTS = [
    "def fibonacci(n):\n",
    "# Python でリストを逆順にする関数\ndef reverse(xs):\n",
    "import numpy as np\n\ndef normalize(v):\n",
    "class Stack:\n    def __init__(self):\n",
    "// JavaScript: debounce a function\nfunction debounce(fn, ms) {\n",
    "SELECT name, COUNT(*) FROM users\n",
    "def is_prime(n: int) -> bool:\n",
    "#include <stdio.h>\nint main(void) {\n",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny", help="model argument (default: the bundled tiny model)")
    ap.add_argument("--quick", action="store_true", help="3 repeats x 16 tokens (about a minute)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--new-tokens", type=int, default=None)
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    new_tokens = args.new_tokens or (16 if args.quick else 64)

    import torch
    from transformers import GenerationConfig, SuppressTokensLogitsProcessor

    from codeja.backends import SamplingParams
    from codeja.backends.hf import TransformersBackend

    backend = TransformersBackend(args.model, batch_size=8, progress=False)
    model, tok = backend.model, backend.tokenizer
    eos = backend.eos_ids
    params = SamplingParams(max_new_tokens=new_tokens)

    # EOS suppressed on both sides so every row does the same work; the processor is shared.
    suppress = SuppressTokensLogitsProcessor(eos, device="cpu")
    original_generate = model.generate

    def generate_no_eos(*a, **kw):
        from transformers import LogitsProcessorList

        kw["logits_processor"] = LogitsProcessorList([suppress, *(kw.get("logits_processor") or [])])
        return original_generate(*a, **kw)

    model.generate = generate_no_eos
    amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if backend.autocast else contextlib.nullcontext
    enc = tok(PROMPTS, return_tensors="pt", padding=True, add_special_tokens=False)
    gen_cfg = GenerationConfig(max_new_tokens=new_tokens, do_sample=False, num_beams=1, eos_token_id=eos,
                               pad_token_id=backend.pad_id, temperature=None, top_p=None, top_k=None)

    def raw_batch8() -> int:
        with torch.inference_mode(), amp():
            out = model.generate(**enc, generation_config=gen_cfg)
        return (out.shape[1] - enc["input_ids"].shape[1]) * len(PROMPTS)

    def via_backend(batch_size: int):
        def run() -> int:
            backend.batch_size = batch_size
            res = backend.complete(PROMPTS, params)
            return sum(g[0].completion_tokens for g in res)
        return run

    cases = {"raw model.generate, batch 8": raw_batch8, "backend.complete, batch 8": via_backend(8),
             "backend.complete, batch 1": via_backend(1)}
    times: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    tokens: dict[str, int] = {}
    for fn in cases.values():  # warm-up (first calls allocate and JIT kernels)
        fn()
    for _ in range(repeats):
        for name, fn in cases.items():
            t0, c0 = time.perf_counter(), time.process_time()
            tokens[name] = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)

    med = {k: statistics.median(v) for k, v in times.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    base, cbase = med["raw model.generate, batch 8"], cmed["raw model.generate, batch 8"]
    b1, cb1 = med["backend.complete, batch 1"], cmed["backend.complete, batch 1"]
    print(f"model={backend.ref.name} new_tokens={new_tokens} prompts={len(PROMPTS)} repeats={repeats} "
          f"threads={torch.get_num_threads()} bf16_autocast={backend.autocast} dtype={model.dtype}")
    print(f"{'case':<28} {'wall med s':>10} {'wall min s':>10} {'cpu med s':>9} {'tokens':>6} {'tok/s wall':>10} "
          f"{'cpu vs raw':>10} {'cpu vs b1':>9}")
    for name in cases:
        m, c = med[name], cmed[name]
        print(f"{name:<28} {m:>10.3f} {min(times[name]):>10.3f} {c:>9.3f} {tokens[name]:>6d} "
              f"{tokens[name] / m:>10.1f} {c / cbase:>10.3f} {cb1 / c:>8.2f}x")
    b8, cb8 = med["backend.complete, batch 8"], cmed["backend.complete, batch 8"]
    print(f"\nbackend overhead vs raw model.generate (batch 8): {(cb8 / cbase - 1) * 100:+.1f}% CPU time, "
          f"{(b8 / base - 1) * 100:+.1f}% wall time (target < 5%)")
    print(f"batch 8 vs batch 1 throughput (backend): {cb1 / cb8:.2f}x by CPU time, {b1 / b8:.2f}x by wall time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
