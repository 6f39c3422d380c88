"""FIM sentinel tokens: a registry of the conventions real code models use, resolved against a tokenizer.

Continuing from a model that already learnt FIM means reusing its sentinels (Qwen2.5-Coder, StarCoder, Code Llama,
DeepSeek-Coder). A model without them gets StarCoder-style tokens added (``"add"``; resize the embeddings), or
reserved special tokens mapped onto the roles (Llama-3.1's ``<|reserved_special_token_N|>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codeja.errors import ConfigError


@dataclass(frozen=True)
class SentinelSpec:
    prefix: str
    middle: str
    suffix: str
    pad: str | None
    eod: tuple[str, ...]  # candidates for the document separator, first found wins
    eot: str | None = None  # a token closing the middle before the document separator (Code Llama's <EOT>)
    extra_stop: tuple[str, ...] = ()  # further tokens that end an infill at inference (file separators)


REGISTRY: dict[str, SentinelSpec] = {
    "starcoder": SentinelSpec("<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", ("<|endoftext|>",),
                              extra_stop=("<file_sep>",)),
    "qwen2.5-coder": SentinelSpec("<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                                  ("<|endoftext|>",), extra_stop=("<|file_sep|>", "<|repo_name|>")),
    "codellama": SentinelSpec("▁<PRE>", "▁<MID>", "▁<SUF>", None, ("</s>",), eot="▁<EOT>"),
    "deepseek-coder": SentinelSpec("<｜fim▁begin｜>", "<｜fim▁end｜>", "<｜fim▁hole｜>", None,
                                   ("<｜end▁of▁sentence｜>", "<|EOT|>")),
    # Llama-3.x has no FIM tokens; map the roles onto reserved special tokens (their embeddings are untrained).
    "llama3-reserved": SentinelSpec("<|reserved_special_token_2|>", "<|reserved_special_token_3|>",
                                    "<|reserved_special_token_4|>", "<|reserved_special_token_5|>",
                                    ("<|end_of_text|>",), extra_stop=("<|eot_id|>",)),
}
ADD_CONVENTION = "starcoder"  # what "add" adds
# generic document separators, tried when a convention's own candidates are missing
EOD_CANDIDATES = ("<|endoftext|>", "<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>", "<eos>")


@dataclass(frozen=True)
class Sentinels:
    """Resolved sentinel ids (and their strings) for one tokenizer."""

    convention: str
    prefix: int
    middle: int
    suffix: int
    pad: int
    eod: int
    prefix_str: str
    middle_str: str
    suffix_str: str
    pad_str: str
    eod_str: str
    eot: int | None = None
    eot_str: str | None = None
    stop_strs: tuple[str, ...] = ()

    @property
    def ids(self) -> set[int]:
        """Ids that must never occur in a raw corpus token stream (the prefix/middle/suffix sentinels)."""
        return {self.prefix, self.middle, self.suffix}

    def stop_tokens(self) -> list[str]:
        """Tokens (as vocabulary strings) that end an infill at inference: EOT/EOD, the pad, file separators,
        and the FIM sentinels themselves (a model that opens another FIM block has finished the middle)."""
        out = [s for s in (self.eot_str, self.eod_str, self.pad_str, *self.stop_strs, self.prefix_str,
                           self.suffix_str, self.middle_str) if s]
        return list(dict.fromkeys(out))


def _spellings(token: str) -> list[str]:
    """A token string and the forms it takes in decoded text: SentencePiece-style decoders turn the leading
    ``▁`` of Code Llama's ``▁<EOT>`` into a space, and drop it at the start of a text."""
    if not token.startswith("\u2581"):
        return [token]
    return [token, " " + token[1:], token[1:]]


def registry_stop_strings() -> tuple[str, ...]:
    """Every string that ends an infill or leaks a sentinel in any convention of :data:`REGISTRY`, in every
    spelling. For cutting text whose model is unknown (scoring samples from elsewhere); generation uses the
    model's own :func:`stop_strings`."""
    out: list[str] = []
    for spec in REGISTRY.values():
        for t in (spec.eot, *spec.eod, spec.pad, *spec.extra_stop, spec.prefix, spec.suffix, spec.middle):
            if t:
                out += _spellings(t)
    return tuple(dict.fromkeys(out))


def stop_strings(tokenizer: Any, sentinels: Sentinels) -> list[str]:
    """The strings that end an infill, as they appear in ``tokenizer``'s decoded text (stop strings are
    matched on decoded text): each stop token's vocabulary string, how it decodes after text, and alone."""
    out: list[str] = []
    head_ids = tokenizer.encode("x", add_special_tokens=False)
    head = tokenizer.decode(head_ids, skip_special_tokens=False)
    for token in sentinels.stop_tokens():
        out.append(token)
        tid = _tid(tokenizer, token)
        if tid is None:
            continue
        after = tokenizer.decode(head_ids + [tid], skip_special_tokens=False)
        in_text = after[len(head):] if after.startswith(head) else None
        out += [x for x in (in_text, tokenizer.decode([tid], skip_special_tokens=False)) if x and x.strip()]
    return list(dict.fromkeys(out))


def _tid(tokenizer: Any, token: str) -> int | None:
    """Id of ``token`` if it is a single token of the vocabulary (not its unk fallback)."""
    vocab = tokenizer.get_vocab()
    return vocab.get(token)


def resolve_eod(tokenizer: Any, token: str | None = None, candidates: tuple[str, ...] = ()) -> tuple[int, str]:
    """The document separator: ``token`` if given, else a known end-of-text token, else the EOS."""
    if token is not None:
        i = _tid(tokenizer, token)
        if i is None:
            raise ConfigError(f"eod_token '{token}' is not a token of "
                              f"{getattr(tokenizer, 'name_or_path', 'the tokenizer')}")
        return i, token
    for cand in (*candidates, *EOD_CANDIDATES):
        i = _tid(tokenizer, cand)
        if i is not None:
            return i, cand
    eos = getattr(tokenizer, "eos_token", None)
    if eos is not None and _tid(tokenizer, eos) is not None:
        return _tid(tokenizer, eos), eos
    raise ConfigError(f"{getattr(tokenizer, 'name_or_path', 'tokenizer')}: no end-of-document token found; "
                      "set eod_token")


def add_fim_tokens(tokenizer: Any, convention: str = ADD_CONVENTION) -> list[str]:
    """Add a convention's sentinels as special tokens (in place); returns the ones that were new.

    The model's input embeddings must be resized to ``len(tokenizer)`` afterwards.
    """
    # heavy: tokenizers (kept out of `codeja --help` and light imports)
    from tokenizers import AddedToken

    spec = REGISTRY[convention]
    wanted = [t for t in (spec.prefix, spec.middle, spec.suffix, spec.pad) if t]
    new = [t for t in wanted if _tid(tokenizer, t) is None]
    if new:
        tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in new], special_tokens=True)
    return new


def resolve_sentinels(tokenizer: Any, convention: str = "auto", *, eod: int | None = None) -> Sentinels:
    """Find the FIM sentinels of ``tokenizer``.

    ``convention``: ``auto`` (the first registry entry whose prefix/middle/suffix all exist), a registry name, or
    ``add`` (add StarCoder-style tokens to the tokenizer in place when missing). ``eod`` overrides the document
    separator (use the one the corpus was tokenized with).
    """
    if convention == "add":
        add_fim_tokens(tokenizer)
        convention = ADD_CONVENTION
    if convention == "auto":
        names = list(REGISTRY)
    elif convention in REGISTRY:
        names = [convention]
    else:
        raise ConfigError(f"sentinels: unknown convention '{convention}'; known: auto, add, {', '.join(REGISTRY)}")
    name_or_path = getattr(tokenizer, "name_or_path", "the tokenizer")
    for name in names:
        spec = REGISTRY[name]
        ids = [_tid(tokenizer, t) for t in (spec.prefix, spec.middle, spec.suffix)]
        if any(i is None for i in ids):
            continue
        if eod is None:
            eod_id, eod_str = resolve_eod(tokenizer, candidates=spec.eod)
        else:
            eod_id, eod_str = eod, tokenizer.convert_ids_to_tokens(int(eod))
        pad_id = _tid(tokenizer, spec.pad) if spec.pad else None
        pad_str = spec.pad if pad_id is not None else eod_str
        eot_id = _tid(tokenizer, spec.eot) if spec.eot else None
        stops = tuple(s for s in spec.extra_stop if _tid(tokenizer, s) is not None)
        return Sentinels(
            convention=name, prefix=ids[0], middle=ids[1], suffix=ids[2],
            pad=pad_id if pad_id is not None else eod_id, eod=eod_id,
            prefix_str=spec.prefix, middle_str=spec.middle, suffix_str=spec.suffix, pad_str=pad_str, eod_str=eod_str,
            eot=eot_id, eot_str=spec.eot if eot_id is not None else None, stop_strs=stops,
        )
    tried = ", ".join(names)
    raise ConfigError(f"{name_or_path}: no FIM sentinel tokens found (tried: {tried}); use sentinels='add' to add "
                      "<fim_prefix>/<fim_middle>/<fim_suffix>/<fim_pad> and resize the model's embeddings")
