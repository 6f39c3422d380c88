"""Adapters for stage functions whose natural signature is not ``(config, output_dir) -> dict``."""

from __future__ import annotations

from pathlib import Path


def tokenize(cfg, output_dir: Path) -> dict:
    """``codeja tokenize`` writes an indexed dataset at a prefix; in a run it is ``<stage dir>/corpus``."""
    from codeja.fim.tokenize import tokenize_corpus

    prefix = Path(output_dir) / "corpus"
    summary = dict(tokenize_corpus(cfg, prefix) or {})
    summary.setdefault("prefix", str(prefix))
    return summary
