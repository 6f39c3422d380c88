"""Sanitizers by name: ``get_sanitizer("codeja")`` / ``"codeja@2"``, ``none``, ``bigcode``, ``evalplus``.

Every result records ``sanitizer.id`` (``name@version``); a changed algorithm gets a new version, never a silent
edit, so two results with the same id were post-processed identically.
"""

from __future__ import annotations

from codeja.errors import ConfigError
from codeja.evaluate.sanitize.base import NoSanitizer, Sanitized, Sanitizer
from codeja.evaluate.sanitize.bigcode import BigcodeSanitizer
from codeja.evaluate.sanitize.codeja import CodejaSanitizer
from codeja.evaluate.sanitize.evalplus import EvalPlusSanitizer

SANITIZERS: dict[str, type[Sanitizer]] = {c.name: c for c in (NoSanitizer, BigcodeSanitizer, EvalPlusSanitizer,
                                                              CodejaSanitizer)}
__all__ = ["SANITIZERS", "Sanitized", "Sanitizer", "get_sanitizer", "sanitizer_names"]


def sanitizer_names() -> list[str]:
    return list(SANITIZERS)


def get_sanitizer(name: str) -> Sanitizer:
    base, _, version = name.partition("@")
    cls = SANITIZERS.get(base)
    if cls is None:
        known = ", ".join(f"{c.name}@{c.version}" for c in SANITIZERS.values())
        raise ConfigError(f"unknown sanitizer '{name}'; known: {known}")
    if version and version != cls.version:
        raise ConfigError(f"sanitizer {name}: this codeja has {cls.name}@{cls.version} only")
    return cls()
