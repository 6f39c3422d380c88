"""FIM data-loading throughput: plain packing vs document-level vs context-level FIM, 2k and 8k contexts.

    .venv/bin/python benchmarks/bench_fim.py            # about 3-5 minutes
    .venv/bin/python benchmarks/bench_fim.py --quick    # under a minute

Corpus: CPython standard-library sources (real code, offline) with Japanese comments and rare byte-split kanji
spliced in, tokenized by ``codeja tokenize`` with a byte-level BPE trained here (the tokenizer's fast Rust
implementation). Every row times ``FIMDataset.__getitem__``, which is what a DataLoader worker runs: read from the
memory-mapped .bin, FIM (or not), tensors and labels, so plain and FIM rows do the same non-FIM work and the ratio
isolates the FIM cost (a FIM row also reads ``read_margin`` = 64 extra tokens, part of its cost).

The machine is shared, so rows are measured *interleaved*: each round times every row on the same sample indices,
back to back, and a row's ratio is the median over rounds of (plain time / row time) in that round. The table
gives CPU time (``time.process_time``, this process only, one thread) and wall time medians. ``ctx-full`` re-encodes
whole pieces (the paper's pseudocode); ``w=N`` rows re-encode N tokens around each cut instead of the default 1.

Each round uses a new epoch (new document order, new FIM draws), so no sample is built twice, as in training.
``--windows N`` also FIMs N documents with each window size and with whole-piece re-encoding and compares the ids.

Measured 2026-11-28 (``--windows 3000``, 2-core shared machine, CPU us per sample, ratio to plain in the same run):

    context  row                    us       vs plain
    2048     plain                  27.8
    2048     context 0.5 (w=1)      159.6    0.18x     (w=8: 0.13x, whole pieces: 0.01x)
    2048     context 0.9            246.4    0.11x
    2048     document 0.9           328.0    0.08x
    8192     plain                  43.6
    8192     context 0.5            302.7    0.14x
    8192     context 0.9            432.2    0.10x
    windows of 1-16 tokens: 100.00 % of 3000 FIM'd documents get the ids of whole-piece re-encoding

The 0.8x target is not met, and the output says why: the tokenizer calls alone (4 texts of ~13 characters per
FIM'd document, one Rust ``encode`` each: 51 us, 32 us of it the regex pre-tokenizer) cap context FIM at rate 0.5
at plain / (plain + FIM docs x 51 us) = 0.44x, before any other work. Without the regex (pre-token boundaries known,
the BPE model called per chunk: 12 us) the cap would be 0.78x, still with nothing else to do. Remembering encoded
texts (exact: encoding is a pure function of the text) would not lift the cap far: only 13.7 % of the texts recur
within 3000 documents, and after 400k random cuts over the CPython standard library (a throwaway experiment, not
kept) 80 % of 1-token windows had been seen before but only 65 % of 3-token ones, while windows smaller than a word
give other ids than whole-piece re-encoding for 3-5 % of the cuts.
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

JA = ["# 入力を検証してから結果を返す", "# この関数はキャッシュを使います", "# 注意: 鬱蒼とした森の龘",
      "# 日本語のコメント 𠮷野家"]


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


ROWS = [
    ("plain", dict(mode="off")),
    ("document 0.5", dict(mode="document", fim_rate=0.5)),
    ("document 0.9", dict(mode="document", fim_rate=0.9)),
    ("context 0.5", dict(mode="context", fim_rate=0.5)),
    ("context 0.9", dict(mode="context", fim_rate=0.9)),
    ("ctx 0.5 w=16", dict(mode="context", fim_rate=0.5, reencode_window=16)),
    ("ctx 0.5 w=8", dict(mode="context", fim_rate=0.5, reencode_window=8)),
    ("ctx 0.5 w=2", dict(mode="context", fim_rate=0.5, reencode_window=2)),
    ("ctx-full 0.5", dict(mode="context", fim_rate=0.5, reencode_window=0)),
]


def time_rows(prefix, hf, seq_len: int, n: int, rounds: int) -> list[dict]:
    """Per row: median CPU and wall microseconds per sample, and median per-round ratios to plain packing."""
    from codeja.fim.config import FIMConfig
    from codeja.fim.dataset import FIMDataset

    datasets = [(name, FIMDataset(prefix, hf, FIMConfig(seq_len=seq_len, **kw))) for name, kw in ROWS]
    size = min(len(ds) for _, ds in datasets)
    n = min(n, size)
    for _, ds in datasets:  # warm up: lazily opened memory maps, codec tables, first-call costs
        ds[0]
    cpu = {name: [] for name, _ in datasets}
    wall = {name: [] for name, _ in datasets}
    for r in range(rounds):
        idx = [(r * n + k) % size for k in range(n)]
        for name, ds in datasets:
            # a new epoch per round: new document order and new FIM draws, so no sample is ever built twice (as in
            # training) and the re-encode cache only hits texts that genuinely recur
            ds.set_epoch(r + 1)
            c0, w0 = time.process_time(), time.perf_counter()
            for i in idx:
                ds[i]
            cpu[name].append((time.process_time() - c0) / n * 1e6)
            wall[name].append((time.perf_counter() - w0) / n * 1e6)
    fim_docs = {}
    for name, ds in datasets:  # FIM'd documents per sample (what the FIM cost scales with)
        fim_docs[name] = sum(ds.sample(i).stats.fim_docs for i in range(n)) / n
    out = []
    for name, _ in datasets:
        out.append({
            "row": name,
            "cpu_us": statistics.median(cpu[name]),
            "wall_us": statistics.median(wall[name]),
            "ratio_cpu": statistics.median(b / x for b, x in zip(cpu["plain"], cpu[name])),
            "ratio_wall": statistics.median(b / x for b, x in zip(wall["plain"], wall[name])),
            "fim_docs": fim_docs[name],
        })
    return out


MEGATRON_ROWS = [  # (row, dataset class, FIM rate, create_attention_mask, mask cached)
    ("mcore GPTDataset mask on", "gpt", 0.0, True, True),
    ("FIM 0.5 mask off", "fim", 0.5, False, True),
    ("FIM 0.5 mask on", "fim", 0.5, True, True),
    ("FIM 0.5 mask per sample", "fim", 0.5, True, False),
]


def time_megatron_rows(prefix, hf, seq_len: int, n: int, rounds: int, cache: Path) -> list[dict]:
    """Megatron's ``__getitem__`` (what Megatron-LM's DataLoader workers run): megatron-core's own GPTDataset with the
    attention mask made in the data loader (Megatron-LM's default), and codeja's FIMGPTDataset with the mask off, on
    (built once and shared: the default now), and rebuilt for every sample (what it did before, and what both do
    with reset_attention_mask). Interleaved rounds over new samples; ratios to "mask off" in the same round."""
    from megatron.core.datasets.gpt_dataset import GPTDataset

    from codeja.fim.config import FIMConfig
    from codeja.fim.megatron import build_fim_gpt_datasets

    rows = []
    for name, kind, rate, mask, cached in MEGATRON_ROWS:
        fim = FIMConfig(seq_len=seq_len, fim_rate=rate, mode="context" if rate else "off")
        ds = build_fim_gpt_datasets(prefix, hf, fim, [n * rounds + 1, 0, 0], split="100,0,0",
                                    path_to_cache=str(cache), create_attention_mask=mask,
                                    dataset_class=GPTDataset if kind == "gpt" else None)[0]
        if not cached:
            ds.masks_and_position_ids_are_cacheable = False
        ds[n * rounds]  # warm up (first-call costs, and the shared mask where it is cached)
        rows.append((name, ds))
    cpu = {name: [] for name, _ in rows}
    wall = {name: [] for name, _ in rows}
    for r in range(rounds):
        for name, ds in rows:
            c0, w0 = time.process_time(), time.perf_counter()
            for i in range(r * n, (r + 1) * n):
                ds[i]
            cpu[name].append((time.process_time() - c0) / n * 1e6)
            wall[name].append((time.perf_counter() - w0) / n * 1e6)
    base = "FIM 0.5 mask off"
    return [{"row": name, "cpu_us": statistics.median(cpu[name]), "wall_us": statistics.median(wall[name]),
             "vs_off_cpu": statistics.median(x / b for x, b in zip(cpu[name], cpu[base])),
             "vs_off_wall": statistics.median(x / b for x, b in zip(wall[name], wall[base]))} for name, _ in rows]


def recording(codec) -> list[str]:
    """Make ``codec`` note every text the transform encodes; returns the list they are appended to."""
    texts: list[str] = []
    for name in ("encode", "encode_plain"):
        def wrapped(text, _encode=getattr(codec, name)):
            texts.append(text)
            return _encode(text)
        setattr(codec, name, wrapped)
    return texts


def reencode_cost(prefix, hf, docs: int) -> tuple[float, float, float, float]:
    """What the default transform's tokenizer calls cost: texts per FIM'd document, characters per text, CPU us per
    FIM'd document for encoding them (one call each, as the transform does), for the regex pre-tokenizer alone, and
    for the BPE model alone on the pre-tokenizer's chunks (byte-level BPE only)."""
    import numpy as np

    from codeja.fim.config import FIMConfig
    from codeja.fim.dataset import build_sampler
    from codeja.fim.transform import SampleStats

    sampler = build_sampler(prefix, hf, FIMConfig(fim_rate=1.0))
    tr, corpus = sampler.transform, sampler.corpus
    texts = recording(tr.codec)
    rng = np.random.default_rng(1)
    for _ in range(docs):
        tokens, _, _ = corpus.read(int(rng.integers(len(corpus))))
        eods = np.flatnonzero(tokens == tr.eod)
        tr.fim_document(tokens[:eods[0]] if len(eods) and eods[0] > 0 else tokens, rng.random(2), False, SampleStats())
    del tr.codec.encode, tr.codec.encode_plain  # stop recording (the class's methods again)
    encode, pre = tr.codec.encode_plain, tr.codec._encoder.pre_tokenizer
    c0 = time.process_time()
    for t in texts:
        encode(t)
    enc = (time.process_time() - c0) * 1e6 / docs
    c0 = time.process_time()
    chunks = [[c for c, _ in pre.pre_tokenize_str(t)] for t in texts]
    regex = (time.process_time() - c0) * 1e6 / docs
    # what stored pre-token boundaries would leave: the BPE model alone on each chunk (same ids for these texts)
    model = tr.codec._encoder.model
    c0 = time.process_time()
    for cs in chunks:
        [tok.id for c in cs for tok in model.tokenize(c)]
    bpe = (time.process_time() - c0) * 1e6 / docs
    return len(texts) / docs, statistics.mean(map(len, texts)), enc, regex, bpe


def window_study(prefix, hf, draws: int, windows=(1, 2, 4, 8, 16)) -> list[tuple[int, float, float]]:
    """What the re-encode window trades: per window size, the share of FIM'd documents whose ids equal those of
    re-encoding whole pieces (the paper's pseudocode), and the share of the texts it encodes that were already
    encoded earlier in the run (what an exact cache of encodings could skip)."""
    import numpy as np

    from codeja.fim.config import FIMConfig
    from codeja.fim.dataset import build_sampler
    from codeja.fim.transform import SampleStats

    full = build_sampler(prefix, hf, FIMConfig(fim_rate=1.0, reencode_window=0))
    corpus, eod = full.corpus, full.transform.eod
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(draws):
        toks = corpus.document(int(rng.integers(len(corpus.docs))))
        seg = toks[:-1] if len(toks) and toks[-1] == eod else toks
        u = rng.random(2)
        cases.append((seg, u, full.transform.fim_document(seg, u, False, SampleStats())))
    out = []
    for w in windows:
        tr = build_sampler(prefix, hf, FIMConfig(fim_rate=1.0, reencode_window=w)).transform
        texts = recording(tr.codec)
        same = sum(np.array_equal(tr.fim_document(seg, u, False, SampleStats()), ref) for seg, u, ref in cases)
        seen: set[str] = set()
        again = 0
        for t in texts:
            again += t in seen
            seen.add(t)
        out.append((w, same / len(cases), again / max(1, len(texts))))
    return out


def print_fim_rows(prefix, hf, n: int, rounds: int) -> list[tuple[int, float, float]]:
    print(f"{'context':>7} {'mode':<13} {'cpu us':>8} {'samples/s':>10} {'tokens/s':>12} {'vs plain':>9} "
          f"{'wall us':>8} {'vs plain':>9} {'FIM docs':>9}")
    bounds = []
    for seq_len in (2048, 8192):
        rows = time_rows(prefix, hf, seq_len, n if seq_len == 2048 else max(10, n // 4), rounds)
        bounds.append((seq_len, rows[0]["cpu_us"], next(r["fim_docs"] for r in rows if r["row"] == "context 0.5")))
        for row in rows:
            rate = 1e6 / row["cpu_us"]
            print(f"{seq_len:>7} {row['row']:<13} {row['cpu_us']:>8.1f} {rate:>10,.0f} {rate * seq_len:>12,.0f} "
                  f"{row['ratio_cpu']:>8.2f}x {row['wall_us']:>8.1f} {row['ratio_wall']:>8.2f}x "
                  f"{row['fim_docs']:>9.2f}")
    print("cpu us / wall us: median per sample; vs plain: median over rounds of plain time / row time in that "
          "round; FIM docs: documents FIM'd per sample")
    return bounds


def print_megatron_rows(prefix, hf, n: int, rounds: int, cache: Path) -> None:
    print("\nMegatron datasets (__getitem__ per sample; mask: the L x L attention mask Megatron-LM makes in the "
          "data loader unless --no-create-attention-mask-in-dataloader)")
    print(f"{'context':>7} {'row':<26} {'cpu us':>10} {'x mask off':>11} {'wall us':>10} {'x mask off':>11}")
    for seq_len in (2048, 8192):
        mn = n if seq_len == 2048 else max(10, n // 4)
        for row in time_megatron_rows(prefix, hf, seq_len, mn, rounds, cache):
            print(f"{seq_len:>7} {row['row']:<26} {row['cpu_us']:>10.1f} {row['vs_off_cpu']:>10.2f}x "
                  f"{row['wall_us']:>10.1f} {row['vs_off_wall']:>10.2f}x")
    print("x mask off: median over rounds of (row time / 'FIM 0.5 mask off' time) in that round; 'FIM 0.5 mask on' "
          "must stay within 1.2x")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller corpus and fewer samples (under a minute)")
    ap.add_argument("--megatron-only", action="store_true", help="only the Megatron dataset rows (attention mask)")
    ap.add_argument("--windows", type=int, default=0, metavar="N",
                    help="also compare N FIM'd documents per window size with whole-piece re-encoding")
    args = ap.parse_args(argv)
    n, rounds = (40, 5) if args.quick else (200, 9)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        hf, prefix, summary = build(Path(d), args.quick)
        print(f"corpus: {summary['docs']} docs, {summary['tokens']:,} tokens "
              f"(built in {time.perf_counter() - t0:.1f} s); "
              f"{n} samples (2k; a quarter at 8k) x {rounds} interleaved rounds per row, one core")
        if args.megatron_only:
            print_megatron_rows(prefix, hf, n, rounds, Path(d) / "mcore-cache")
            return 0
        bounds = print_fim_rows(prefix, hf, n, rounds)
        print_megatron_rows(prefix, hf, n, rounds, Path(d) / "mcore-cache")
        per_doc, chars, enc, regex, bpe = reencode_cost(prefix, hf, 100 if args.quick else 500)
        print(f"\ntokenizer calls of context FIM: {per_doc:.2f} texts per FIM'd document, {chars:.1f} characters each, "
              f"{enc:.1f} us per FIM'd document (regex pre-tokenizer alone {regex:.1f} us; the BPE model alone on "
              f"its chunks {bpe:.1f} us)")
        for seq_len, plain, docs in bounds:  # with no other cost at all, context FIM at 0.5 could reach this
            print(f"ceiling for context 0.5 at {seq_len}: plain {plain:.1f} us / (plain + {docs:.2f} FIM docs x "
                  f"{enc:.1f} us) = {plain / (plain + docs * enc):.2f}x with nothing but the tokenizer calls; "
                  f"{plain / (plain + docs * bpe):.2f}x with the BPE model alone")
        if args.windows:
            print(f"\nre-encode window vs whole pieces, {args.windows} FIM'd documents:")
            for w, same, again in window_study(prefix, hf, args.windows):
                print(f"  {w:>2} tokens each side: {same:7.2%} of documents get the same ids; "
                      f"{again:6.1%} of the texts it encodes were encoded before")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
