"""Text-shape checks: degenerate repetition, truncation, and removing code so prose can be judged alone."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from codeja.codeparse import extract_code_blocks

# One token per CJK character (Japanese has no spaces, so words are not available cheaply), words for Latin
# script and digits, one token per other symbol. Good enough to see a model looping.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]|[^\W_]+|[^\w\s]", re.UNICODE)
_INLINE_CODE = re.compile(r"`[^`\n]+`")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def repetition_score(text: str, n: int = 4) -> float:
    """Share of the text's ``n``-gram occurrences that repeat an earlier one: 0.0 (all distinct) to ~1.0 (a loop).

    Degenerate generations ("the the the", one line printed forty times) score above 0.6; ordinary prose scores
    under 0.1 and ordinary code under 0.35 (loops and repeated identifiers do recur).
    """
    toks = tokens(text)
    total = len(toks) - n + 1
    if total <= 1:
        return 0.0
    counts = Counter(tuple(toks[i:i + n]) for i in range(total))
    return 1.0 - len(counts) / total


def _unclosed_fence(text: str) -> bool:
    blocks = extract_code_blocks(text)
    if not blocks:
        return False
    last = blocks[-1]
    # extract_code_blocks runs an unclosed block to the end of the text; a closed one ends with its fence.
    tail = text[last.start:last.end].rstrip()
    opener = tail.split("\n", 1)[0].lstrip()
    fence_char = opener[0]
    return "\n" not in tail or not tail.rsplit("\n", 1)[1].strip().startswith(fence_char * 3)


def is_truncated(generation: Any, finish_reason: str | None = None) -> str | None:
    """Why ``generation`` looks cut off, or None.

    Accepts a :class:`codeja.backends.base.Generation` (or anything with ``text`` and ``finish_reason``) or a
    string plus ``finish_reason``. Reasons: the engine hit ``max_new_tokens``, or a code fence was never closed.
    """
    if isinstance(generation, str):
        text, reason = generation, finish_reason
    else:
        text, reason = generation.text, finish_reason or getattr(generation, "finish_reason", None)
    if reason == "length":
        return "hit max_new_tokens (finish_reason=length)"
    if _unclosed_fence(text):
        return "unclosed code fence"
    return None


def strip_code(text: str) -> str:
    """The prose of a markdown text: fenced blocks and inline code spans removed."""
    out, pos = [], 0
    for block in extract_code_blocks(text):
        out.append(text[pos:block.start])
        pos = block.end
    out.append(text[pos:])
    return _INLINE_CODE.sub(" ", "".join(out))
