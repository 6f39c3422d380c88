"""FIM data-loading throughput: plain packing vs document-level vs context-level FIM, 2k and 8k contexts.

    .venv/bin/python benchmarks/bench_fim.py            # about 3-5 minutes
    .venv/bin/python benchmarks/bench_fim.py --quick    # under a minute

Corpus: CPython standard-library sources (real code, offline) with Japanese comments and rare byte-split kanji
spliced in, tokenized by ``codeja tokenize`` with a byte-level BPE trained here (the tokenizer's fast Rust
implementation). Each row times (CPU time, single thread) ``FIMDataset.__getitem__`` (what a DataLoader worker runs: read from the memory
mapped .bin, FIM, tensors) on one core, median of several rounds, and reports the ratio to plain packing measured
in the same run. ``ctx-full`` re-encodes whole pieces (the paper's pseudocode) instead of windows around the cuts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

JA = ["# 入力を検証してから結果を返す", "# この関数はキャッシュを使います", "# 注意: 鬱蒼とした森の龘", "# 日本語のコメント 𠮷野家"]


def corpus_docs(limit: int) -> list[str]:
    rnd = random.Random(0)
    src = sorted(Path(os.__file__).parent.glob("*.py"))[:limit]
    docs = []
    for p in src:
        lines = p.read_text(encoding="utf-8", errors="ignore").splitlines(keepends=True)
        for k in range(0, len(lines), 20):
            if rnd.random() < 0.3:
                lines.insert(k, rnd.choice(JA) + "\n")
        docs.append("".join(lines))
    return docs


def build(tmp: Path, quick: bool):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from codeja.fim.config import TokenizeConfig
    from codeja.fim.tokenize import tokenize_corpus

    docs = corpus_docs(60 if quick else 200)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(docs, trainers.BpeTrainer(
        vocab_size=8000, special_tokens=["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    src = tmp / "docs.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for i, d in enumerate(docs):
            f.write(json.dumps({"id": i, "text": d}, ensure_ascii=False) + "\n")
    summary = tokenize_corpus(TokenizeConfig(input=str(src), model="bench"), tmp / "tok" / "corpus", tokenizer=hf,
                              progress=False)
    return hf, str(tmp / "tok" / "corpus"), summary


def time_rows(prefix, hf, seq_len: int, n: int, rounds: int):
    from codeja.fim.config import FIMConfig
    from codeja.fim.dataset import FIMDataset

    rows = [("plain", dict(mode="off")),
            ("document 0.5", dict(mode="document", fim_rate=0.5)),
            ("document 0.9", dict(mode="document", fim_rate=0.9)),
            ("context 0.5", dict(mode="context", fim_rate=0.5)),
            ("context 0.9", dict(mode="context", fim_rate=0.9)),
            ("ctx-full 0.5", dict(mode="context", fim_rate=0.5, reencode_window=0))]
    out = []
    for name, kw in rows:
        ds = FIMDataset(prefix, hf, FIMConfig(seq_len=seq_len, **kw))
        n_eff = min(n, len(ds))
        ds[0]
        rates = []
        for r in range(rounds):
            idx = range((r * n_eff) % len(ds), (r * n_eff) % len(ds) + n_eff)
            t0 = time.process_time()  # CPU time of this process: the machines are shared, wall time is noise
            for i in idx:
                ds[i % len(ds)]
            rates.append(n_eff / max(time.process_time() - t0, 1e-9))
        out.append((name, statistics.median(rates)))
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller corpus and fewer samples (under a minute)")
    args = ap.parse_args(argv)
    n, rounds = (60, 3) if args.quick else (300, 5)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        hf, prefix, summary = build(Path(d), args.quick)
        print(f"corpus: {summary['docs']} docs, {summary['tokens']:,} tokens (tokenized in "
              f"{time.perf_counter() - t0:.1f} s); {n} samples x {rounds} rounds per row, one core")
        print(f"{'context':>7} {'mode':<13} {'samples/s':>10} {'tokens/s':>12} {'vs plain':>9}")
        for seq_len in (2048, 8192):
            rows = time_rows(prefix, hf, seq_len, n if seq_len == 2048 else max(20, n // 4), rounds)
            base = rows[0][1]
            for name, rate in rows:
                print(f"{seq_len:>7} {name:<13} {rate:>10.1f} {rate * seq_len:>12,.0f} {rate / base:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
