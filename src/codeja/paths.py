"""Where things live: the user cache (CODEJA_HOME) and the offline benchmark data (shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

from codeja.errors import CodejaError

REPO_ROOT = Path(__file__).resolve().parents[2]  # meaningful for an editable/source checkout only


def codeja_home() -> Path:
    """User cache for materialised models and downloads: $CODEJA_HOME, default ~/.cache/codeja."""
    return Path(os.environ.get("CODEJA_HOME") or Path.home() / ".cache" / "codeja")


def shared_data(required: bool = True) -> Path | None:
    """The offline benchmark files: $CODEJA_SHARED_DATA, else ``../shared/data`` beside the checkout."""
    env = os.environ.get("CODEJA_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for c in candidates:
        if (c / "benchmarks").is_dir():
            return c
    if required:
        raise CodejaError(
            "offline benchmark data not found: set CODEJA_SHARED_DATA to the folder holding benchmarks/ "
            f"(looked in: {', '.join(map(str, candidates))})"
        )
    return None
