"""Where things live: the user cache (CODEJA_HOME) and the benchmark data shipped inside the package."""

from __future__ import annotations

import os
from pathlib import Path

from codeja.errors import CodejaError

# The benchmark data is package data (src/codeja/evaluate/data, README.md and PROVENANCE.json there), so an
# installed wheel and a bare clone both have it; nothing at run time reads a folder beside the checkout.
BENCHMARK_DATA = Path(__file__).resolve().parent / "evaluate" / "data"


def codeja_home() -> Path:
    """User cache for materialised models and downloads: $CODEJA_HOME, default ~/.cache/codeja."""
    return Path(os.environ.get("CODEJA_HOME") or Path.home() / ".cache" / "codeja")


def benchmark_file(relpath: str) -> Path:
    """A file of the packaged benchmark data, e.g. ``benchmark_file("jhumaneval/jhuman-eval.jsonl.gz")``."""
    p = BENCHMARK_DATA / relpath
    if not p.is_file():
        raise CodejaError(f"packaged benchmark file missing: {relpath} (looked in {BENCHMARK_DATA}); the "
                          "codeja installation is incomplete: reinstall it, or check it with "
                          "scripts/vendor_benchmarks.py --check")
    return p
