"""Which natural language an instruction is written in, judged on its prose (code removed).

Japanese is recognised by script: kana are unique to it, so a text whose letters are mostly kana and kanji is
Japanese. Han without kana is Chinese, Hangul is Korean, Cyrillic is Russian-family. Latin-script text is English
when common English function words make up a fair share of its words; only the remaining, ambiguous Latin text
is handed to lingua (restricted to a few European languages so that it loads in milliseconds).
"""

from __future__ import annotations

import re
from functools import lru_cache

from codeja.quality.text import strip_code

_SCRIPTS = {
    "kana": re.compile(r"[\u3040-\u30ff\uff66-\uff9f]"),
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]"),
    "hangul": re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f]"),
}
_WORD = re.compile(r"[A-Za-z\u00c0-\u024f']+")
# Frequent English function words; almost absent from other Latin-script languages (a few overlaps are fine:
# the ratio, not a single hit, decides).
_EN_WORDS = frozenset(
    ["the", "a", "an", "of", "to", "in", "is", "are", "was", "be", "it", "this", "that", "for", "with", "on", "as",
     "how", "do", "does", "what", "why", "can", "could", "would", "should", "i", "you", "my", "me", "we", "my",
     "your", "which", "when", "where", "and", "or", "not", "using", "use", "write", "function", "code", "program",
     "please", "help", "me", "following", "given", "returns", "return"]
)
EN_SHARE = 0.25  # share of words that are English function words above which Latin text is called English


def script_counts(text: str) -> dict[str, int]:
    return {name: len(rx.findall(text)) for name, rx in _SCRIPTS.items()}


@lru_cache(maxsize=1)
def _lingua():
    # heavy: lingua (kept out of `codeja --help` and light imports)
    from lingua import Language, LanguageDetectorBuilder

    langs = [Language.ENGLISH, Language.FRENCH, Language.GERMAN, Language.SPANISH, Language.PORTUGUESE,
             Language.ITALIAN, Language.DUTCH, Language.INDONESIAN, Language.VIETNAMESE, Language.TURKISH]
    return LanguageDetectorBuilder.from_languages(*langs).build()


def detect_instruction_language(text: str) -> str:
    """ISO 639-1 code of the prose ("ja", "en", "zh", "ko", "ru", "fr", ...), or "unknown" when it has no letters."""
    prose = strip_code(text)
    c = script_counts(prose)
    letters = sum(c.values())
    if letters == 0:
        return "unknown"
    cjk = c["kana"] + c["han"]
    # Japanese technical prose mixes in Latin identifiers; a third kana/kanji is already unmistakably Japanese.
    if c["kana"] > 0 and cjk >= 0.3 * letters:
        return "ja"
    if c["han"] >= 0.3 * letters:
        return "zh"
    if c["hangul"] >= 0.3 * letters:
        return "ko"
    if c["cyrillic"] >= 0.3 * letters:
        return "ru"
    if c["kana"] > 0 and cjk >= 0.1 * letters:
        return "ja"
    words = [w.lower() for w in _WORD.findall(prose)]
    if not words:
        return "unknown"
    if sum(w in _EN_WORDS for w in words) >= EN_SHARE * len(words) or (len(words) < 4 and prose.isascii()):
        return "en"
    found = _lingua().detect_language_of(prose)
    return found.iso_code_639_1.name.lower() if found is not None else "unknown"
