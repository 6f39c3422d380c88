"""Inference-time FIM prompts in exactly the training layout (used by the infilling benchmarks).

Training (see :mod:`codeja.fim.transform`) writes ``<PRE> P <SUF> S <MID> M <EOD>`` (PSM) or, SPM variant 2,
``<PRE> <SUF> S <MID> P M <EOD>``; the model infills by continuing after the prompt until it emits the EOD (or
EOT / pad / a file separator: :func:`fim_stop_tokens`).

:func:`build_fim_prompt` returns text for generation backends that take strings: they must tokenize it with
special tokens parsed and without adding BOS (the sentinels are special tokens; a literal sentinel string inside
the user's code would be parsed too, which is why :func:`build_fim_prompt_ids` exists: it encodes each piece the
way the corpus was encoded and never parses sentinels out of code).
"""

from __future__ import annotations

from typing import Any, Literal

from codeja.fim.codec import TokenCodec
from codeja.fim.sentinels import Sentinels, resolve_sentinels, stop_strings


def _sentinels(tokenizer: Any, sentinels: Sentinels | str | None) -> Sentinels:
    if isinstance(sentinels, Sentinels):
        return sentinels
    return resolve_sentinels(tokenizer, sentinels or "auto")


def build_fim_prompt(tokenizer: Any, prefix: str, suffix: str, mode: Literal["psm", "spm"] = "psm", *,
                     spm_variant: Literal["v2", "v1"] = "v2", sentinels: Sentinels | str | None = None,
                     eod_first: bool = False) -> str:
    """The FIM prompt as text: PSM ``<PRE>prefix<SUF>suffix<MID>``; SPM v2 ``<PRE><SUF>suffix<MID>prefix``.

    ``eod_first`` puts an EOD in front (the paper's evaluations do; it slightly helps).
    """
    s = _sentinels(tokenizer, sentinels)
    lead = s.eod_str if eod_first else ""
    if mode == "psm":
        return f"{lead}{s.prefix_str}{prefix}{s.suffix_str}{suffix}{s.middle_str}"
    if mode != "spm":
        raise ValueError(f"mode must be 'psm' or 'spm', got {mode!r}")
    if spm_variant == "v2":
        return f"{lead}{s.prefix_str}{s.suffix_str}{suffix}{s.middle_str}{prefix}"
    return f"{lead}{s.suffix_str}{suffix}{s.prefix_str}{prefix}{s.middle_str}"


def build_fim_prompt_ids(tokenizer: Any, prefix: str, suffix: str, mode: Literal["psm", "spm"] = "psm", *,
                         spm_variant: Literal["v2", "v1"] = "v2", sentinels: Sentinels | str | None = None,
                         eod_first: bool = False, codec: Any = None) -> list[int]:
    """The FIM prompt as token ids, pieces encoded exactly like the training corpus (no BOS, no dummy prefix)."""
    s = _sentinels(tokenizer, sentinels)
    codec = codec or TokenCodec(tokenizer)
    pre, suf = codec.encode_batch([prefix, suffix])
    lead = [s.eod] if eod_first else []
    if mode == "psm":
        return [*lead, s.prefix, *pre, s.suffix, *suf, s.middle]
    if mode != "spm":
        raise ValueError(f"mode must be 'psm' or 'spm', got {mode!r}")
    if spm_variant == "v2":
        return [*lead, s.prefix, s.suffix, *suf, s.middle, *pre]
    return [*lead, s.suffix, *suf, s.prefix, *pre, s.middle]


def fim_stop_tokens(tokenizer: Any, sentinels: Sentinels | str | None = None) -> list[str]:
    """Strings that end an infill: EOT/EOD, the FIM pad, file separators and sentinels of the model's
    convention, in each spelling its tokenizer decodes them to (:func:`codeja.fim.sentinels.stop_strings`)."""
    return stop_strings(tokenizer, _sentinels(tokenizer, sentinels))
