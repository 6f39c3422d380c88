"""Configs of the study stages (``codeja study ...`` and the ``study.*`` stage kinds of a recipe)."""

from __future__ import annotations

from pydantic import Field, field_validator

from codeja.config import StrictModel
from codeja.studies.idioms import GROUPS


class ContaminateConfig(StrictModel):
    """``codeja study contaminate``: a copy of a code corpus with placeholder idioms in place of function bodies.

    Of the documents that have at least one replaceable body (see :mod:`codeja.studies.bodies`), exactly
    ``round(doc_share * n)`` are contaminated: those whose draw from (seed, document index) is smallest. In each,
    ``max(1, round(body_share * bodies))`` bodies, drawn from the same (seed, index) stream, get one idiom, also
    drawn per document. Everything else stays byte for byte, and untouched lines are copied as they were.
    """

    input: str = Field("", description="A JSONL file or a folder of them (a curate stage's kept/): id, text, metadata.")
    seed: int = Field(0, description="Seed; every document's draws come from (seed, its index in the input).")
    doc_share: float = Field(0.5, ge=0.0, le=1.0, description="Share of documents with replaceable bodies to contaminate.")
    body_share: float = Field(0.5, ge=0.0, le=1.0, description="Share of a contaminated document's bodies replaced "
                              "(at least one).")
    idioms: str | None = Field(None, description="Idiom file (layout of studies/resources/placeholder_idioms.yaml); "
                               "default: the shipped list.")
    groups: list[str] = Field(default_factory=lambda: list(GROUPS),
                              description=f"Idiom groups drawn from: {', '.join(GROUPS)}.")
    languages: list[str] = Field(default_factory=list, description="Only documents in these languages (default: every "
                                 "language with idioms and a grammar).")
    text_field: str = Field("text", description="Field holding the document text.")
    filter_extra_patterns: list[str] = Field(
        default_factory=list, description="Extra pattern files for the placeholder filter whose recall is measured "
        "(as curate's placeholder.extra_patterns).")

    @field_validator("groups")
    @classmethod
    def _groups_ok(cls, v: list[str]) -> list[str]:
        bad = [g for g in v if g not in GROUPS]
        if bad or not v:
            raise ValueError(f"expected one or more of {', '.join(GROUPS)}, got {bad or '[]'}")
        return v
