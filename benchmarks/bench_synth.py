"""Magpie stage speed: the cheap paths we chose against the obvious baselines, measured in the same run.

    .venv/bin/python benchmarks/bench_synth.py [--quick]

1. Instruction language: script ratios + an English function-word cue, lingua only for ambiguous Latin text
   (codeja.quality) vs lingua on every text (10 candidate languages, models preloaded).
2. Near-duplicate instructions: MinHash + LSH over character 5-grams (codeja.synth.dedup) vs exact pairwise
   Jaccard over the same 5-gram sets; also reports whether both flag the same rows.
3. The whole filter chain (codeja.synth.filters) on generated-looking rows: rows/s, no baseline.

Medians of several repeats; the machine is shared, so read the ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from codeja.quality import detect_instruction_language
from codeja.synth.config import FilterConfig
from codeja.synth.dedup import InstructionDeduplicator, char_ngrams
from codeja.synth.filters import build_filters, judge

EN = ["How do I reverse a linked list in {l} without recursion?", "Write a {l} function that parses a CSV line.",
      "Why does this {l} code throw an exception when the list is empty?", "Explain what this {l} snippet does."]
JA = ["{l}で連結リストを再帰なしで反転するにはどうすればよいですか？", "CSVの1行を解析する{l}の関数を書いてください。",
      "リストが空のときにこの{l}のコードが例外を投げるのはなぜですか？",
      "この{l}のコードが何をしているか説明してください。"]
FR = ["Comment inverser une liste chaînée en {l} sans récursion ?", "Écrivez une fonction {l} qui analyse une ligne."]
LANGS = ["Python", "Go", "Rust", "Java", "TypeScript"]


def corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pools = [EN] * 5 + [JA] * 4 + [FR]
    return [rng.choice(rng.choice(pools)).format(l=rng.choice(LANGS)) + f" (case {i}: {rng.randint(0, 10**6)})"
            for i in range(n)]


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def lingua_all():
    from lingua import Language, LanguageDetectorBuilder

    langs = [Language.ENGLISH, Language.JAPANESE, Language.FRENCH, Language.GERMAN, Language.SPANISH,
             Language.PORTUGUESE, Language.ITALIAN, Language.DUTCH, Language.CHINESE, Language.KOREAN]
    return LanguageDetectorBuilder.from_languages(*langs).with_preloaded_language_models().build()


def pairwise_dups(texts: list[str], threshold: float, n: int) -> set[int]:
    grams = [char_ngrams(t, n) for t in texts]
    kept: list[int] = []
    dups = set()
    for i, g in enumerate(grams):
        if any(len(g & grams[k]) / max(len(g | grams[k]), 1) >= threshold for k in kept):
            dups.add(i)
        else:
            kept.append(i)
    return dups


def lsh_dups(texts: list[str], threshold: float, n: int) -> set[int]:
    d = InstructionDeduplicator(threshold=threshold, ngram=n)
    return {i for i, t in enumerate(texts) if d.check(i, t)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats (under a minute)")
    args = ap.parse_args()
    n_lang, n_dup, repeats = (600, 400, 3) if args.quick else (3000, 1500, 5)
    rows = []

    texts = corpus(n_lang)
    detect_instruction_language("warm up the lingua fallback: bonjour tout le monde")
    det = lingua_all()
    ours = timed(lambda: [detect_instruction_language(t) for t in texts], repeats)
    base = timed(lambda: [det.detect_language_of(t) for t in texts], repeats)
    rows.append((f"instruction language, {n_lang} texts", base, ours))

    # near-duplicates: every 5th text repeats an earlier one with a small edit
    dtexts = corpus(n_dup, seed=1)
    for i in range(0, n_dup, 5):
        if i:
            dtexts[i] = dtexts[i - 3] + "!"
    lsh_dups(dtexts[:2], 0.8, 5)  # import datasketch (and scipy) outside the timing
    ours = timed(lambda: lsh_dups(dtexts, 0.8, 5), repeats)
    base = timed(lambda: pairwise_dups(dtexts, 0.8, 5), max(1, repeats // 2))
    flagged_lsh, flagged_exact = lsh_dups(dtexts, 0.8, 5), pairwise_dups(dtexts, 0.8, 5)
    rows.append((f"near-dup, {n_dup} instructions", base, ours))
    note = (f"near-dup rows flagged: MinHash-LSH {len(flagged_lsh)}, exact Jaccard {len(flagged_exact)}, "
            f"both {len(flagged_lsh & flagged_exact)} (MinHash estimates Jaccard; short templated texts sit near "
            "the threshold)")

    ins, res = build_filters(FilterConfig())
    code = "```go\npackage main\n\nfunc add(a, b int) int {\n\treturn a + b\n}\n```"
    frows = [{"row": i,
              "spec": {"language": "go", "task_type": "fix", "instruction_lang": "ja", "target_language": None},
              "messages": [{"role": "user", "content": t + "\n" + code},
                           {"role": "assistant", "content": "修正しました。\n" + code}],
              "gens": [{"role": "user", "finish_reason": "stop"}, {"role": "assistant", "finish_reason": "stop"}]}
             for i, t in enumerate(corpus(n_dup, seed=2))]
    chain = timed(lambda: [judge(r, ins + res) for r in frows], repeats)

    print(f"{'benchmark':<62} {'baseline s':>11} {'codeja s':>10} {'speed-up':>9}")
    for name, b, o in rows:
        print(f"{name:<62} {b:>11.3f} {o:>10.3f} {b / o:>8.1f}x")
    print(note)
    print(f"{f'filter chain, {n_dup} rows (rows/s: {n_dup / chain:,.0f})':<62} {'-':>11} {chain:>10.3f} {'-':>9}")


if __name__ == "__main__":
    main()
