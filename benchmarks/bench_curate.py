"""Curation throughput, characters per second on one core, each chain against datatrove's built-in equivalent.

    .venv/bin/python benchmarks/bench_curate.py            # full
    .venv/bin/python benchmarks/bench_curate.py --quick    # < ~60 s

Rows (all single-process, timed in CPU seconds of this process, so chars/s == chars/s/core and a busy shared
machine does not distort the ratios; median of --repeats runs):
* placeholder filter alone, on CPython stdlib files (target >= 5M chars/s/core);
* code chain: ours (StarCoder2 heuristics + parse check + placeholder) vs datatrove's English web chain
  (GopherRepetition + FineWebQuality + GopherQuality), the only built-in quality chain it has;
* Japanese chain: ours (lingua language ID + Swallow rules + NG words + placeholder, character based) vs FineWeb-2's
  Japanese config (jpn_Jpan thresholds) with datatrove's default ``jpn`` word tokenizer (spaCy + SudachiPy), on the
  shipped Japanese web sample (target: ours >= 3x);
* MinHash signatures: char-n-gram tokenizer vs datatrove's default ``jpn`` tokenizer, on the same Japanese docs.

The Japanese baseline needs spaCy and Sudachi: ``pip install 'spacy>=3.8,<4' 'sudachipy>=0.6' sudachidict-core``
(the ``curate-bench`` extra). Without them the script stops and says so: it never reports a row it did not measure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import sysconfig
import time
from importlib import resources
from pathlib import Path

from datatrove.data import Document


def stdlib_docs(limit: int) -> list[Document]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py"))[:limit]
    return [Document(text=p.read_text("utf-8", "replace"), id=p.name, metadata={"domain": "code", "language": "python"})
            for p in files]


def ja_docs(n: int) -> list[Document]:
    text = resources.files("codeja.curate").joinpath("resources/ja_web_sample.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines()]
    docs = []
    for i in range(n):
        r = rows[i % len(rows)]
        docs.append(Document(text=r["text"], id=f"{r['id']}-{i}", metadata={"domain": "text"}))
    return docs


def chain_rate(steps, docs: list[Document], repeats: int) -> tuple[float, int]:
    """Median chars/s of running the filters in order over fresh copies of docs; also the kept count."""
    chars = sum(len(d.text) for d in docs)
    rates, kept = [], 0
    for _ in range(repeats):
        batch = [Document(text=d.text, id=d.id, metadata=dict(d.metadata)) for d in docs]
        t0 = time.process_time()
        kept = 0
        for d in batch:
            ok = True
            for s in steps:
                res = s(d)
                if res is not True:
                    ok = False
                    break
            kept += ok
        rates.append(chars / max(time.process_time() - t0, 1e-9))
    return statistics.median(rates), kept


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small inputs, finishes in under a minute")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    n_code, n_ja = (60, 120) if args.quick else (250, 600)

    try:
        import spacy  # noqa: F401
        import sudachipy  # noqa: F401
    except ImportError:
        print("error: the Japanese baseline needs spaCy + Sudachi: pip install 'spacy>=3.8,<4' 'sudachipy>=0.6' "
              "sudachidict-core  (or: pip install -e '.[curate-bench]')", file=sys.stderr)
        return 2

    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
    from datatrove.utils.hashing import HashConfig

    from codeja.curate.config import (
        CodeHeuristicsConfig,
        JapaneseConfig,
        LanguageIdConfig,
        LintConfig,
        PlaceholderConfig,
    )
    from codeja.curate.filters import (
        CodeHeuristicsFilter,
        JapaneseQualityFilter,
        LanguageIdFilter,
        LintFilter,
        PlaceholderFilter,
    )
    from codeja.curate.japanese import CharNgramTokenizer
    from codeja.quality.placeholder import find_placeholder

    code, ja = stdlib_docs(n_code), ja_docs(n_ja)
    rows: list[tuple[str, str, float, float | None, str]] = []

    # placeholder alone
    ph_rate, _ = chain_rate([lambda d: find_placeholder(d.text) is None], code, repeats)
    rows.append(("placeholder filter", "find_placeholder", ph_rate, None, f"{len(code)} stdlib files"))

    # code chain vs datatrove's built-in (English web) chain
    ours_code = [CodeHeuristicsFilter(CodeHeuristicsConfig()).filter, LintFilter(LintConfig()).filter,
                 PlaceholderFilter(PlaceholderConfig()).filter]
    base_code = [GopherRepetitionFilter().filter, FineWebQualityFilter().filter, GopherQualityFilter().filter]
    oc, kc = chain_rate(ours_code, code, repeats)
    bc, kb = chain_rate(base_code, code, repeats)
    rows.append(("code chain", "datatrove Gopher+FineWeb (eng)", bc, None, f"kept {kb}/{len(code)}"))
    rows.append(("code chain", "codeja heuristics+parse+placeholder", oc, oc / bc, f"kept {kc}/{len(code)}"))

    # Japanese chain vs FineWeb-2 jpn_Jpan with the default tokenizer
    jpn = "jpn"
    stop = ["の", "に", "を", "は", "た", "て", "が", "と", "で", "年", "し", "・", "月", "れ", "さ"]
    base_ja = [
        GopherRepetitionFilter(dup_line_frac=0.328, dup_para_frac=0, dup_line_char_frac=0, dup_para_char_frac=0,
                               top_n_grams=((2, 0.239), (3, 0.196), (4, 0.172)),
                               dup_n_grams=((5, 0.243), (6, 0.225), (7, 0.207), (8, 0.19), (9, 0.175), (10, 0.159)),
                               language=jpn).filter,
        FineWebQualityFilter(line_punct_thr=0.096, short_line_thr=999, char_duplicates_ratio=0.1, new_line_ratio=0.13,
                             language=jpn).filter,
        GopherQualityFilter(max_avg_word_length=6, min_avg_word_length=1, max_non_alpha_words_ratio=0.759,
                            stop_words=stop, min_stop_words=2, language=jpn).filter,
    ]
    langid = LanguageIdFilter(LanguageIdConfig())
    langid.filter(ja[0])  # build lingua's models outside the timed loop, as the baseline's spaCy load is
    base_ja[0](Document(text=ja[0].text, id="warm"))
    ours_ja = [langid.filter, JapaneseQualityFilter(JapaneseConfig()).filter,
               PlaceholderFilter(PlaceholderConfig()).filter]
    bj, kbj = chain_rate(base_ja, ja, max(1, repeats - 2))
    oj, koj = chain_rate(ours_ja, ja, repeats)
    rows.append(("japanese chain", "FineWeb-2 jpn (spaCy+Sudachi)", bj, None, f"kept {kbj}/{len(ja)}"))
    rows.append(("japanese chain", "codeja langid+Swallow+NG+placeholder", oj, oj / bj, f"kept {koj}/{len(ja)}"))

    # MinHash signatures (shingling is where the tokenizer cost goes)
    mcfg = MinhashConfig(hash_config=HashConfig(precision=64, hash_fc="sha1"))
    sig_base = MinhashDedupSignature("/tmp/unused-sigs", mcfg, language=jpn)
    sig_ours = MinhashDedupSignature("/tmp/unused-sigs", mcfg, language=CharNgramTokenizer())
    mb, _ = chain_rate([lambda d: sig_base.get_signature(sig_base.get_shingles(d.text)) and True],
                       ja[: max(40, n_ja // 3)], 1)
    mo, _ = chain_rate([lambda d: sig_ours.get_signature(sig_ours.get_shingles(d.text)) and True],
                       ja[: max(40, n_ja // 3)], repeats)
    rows.append(("minhash signature", "datatrove jpn tokenizer", mb, None, ""))
    rows.append(("minhash signature", "codeja CharNgramTokenizer", mo, mo / mb, ""))

    print(f"\ncuration throughput, chars per CPU-second (one core), median of {repeats} runs "
          f"({'quick' if args.quick else 'full'})\n")
    print(f"{'chain':<20} {'implementation':<40} {'Mchars/s/core':>14} {'vs baseline':>12}  notes")
    print("-" * 108)
    for chain, impl, rate, ratio, note in rows:
        print(f"{chain:<20} {impl:<40} {rate / 1e6:>14.3f} {f'{ratio:.1f}x' if ratio else 'baseline':>12}  {note}")
    print()
    ok_ph = ph_rate >= 5e6
    ok_ja = oj / bj >= 3
    print(f"targets: placeholder >= 5M chars/s/core: {'met' if ok_ph else 'NOT met'} ({ph_rate / 1e6:.1f}M); "
          f"japanese chain >= 3x baseline: {'met' if ok_ja else 'NOT met'} ({oj / bj:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
