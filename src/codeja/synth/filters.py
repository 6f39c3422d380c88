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
from codeja.quality import Chain, Check, Text, checks, detect_instruction_language, detect_programming_languages
from codeja.synth.config import FilterConfig


def user_turns(row: dict) -> list[str]:
    return [m["content"] for m in row["messages"] if m["role"] == "user"]


def assistant_turns(row: dict) -> list[str]:
    return [m["content"] for m in row["messages"] if m["role"] == "assistant"]


def _gens(row: dict, role: str) -> list[dict]:
    return [g for g in row.get("gens", []) if g.get("role") == role]


class RowFilter:
    """Base: ``name`` is the reason key counted in stats.json; ``check`` returns a detail string or None.

    Checks on one turn's text are :mod:`codeja.quality.checks` wrapped in :class:`TurnCheck`; a subclass of
    its own is for what judges the whole row against its steering request (the requested languages).
    """

    name = "filter"
    stage = "instruction"  # "instruction" (before responses) or "response"

    def __init__(self, cfg: FilterConfig):
        self.cfg = cfg

    def check(self, row: dict) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


class TurnCheck(RowFilter):
    """A :mod:`codeja.quality.checks` check run on each user turn (instruction stage) or assistant turn
    (response stage), told the requested programming language and the turn's finish reason; the first failing
    turn counts.

    ``number_turns`` prefixes the detail with ``turn N:`` (the shape checks always did; the content checks did
    not, and their recorded details are kept as they were).
    """

    def __init__(self, cfg: FilterConfig, stage: str, name: str, check: Check, number_turns: bool = True):
        super().__init__(cfg)
        self.stage, self.name, self.inner, self.number_turns = stage, name, check, number_turns
        self.role = "user" if stage == "instruction" else "assistant"

    def check(self, row: dict) -> str | None:
        spec = row.get("spec") or {}
        language = spec.get("target_language") or spec.get("language")  # what the answer's code should be in
        gens = _gens(row, self.role)
        texts = user_turns(row) if self.role == "user" else assistant_turns(row)
        for i, text in enumerate(texts):
            finish = gens[i].get("finish_reason") if i < len(gens) else None
            detail = self.inner.check(Text(text, language=language, finish_reason=finish))
            if detail is not None:
                return f"turn {i + 1}: {detail}" if self.number_turns else detail
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


def build_filters(cfg: FilterConfig) -> tuple[list[RowFilter], list[RowFilter]]:
    """(instruction filters, response filters), in the order their reasons take precedence."""

    def shape(stage: str) -> list[RowFilter]:
        lo, hi = ((cfg.min_instruction_chars, cfg.max_instruction_chars) if stage == "instruction"
                  else (cfg.min_response_chars, cfg.max_response_chars))
        return [TurnCheck(cfg, stage, f"{stage}_truncated", checks.Truncated()),
                TurnCheck(cfg, stage, f"{stage}_length", checks.Length(lo, hi)),
                TurnCheck(cfg, stage, f"{stage}_repetitive", checks.Repetition(cfg.max_repetition))]

    ins = shape("instruction")
    if cfg.instruction_language:
        ins.append(InstructionLanguage(cfg))
    res = shape("response")
    if cfg.refusals:
        res.append(TurnCheck(cfg, "response", "refusal", checks.Refusal(), number_turns=False))
    if cfg.placeholders:  # only code counts: prose may well talk about a TODO
        res.append(TurnCheck(cfg, "response", "placeholder_todo", checks.Placeholder(scope="blocks"),
                             number_turns=False))
    if cfg.programming_language:
        res.append(ProgrammingLanguage(cfg))
    if cfg.parse:
        res.append(TurnCheck(cfg, "response", "code_does_not_parse", checks.Parses(), number_turns=False))
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
    failures = Chain("synth", filters, stop_at_first=False).run(row)
    first = failures[0] if failures else None
    return Verdict(first and first.check, first and first.detail, {f.check: f.detail for f in failures})
