"""Refusals: the assistant declines instead of answering. English and Japanese phrasings.

Only the opening of a response is searched: a refusal comes first, while the same words deep inside an answer
("you cannot call this twice") are ordinary content.
"""

from __future__ import annotations

import re

# The one refusal window for every stage (the Magpie and preference filters, evaluation's refusal_rate, which
# used to search 400 characters with a looser pattern, so its figures and the filters disagreed). 300
# characters hold an apology plus the declining sentence in English or Japanese; a longer window only adds
# answers that mention what cannot be done while doing it. Kept at the filters' value so the data they keep
# does not change.
HEAD_CHARS = 300

_EN = [
    r"\bI(?:'m| am) (?:sorry|afraid),? but I (?:can(?:no|')t|am unable to|won't|will not)\b",
    (r"\bI (?:cannot|can't|can not|won't|will not|am unable to|am not able to) (?:help|assist|provide|comply|"
    r"fulfil+|complete|write|do that|answer|support)\b"),
    r"\bI(?:'m| am) (?:unable|not able) to (?:help|assist|provide|comply|fulfil+|complete|write|answer)\b",
    r"\bAs an AI(?: language model)?,? I (?:cannot|can't|don't|do not|am not)\b",
    r"\b(?:this|that) request (?:goes against|violates)\b",
]
_JA = [
    r"申し訳(?:ありません|ございません)が[、,]?.{0,40}(?:できません|いたしかねます|できかねます|お答えでき|お手伝いでき|対応でき)",
    r"(?:お答え|回答|お手伝い|対応|提供|作成)(?:することは|は)?(?:でき(?:ません|かねます)|いたしかねます)",
    r"AI(?:言語モデル|アシスタント)?として[、,]?.{0,30}(?:できません|いたしかねます)",
]
_PATTERNS = [(re.compile(p, re.IGNORECASE), "en") for p in _EN] + [(re.compile(p), "ja") for p in _JA]


def detect_refusal(text: str) -> str | None:
    """A reason naming the matched refusal phrase, or None when the response does not open with a refusal."""
    head = text.strip()[:HEAD_CHARS]
    for pattern, lang in _PATTERNS:
        m = pattern.search(head)
        if m:
            return f"refusal ({lang}): {m.group(0)!r}"
    return None
