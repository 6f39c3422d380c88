"""``codeja fim inspect``: run the FIM transform over N samples and report what it did, as one JSON object."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from codeja.fim.config import FIMConfig
from codeja.fim.transform import SampleStats


def binomial_interval(k: int, n: int, z: float = 3.0) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (z=3: about 99.7 %)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def inspect_fim(data: str | Path, tokenizer: Any, fim: FIMConfig, samples: int = 100, *, show: int = 0,
                epoch: int = 0) -> dict[str, Any]:
    """Statistics of ``samples`` FIM'd samples of the corpus at ``data`` (checks round trips and U+FFFD)."""
    # heavy: codeja.fim.dataset (torch) (kept out of `codeja --help` and light imports)
    from codeja.fim.dataset import FIMDataset

    ds = FIMDataset(data, tokenizer, fim, epoch=epoch)
    n = min(samples, len(ds))
    idx = np.sort(np.random.default_rng([fim.seed, 0xC0DE]).choice(len(ds), size=n, replace=False)) if n else []
    total = SampleStats()
    lengths: set[int] = set()
    truncated = padded = 0
    shown = []
    for k, i in enumerate(idx):
        s = ds.sample(int(i), check=True)
        total.add(s.stats)
        lengths.add(len(s.tokens))
        truncated += s.stats.truncated_tokens > 0
        padded += s.n_pad > 0
        if k < show:
            shown.append({"index": int(i), "text": ds.codec.render(s.tokens), "pad": s.n_pad})
    lo, hi = binomial_interval(total.fim_docs, total.docs)
    sent = ds.sentinels
    return {
        "samples": n,
        "docs": total.docs,
        "fim_docs": total.fim_docs,
        "fim_rate_observed": round(total.fim_docs / total.docs, 4) if total.docs else 0.0,
        "fim_rate_interval": [round(lo, 4), round(hi, 4)],
        "effective_fim_rate": round(total.effective_fim_docs / total.docs, 4) if total.docs else 0.0,
        "spm_fraction": round(total.spm_docs / total.fim_docs, 4) if total.fim_docs else 0.0,
        "truncated": truncated,
        "truncated_tokens": total.truncated_tokens,
        "padded": padded,
        "pad_tokens": total.padded,
        "skipped_docs": total.skipped_docs,
        "trimmed_bytes": total.trimmed_bytes,
        "replacement_chars": total.replacement_chars,
        "roundtrip_mismatches": total.roundtrip_mismatches,
        "lengths": sorted(lengths),
        "sentinels": {"convention": sent.convention, "prefix": sent.prefix_str, "middle": sent.middle_str,
                      "suffix": sent.suffix_str, "pad": sent.pad_str, "eod": sent.eod_str},
        "config": fim.model_dump(mode="json"),
        **({"shown": shown} if show else {}),
    }
