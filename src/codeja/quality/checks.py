"""One protocol for a check on a text, a registry of the checks, and chains of them.

A :class:`Check` reads a :class:`Text` (the text plus what is known about it: the programming language its
code should be in, the engine's finish reason, the instruction it answers) and returns a reason string when
the text fails, ``None`` when it passes. Each stage builds a named :class:`Chain` from the registry and
chooses whether it stops at the first failure (preferences: one reason per dropped response, so the counts add
up) or collects every failure (Magpie: ``removed.jsonl`` shows all problems of a row). Evaluation's
generation-health figures run the same checks, so a refusal counted there is a refusal the filters drop.

A new check is a subclass with a ``name`` and a ``check`` method, added to :data:`CHECKS` by :func:`register`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from codeja.codeparse import extract_code_blocks
from codeja.quality.natural_language import detect_instruction_language
from codeja.quality.placeholder import PlaceholderMatch, get_detector
from codeja.quality.programming import code_blocks_parse, guess_code_language
from codeja.quality.refusal import detect_refusal
from codeja.quality.text import is_truncated, repetition_score

# Languages one fence tag may stand in for (an answer tagged `ts` for a JavaScript task still runs as JS).
COMPATIBLE = {"typescript": {"javascript"}, "javascript": {"typescript"}, "c": {"cpp"}, "cpp": {"c"}}


@dataclass(frozen=True)
class Text:
    """What a check reads. Only ``text`` is required; a check that needs a missing field passes the text."""

    text: str
    language: str | None = None  # the programming language the text's code should be in
    finish_reason: str | None = None  # "length" when the engine hit max_new_tokens
    instruction: str | None = None  # the instruction this text answers (responses only)


class Check:
    """Base of every check: ``name`` is the reason key stages count; ``check`` says why ``t`` fails."""

    name: ClassVar[str] = "check"

    def check(self, t: Text) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


CHECKS: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    """Class decorator: make ``cls`` available by its ``name`` (duplicate names are a programming error)."""
    if cls.name in CHECKS:
        raise ValueError(f"check {cls.name!r} is registered twice")
    CHECKS[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Failure:
    check: str  # the failing check's name
    detail: str


@dataclass
class Chain:
    """Checks run in order; ``stop_at_first`` ends at the first failure (else every failure is collected).

    ``run(x)`` calls ``check(x)`` on each member, so a stage's adapter that judges its own record (a Magpie
    row, a response with its instruction) with the same ``name`` + ``check`` shape chains the same way."""

    name: str
    checks: Sequence[Any]
    stop_at_first: bool = True

    def run(self, t: Any) -> list[Failure]:
        failures = []
        for c in self.checks:
            detail = c.check(t)
            if detail is not None:
                failures.append(Failure(c.name, detail))
                if self.stop_at_first:
                    break
        return failures


@register
class Empty(Check):
    name = "empty"

    def check(self, t: Text) -> str | None:
        return "empty response" if not t.text.strip() else None


@register
class Truncated(Check):
    """Cut off: the engine hit max_new_tokens, or a code fence was never closed."""

    name = "truncated"

    def check(self, t: Text) -> str | None:
        return is_truncated(t.text, t.finish_reason)


@register
class Refusal(Check):
    """Opens by declining (see :mod:`codeja.quality.refusal` for the window searched)."""

    name = "refusal"

    def check(self, t: Text) -> str | None:
        return detect_refusal(t.text)


@register
class Length(Check):
    """Too short or too long, in characters (surrounding space not counted)."""

    name = "length"

    def __init__(self, min_chars: int = 0, max_chars: int | None = None):
        self.min_chars, self.max_chars = min_chars, max_chars

    def check(self, t: Text) -> str | None:
        n = len(t.text.strip())
        if n < self.min_chars:
            return f"too short ({n} < {self.min_chars} chars)"
        if self.max_chars is not None and n > self.max_chars:
            return f"too long ({n} > {self.max_chars} chars)"
        return None


@register
class Repetition(Check):
    """A model loop: the share of repeated 4-grams is above ``max_repetition``."""

    name = "repetition"

    def __init__(self, max_repetition: float = 0.5):
        self.max_repetition = max_repetition

    def check(self, t: Text) -> str | None:
        score = repetition_score(t.text)
        if score <= self.max_repetition:
            return None
        return f"repeated 4-gram share {score:.2f} > {self.max_repetition}"


Scope = Literal["blocks", "blocks_or_text", "text"]


@register
class Placeholder(Check):
    """Unfinished code: TODO stubs, '... rest of the code here', 'ここにコードを書いてください'.

    ``scope`` says where the code is: ``blocks`` (only fenced blocks: chat answers whose prose may quote a
    TODO), ``blocks_or_text`` (the fenced blocks, or the whole text when it has none: a bare code answer) or
    ``text`` (the whole text is code: a completion)."""

    name = "placeholder"

    def __init__(self, scope: Scope = "blocks_or_text", policy: str = "calibrated",
                 extra_patterns: Sequence[str] = ()):
        self.scope = scope
        # extra_patterns: files of more patterns (curation's `placeholder.extra_patterns`)
        self.detector = get_detector(tuple(extra_patterns), policy)

    def find(self, t: Text) -> PlaceholderMatch | None:
        """The first placeholder in ``t``'s code (curation records the whole match), or None."""
        blocks = [] if self.scope == "text" else [(b.code, b.language) for b in extract_code_blocks(t.text)]
        if not blocks and self.scope != "blocks":
            blocks = [(t.text, t.language)]
        for code, language in blocks:
            found = self.detector.find(code, language)
            if found is not None:
                return found
        return None

    def check(self, t: Text) -> str | None:
        found = self.find(t)
        return None if found is None else f"placeholder ({found.pattern}, line {found.line}): {found.text[:80]}"


# A stub statement standing for a body: `pass`, `...`, `raise NotImplementedError`, `todo!()`, a TODO comment.
_STUB_LINE = re.compile(
    r"^\s*(#|//)\s*(TODO|FIXME|Your code here|implement(ation)? (this|here)|ここに.*(実装|コード))|"
    r"^\s*(pass|\.\.\.|raise NotImplementedError(\(.*\))?|"
    r"throw new (Error|UnsupportedOperationException)\(.*\);?|unimplemented!\(\)|todo!\(\))\s*$",
    re.IGNORECASE | re.MULTILINE)


@register
class StubBody(Check):
    """A function body (a completion) that is nothing but stub statements, or nothing at all.

    The placeholder detector needs a marker; a model that answers a HumanEval prompt with a bare ``pass`` has
    written none, yet has written no code either.
    """

    name = "stub_body"

    def check(self, t: Text) -> str | None:
        lines = [ln.strip() for ln in t.text.splitlines()]
        meaningful = [ln for ln in lines if ln and not ln.startswith(('"""', "'''"))]
        if not meaningful:
            return "no code in the body"
        stubs = [ln for ln in meaningful if _STUB_LINE.search(ln)]
        code = [ln for ln in meaningful if not ln.startswith(("#", "//"))]
        return f"body is only stubs: {stubs[0][:80]}" if len(stubs) >= max(1, len(code)) else None


@register
class Parses(Check):
    """Every fenced code block parses in its language (fence tag, else ``Text.language``, else a guess)."""

    name = "parse"

    def __init__(self, require_code: bool = False):
        self.require_code = require_code

    def check(self, t: Text) -> str | None:
        if self.require_code and not extract_code_blocks(t.text):
            return "no code block"
        ok, why = code_blocks_parse(t.text, t.language)
        return None if ok else why


_NOT_CODE = ("text", "output", "json", "console", "plaintext")  # fence tags of output shown, not code written


@register
class AnswerLanguage(Check):
    """Answered in another natural language than asked (Japanese question, English answer), or with code in
    another programming language than ``Text.language``.

    Prose too short to classify ("unknown") passes: a bare code answer is not in the wrong language.
    """

    name = "language"

    def check(self, t: Text) -> str | None:
        if t.instruction is not None:
            asked = detect_instruction_language(t.instruction)
            answered = detect_instruction_language(t.text)
            if "unknown" not in (asked, answered) and asked != answered:
                return f"natural language: asked in {asked}, answered in {answered}"
        if t.language:
            langs = [b.language or guess_code_language(b.code) for b in extract_code_blocks(t.text)]
            langs = [x for x in langs if x and x not in _NOT_CODE]
            ok = {t.language} | COMPATIBLE.get(t.language, set())
            if langs and not ok.intersection(langs):
                found = ", ".join(dict.fromkeys(langs))
                return f"programming language: asked for {t.language}, code is in {found}"
        return None


def build_check(name: str, **options) -> Check:
    """The registered check ``name`` with its options; an unknown name is a ValueError naming the known."""
    cls = CHECKS.get(name)
    if cls is None:
        raise ValueError(f"unknown check {name!r}; known: {', '.join(CHECKS)}")
    return cls(**options)
