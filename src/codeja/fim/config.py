"""Configs of the tokenize stage and of the FIM transform.

``TokenizeConfig`` turns documents into a Megatron indexed dataset; ``FIMConfig`` says how packed training contexts
are built from it and how Fill-in-the-Middle is applied at load time (Bavarian et al. 2022). Both are
:class:`~codeja.config.StrictModel`: unknown keys are an error and every default works.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, model_validator

from codeja.config import StrictModel


class FIMConfig(StrictModel):
    """How training samples are packed and Fill-in-the-Middle is applied (one transform for every dataset class)."""

    mode: Literal["context", "document", "off"] = Field(
        "context",
        description="context: FIM applied to each document of an already packed context (the paper's choice, "
        "higher effective rate); document: each whole document is FIM'd before packing; off: plain packing.",
    )
    fim_rate: float = Field(0.5, ge=0.0, le=1.0, description="Probability that a document (segment) is FIM'd. "
                            "The paper finds 0.5-0.9 free for left-to-right quality; 1.0 hurts it.")
    spm_rate: float = Field(0.5, ge=0.0, le=1.0, description="Probability that a FIM'd document uses SPM instead of "
                            "PSM (joint training: 0.5). Independent of fim_rate; 0 gives pure PSM.")
    spm_variant: Literal["v2", "v1"] = Field(
        "v2",
        description="v2 (paper App. D, used by StarCoder/Megatron): <PRE><SUF>suffix<MID>prefix middle; "
        "v1: <SUF>suffix<PRE>prefix<MID>middle.",
    )
    sentinels: str = Field(
        "auto",
        description="Sentinel tokens: 'auto' (first registered convention the tokenizer has), a registry name "
        "(starcoder, qwen2.5-coder, codellama, deepseek-coder, llama3-reserved) or 'add' (add StarCoder-style "
        "special tokens to the tokenizer; the model's embeddings must then be resized).",
    )
    seq_len: int = Field(2048, ge=8, description="Tokens per training sample (input_ids length).")
    read_margin: int = Field(
        64, ge=0,
        description="Extra tokens read past the end of each context so that a transform which shortens it "
        "(trimmed UTF-8 fragments, merges at cuts) rarely needs padding.",
    )
    reencode_window: int = Field(
        1, ge=0,
        description="Re-encode only this many tokens on each side of a cut, widened to the nearest word starts "
        "(whitespace after non-whitespace, at most 64 tokens further) and character boundaries, and keep the corpus "
        "tokens elsewhere; 0 re-encodes the whole prefix/middle/suffix like the paper's pseudocode (slower). Both are "
        "byte-exact; measured with 1-16 tokens, 100 % of FIM'd documents get the same ids as whole-piece "
        "re-encoding (code and Japanese with byte-level BPE: `python benchmarks/bench_fim.py --windows 3000`; "
        "also with Llama-3's and Qwen2.5's pre-tokenizer regexes and SentencePiece).",
    )
    min_doc_chars: int = Field(1, ge=0, description="Documents (segments) with fewer characters are never FIM'd.")
    fragment_separator: str | None = Field(
        None,
        description="Token (e.g. '<file_sep>' or '<|file_sep|>') that splits a document into files; when set, each "
        "fragment is FIM'd independently with fragment_rate (StarCoder2 file-level FIM).",
    )
    fragment_rate: float | None = Field(
        None, ge=0.0, le=1.0, description="FIM rate per fragment when fragment_separator is set (default: fim_rate).",
    )
    shuffle_docs: bool = Field(
        True, description="Shuffle the document order per epoch before packing (permutation from (seed, epoch)).",
    )
    seed: int = Field(0, ge=0, description="Seed; every random choice derives from (seed, epoch, sample index).")

    @model_validator(mode="after")
    def _check(self) -> FIMConfig:
        if self.fragment_rate is not None and self.fragment_separator is None:
            raise ValueError("fragment_rate needs fragment_separator")
        return self

    @property
    def effective_fragment_rate(self) -> float:
        return self.fim_rate if self.fragment_rate is None else self.fragment_rate


class FIMBlendConfig(StrictModel):
    """FIM settings of a blend of corpora (Megatron's ``--data-path w1 p1 w2 p2``): one FIMConfig per prefix.

    Written by ``codeja train cpt --engine megatron`` as ``fim.yaml`` when the sources' FIM settings differ, and read
    by the dataset provider, which gives each corpus of the blend its own settings by its prefix.
    """

    default: FIMConfig = Field(default_factory=FIMConfig, description="FIM of any prefix not listed in by_prefix.")
    by_prefix: dict[str, FIMConfig] = Field(
        default_factory=dict, description="Corpus prefix, exactly as given to --data-path -> its FIM settings.",
    )

    def for_prefix(self, prefix: str | None) -> FIMConfig:
        """The settings of ``prefix`` (matched as written, then as a resolved path)."""
        if prefix is None:
            return self.default
        if prefix in self.by_prefix:
            return self.by_prefix[prefix]

        real = os.path.realpath(prefix)
        for key, cfg in self.by_prefix.items():
            if os.path.realpath(key) == real:
                return cfg
        return self.default

    def all(self) -> list[FIMConfig]:
        return [self.default, *self.by_prefix.values()]


class TokenizeConfig(StrictModel):
    """Documents (JSONL / Parquet with ``id`` and ``text``, or chats under ``messages``) to a Megatron indexed
    dataset (.bin/.idx + sidecar)."""

    input: str = Field(..., description="A JSONL(.gz) or Parquet file, or a folder of them "
                       "(e.g. a curate run's kept/).")
    model: str = Field(..., description="Model or tokenizer: a local folder, hub id, or a codeja alias (e.g. tiny).")
    text_field: str = Field("text", description="Field holding the document text.")
    messages_field: str = Field(
        "messages",
        description="Field holding a chat ([{role, content}, ...], as written by SFT data and `codeja synth magpie`); "
        "a row without text_field but with this field is rendered to text by messages_render.",
    )
    messages_render: Literal["plain", "chat_template"] = Field(
        "plain",
        description="How a chat becomes a pretraining document. plain: each turn as '<label>: <content>', turns "
        "separated by a blank line, the system turn first without a label (plain_labels), and no special token "
        "of the tokenizer anywhere; chat_template: the tokenizer's own chat template, its special tokens encoded "
        "as their ids. Either way a turn whose content contains a special-token string is quarantined.",
    )
    plain_labels: dict[str, str] = Field(
        default_factory=lambda: {"system": "", "user": "Question", "assistant": "Answer"},
        description="messages_render=plain: the label put before each role's turns ('' = the content alone), "
        "e.g. {user: 質問, assistant: 回答}.",
    )
    id_field: str = Field("id", description="Field holding the document id (recorded for quarantined rows).")
    eod_token: str | None = Field(
        None, description="Token appended after every document; default: <|endoftext|>-like token or the EOS.",
    )
    workers: int = Field(1, ge=1, description="Processes tokenizing shards in parallel (output is identical).")
    docs_per_shard: int = Field(
        50_000, ge=1, description="Documents per work unit; a unit is the resume granularity.",
    )
    batch_size: int = Field(256, ge=1, description="Documents encoded per tokenizer call.")
    max_quarantine_fraction: float = Field(
        1.0, ge=0.0, le=1.0, description="Fail the run if more than this fraction of rows is quarantined.",
    )

    @model_validator(mode="after")
    def _check_labels(self) -> TokenizeConfig:
        unknown = sorted(set(self.plain_labels) - {"system", "user", "assistant"})
        if unknown:
            raise ValueError(f"plain_labels: unknown role '{unknown[0]}' (roles: system, user, assistant)")
        return self
