"""Which programming languages a chat text is about, and whether its code blocks parse.

Evidence, strongest first: the info string of a fenced block (```go), then the code of untagged blocks (keyword
cues pick candidates, tree-sitter arbitrates between them), then language names in the prose ("in Rust",
"Go言語で"). Names are canonical (:mod:`codeja.codeparse`): python, javascript, typescript, java, cpp, go, rust,
bash, c, ruby, ...
"""

from __future__ import annotations

import re

from codeja.codeparse import DISPLAY_NAMES, GRAMMARS, canonical_language, extract_code_blocks, syntax_errors
from codeja.quality.text import strip_code

# Fence tags that are not programming languages: they say nothing about what the task is in.
NON_CODE_TAGS = frozenset({"text", "txt", "plaintext", "markdown", "md", "output", "json", "yaml", "yml", "toml",
                           "xml", "html", "csv", "ini", "log", "diff", "none"})

# Cues inside code. Each match adds one point; candidates are the languages with points.
_CODE_CUES: dict[str, list[str]] = {
    "python": [r"^\s*def \w+\(.*\)\s*(?:->\s*[\w\[\], .]+)?:\s*$", r"^\s*(?:from \w[\w.]* )?import \w", r"\bself\b",
               r"^\s*elif\b", r"\bprint\(", r"^\s*class \w+(?:\(.*\))?:\s*$", r"\bNone\b", r"\bTrue\b|\bFalse\b",
               r"__name__", r"^\s*for \w+ in .+:\s*$", r"\blen\("],
    "javascript": [r"\bfunction\s*\w*\s*\(", r"\bconsole\.log\(", r"^\s*(?:const|let|var) \w+\s*=", r"=>",
                   r"\brequire\(", r"\bmodule\.exports\b", r"===", r"\bdocument\.", r"^\s*export (?:default )?"],
    "typescript": [r"\binterface \w+\s*\{", r"\w\s*:\s*(?:number|string|boolean|void|any)\b", r"\btype \w+ =",
                   r"<\w+(?:\[\])?>\(", r"\bimplements\b"],
    "java": [r"\bpublic (?:static )?(?:class|void|int|String)\b", r"\bSystem\.out\.print", r"\bString\[\]",
             r"\bprivate (?:final )?\w+", r"@Override", r"\bnew \w+(?:<.*>)?\(", r"^\s*import java\."],
    "cpp": [r"#include\s*<", r"\bstd::", r"\bcout\s*<<", r"\bint main\s*\(", r"\bvector<", r"\btemplate\s*<",
            r"->", r"\bnullptr\b", r"\busing namespace\b"],
    "c": [r"#include\s*<stdio\.h>", r"\bprintf\(", r"\bmalloc\(", r"\bint main\s*\("],
    "go": [r"^\s*package \w+", r"\bfunc\s+(?:\(\w+ \*?\w+\)\s*)?\w+\(", r":=", r"\bfmt\.", r"\bgo func\b",
           r"\bchan\b", r"\bdefer\b", r"\[\](?:int|string|byte)\b", r"\berr != nil\b"],
    "rust": [r"\bfn \w+\s*(?:<.*>)?\(", r"\blet mut\b", r"\bprintln!\(", r"\bimpl\b", r"&str\b", r"\bVec<",
             r"\bmatch \w+", r"\buse std::", r"\bOption<|\bResult<", r"\bpub fn\b", r"::new\("],
    "bash": [r"^#!/bin/(?:ba)?sh", r"^\s*echo\b", r"\$\{?\w+\}?", r"^\s*fi\s*$", r"^\s*done\s*$", r"\bthen\b",
             r"^\s*(?:export|local) \w+="],
    "ruby": [r"^\s*def \w+(?:\(.*\))?\s*$", r"^\s*end\s*$", r"\bputs\b", r"\.each do\b", r"\battr_accessor\b"],
}
_CODE_RX = {lang: [re.compile(p, re.MULTILINE) for p in pats] for lang, pats in _CODE_CUES.items()}

# Language names in prose. "Go" and "C" are ordinary words/letters, so they need context.
_PROSE_CUES: dict[str, str] = {
    "python": r"\bpython\b|パイソン",
    "javascript": r"\bjavascript\b|\bnode\.?js\b|\bjs\b",
    "typescript": r"\btypescript\b",
    "java": r"\bjava\b(?!\s*script)",
    "cpp": r"\bc\+\+(?!\w)|\bcpp\b",
    "c": r"(?<![\w+#])C(?:言語|\s+(?:code|program|function|language|language's))\b|\bin C\b(?![+#])",
    "go": r"\bgolang\b|Go(?:言語|で|の|を)|\bGo\s+(?:code|program|function|language|module|package|routine|struct)|"
          r"\b(?:in|using|with|into|to|from|for)\s+Go\b",
    "rust": r"\brust\b",
    "bash": r"\bbash\b|\bshell script|シェルスクリプト",
    "ruby": r"\bruby\b",
    "php": r"\bphp\b",
    "csharp": r"\bC#|\bcsharp\b",
    "kotlin": r"\bkotlin\b",
    "swift": r"\bswift\b",
}
_PROSE_RX = {lang: re.compile(p, 0 if lang in ("c", "go") else re.IGNORECASE) for lang, p in _PROSE_CUES.items()}


def guess_code_language(code: str) -> str | None:
    """The language of an untagged code snippet, or None when nothing points anywhere.

    Keyword cues shortlist candidates; among them the one with the fewest tree-sitter syntax errors wins, more cue
    hits breaking ties. TypeScript is a superset of JavaScript, so its cues must be present for it to be chosen.
    """
    scores = {lang: sum(bool(rx.search(code)) for rx in rxs) for lang, rxs in _CODE_RX.items()}
    candidates = [lang for lang, s in scores.items() if s > 0]
    if not candidates:
        return None
    if "typescript" in candidates and "javascript" not in candidates:
        candidates.append("javascript")

    def rank(lang: str) -> tuple[int, int]:
        errors = syntax_errors(code, lang) if lang in GRAMMARS else None
        # Languages without a grammar here (c, ruby) rank after any that parse cleanly.
        return (errors if errors is not None else 1, -scores.get(lang, 0))

    best = min(candidates, key=rank)
    if best == "javascript" and scores["typescript"] > 0 and rank("typescript")[0] == 0:
        best = "typescript"
    return best


def mentioned_languages(text: str) -> list[str]:
    """Programming languages named in the prose (code removed), in order of first mention."""
    prose = strip_code(text)
    found = []
    for lang, rx in _PROSE_RX.items():
        m = rx.search(prose)
        if m:
            found.append((m.start(), lang))
    return [lang for _, lang in sorted(found)]


def detect_programming_languages(text: str) -> list[str]:
    """Programming languages a text involves: fence tags, then untagged blocks guessed, then names in prose."""
    out: list[str] = []

    def add(lang: str | None) -> None:
        if lang and lang not in out:
            out.append(lang)

    blocks = extract_code_blocks(text)
    for b in blocks:
        if b.language and b.language not in NON_CODE_TAGS:
            add(b.language)
    for b in blocks:
        if not b.language:
            add(guess_code_language(b.code))
    for lang in mentioned_languages(text):
        add(lang)
    return out


def code_blocks_parse(text: str, expected_lang: str | None = None) -> tuple[bool, str]:
    """(ok, reason): whether every fenced code block parses in its language.

    A block's language is its fence tag, else ``expected_lang``, else a guess. Blocks in languages without a
    grammar here, and non-code blocks (json, text, output), are not judged and are named in the reason.
    """
    blocks = extract_code_blocks(text)
    if not blocks:
        return True, "no code blocks"
    expected = canonical_language(expected_lang)
    checked, unjudged = 0, []
    for i, b in enumerate(blocks, start=1):
        if b.language in NON_CODE_TAGS:
            continue
        lang = b.language or expected or guess_code_language(b.code)
        if not b.code.strip():
            return False, f"code block {i} is empty"
        errors = syntax_errors(b.code, lang) if lang else None
        if errors is None:
            unjudged.append(f"{i} ({DISPLAY_NAMES.get(lang or '', lang or 'unknown language')})")
            continue
        if errors:
            return False, f"code block {i} ({lang}) does not parse: {errors} syntax error(s)"
        checked += 1
    note = f"; not judged: block {', '.join(unjudged)}" if unjudged else ""
    return True, f"{checked} code block(s) parse{note}"
