"""Row filters for Magpie output. Each filter has one job and returns a reason detail, or None to keep the row.

A row here is a dict with ``messages`` (user/assistant turns, no system message), ``spec`` (the steering draw,
see :class:`codeja.synth.steering.RowSpec`) and ``gens`` (per generated message: ``finish_reason``, token counts).
Instruction filters run before responses are generated (no compute spent on rows that will be dropped);
response filters run after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codeja.codeparse import extract_code_blocks
from codeja.quality import (
    code_blocks_parse,
    detect_instruction_language,
    detect_programming_languages,
    detect_refusal,
    is_truncated,
    repetition_score,
)
from codeja.synth.config import FilterConfig


def user_turns(row: dict) -> list[str]:
    return [m["content"] for m in row["messages"] if m["role"] == "user"]


def assistant_turns(row: dict) -> list[str]:
    return [m["content"] for m in row["messages"] if m["role"] == "assistant"]


def _gens(row: dict, role: str) -> list[dict]:
    return [g for g in row.get("gens", []) if g.get("role") == role]


class RowFilter:
    """Base: ``name`` is the reason key counted in stats.json; ``check`` returns a detail string or None."""

    name = "filter"
    stage = "instruction"  # "instruction" (before responses) or "response"

    def __init__(self, cfg: FilterConfig):
        self.cfg = cfg

    def check(self, row: dict) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


class Truncated(RowFilter):
    """A generated turn hit max_new_tokens or left a code fence open."""

    def __init__(self, cfg: FilterConfig, stage: str):
        super().__init__(cfg)
        self.stage = stage
        self.role = "user" if stage == "instruction" else "assistant"
        self.name = f"{stage}_truncated"

    def check(self, row: dict) -> str | None:
        texts = user_turns(row) if self.role == "user" else assistant_turns(row)
        for i, (text, gen) in enumerate(zip(texts, _gens(row, self.role))):
            reason = is_truncated(text, gen.get("finish_reason"))
            if reason:
                return f"turn {i + 1}: {reason}"
        return None


class Length(RowFilter):
    """Too short or too long, in characters (instructions or responses)."""

    def __init__(self, cfg: FilterConfig, stage: str):
        super().__init__(cfg)
        self.stage = stage
        self.name = f"{stage}_length"
        if stage == "instruction":
            self.lo, self.hi = cfg.min_instruction_chars, cfg.max_instruction_chars
        else:
            self.lo, self.hi = cfg.min_response_chars, cfg.max_response_chars

    def check(self, row: dict) -> str | None:
        texts = user_turns(row) if self.stage == "instruction" else assistant_turns(row)
        for i, text in enumerate(texts):
            n = len(text.strip())
            if n < self.lo:
                return f"turn {i + 1}: too short ({n} < {self.lo} chars)"
            if n > self.hi:
                return f"turn {i + 1}: too long ({n} > {self.hi} chars)"
        return None


class Repetitive(RowFilter):
    """A model loop: the repeated 4-gram share is above the limit."""

    def __init__(self, cfg: FilterConfig, stage: str):
        super().__init__(cfg)
        self.stage = stage
        self.name = f"{stage}_repetitive"

    def check(self, row: dict) -> str | None:
        texts = user_turns(row) if self.stage == "instruction" else assistant_turns(row)
        for i, text in enumerate(texts):
            score = repetition_score(text)
            if score > self.cfg.max_repetition:
                return f"turn {i + 1}: repeated 4-gram share {score:.2f} > {self.cfg.max_repetition}"
        return None


class InstructionLanguage(RowFilter):
    """The instruction is not in the requested natural language (steered rows only)."""

    name = "instruction_language_mismatch"

    def check(self, row: dict) -> str | None:
        wanted = row["spec"].get("instruction_lang")
        if not wanted:
            return None
        got = detect_instruction_language(user_turns(row)[0])
        return None if got == wanted else f"requested {wanted}, detected {got}"


class ProgrammingLanguage(RowFilter):
    """The row is not about the requested programming language.

    The requested language (and a translation's target) must be detected somewhere in the conversation, and when
    a response carries code, that code must be in the language the answer should be written in (the target for
    translations): a Go question answered with Python code is a mismatch.
    """

    name = "programming_language_mismatch"
    stage = "response"

    def check(self, row: dict) -> str | None:
        spec = row["spec"]
        wanted = [lang for lang in (spec.get("language"), spec.get("target_language")) if lang]
        if not wanted:
            return None
        found = detect_programming_languages("\n\n".join(m["content"] for m in row["messages"]))
        missing = [lang for lang in wanted if lang not in found]
        if missing:
            return f"requested {', '.join(missing)}, detected {', '.join(found) or 'none'}"
        answer_lang = wanted[-1]
        for i, text in enumerate(assistant_turns(row)):
            if not extract_code_blocks(text):
                continue
            in_answer = detect_programming_languages(text)
            if in_answer and answer_lang not in in_answer:
                return f"requested {answer_lang}, response {i + 1} is in {', '.join(in_answer)}"
        return None


class Refusal(RowFilter):
    name = "refusal"
    stage = "response"

    def check(self, row: dict) -> str | None:
        for text in assistant_turns(row):
            reason = detect_refusal(text)
            if reason:
                return reason
        return None


class PlaceholderTodo(RowFilter):
    """Code in a response that is a stub ("# TODO: implement", "ここにコードを書いてください")."""

    name = "placeholder_todo"
    stage = "response"

    def check(self, row: dict) -> str | None:
        from codeja.quality.placeholder import find_placeholder

        for text in assistant_turns(row):
            for block in extract_code_blocks(text):
                m = find_placeholder(block.code, block.language)
                if m:
                    return f"{m.kind} placeholder '{m.pattern}': {m.text}"
        return None


class CodeParses(RowFilter):
    """Every code block in the responses parses (in its fence language, else the requested language)."""

    name = "code_does_not_parse"
    stage = "response"

    def check(self, row: dict) -> str | None:
        spec = row["spec"]
        expected = spec.get("target_language") or spec.get("language")
        for text in assistant_turns(row):
            ok, reason = code_blocks_parse(text, expected)
            if not ok:
                return reason
        return None


def build_filters(cfg: FilterConfig) -> tuple[list[RowFilter], list[RowFilter]]:
    """(instruction filters, response filters), in the order their reasons take precedence."""
    ins: list[RowFilter] = [Truncated(cfg, "instruction"), Length(cfg, "instruction"), Repetitive(cfg, "instruction")]
    if cfg.instruction_language:
        ins.append(InstructionLanguage(cfg))
    res: list[RowFilter] = [Truncated(cfg, "response"), Length(cfg, "response"), Repetitive(cfg, "response")]
    if cfg.refusals:
        res.append(Refusal(cfg))
    if cfg.placeholders:
        res.append(PlaceholderTodo(cfg))
    if cfg.programming_language:
        res.append(ProgrammingLanguage(cfg))
    if cfg.parse:
        res.append(CodeParses(cfg))
    return ins, res


@dataclass
class Verdict:
    reason: str | None  # first failing filter's name, None = keep
    detail: str | None
    reasons: dict[str, str]  # every failing filter -> detail

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "detail": self.detail, "reasons": self.reasons}


def judge(row: dict, filters: list[RowFilter]) -> Verdict:
    """Run every filter (so removed.jsonl shows all problems), the first failure is the counted reason."""
    failures = {}
    for f in filters:
        detail = f.check(row)
        if detail is not None:
            failures[f.name] = detail
    first = next(iter(failures), None)
    return Verdict(first, failures.get(first) if first else None, failures)
