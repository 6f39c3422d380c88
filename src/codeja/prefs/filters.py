"""The rule-filter chain run on sampled responses before scoring.

Each filter has one job and answers "why is this response unusable?" with a reason string, or None. The chain
applies the configured filters in order; a response's verdict is the first filter that rejects it (recorded as
``filter_reasons: [name]`` plus ``filter_detail``), so the counts per reason add up to the responses dropped.
The checks themselves live in :mod:`codeja.quality` (shared with the Magpie stage), :mod:`codeja.curate.placeholder`
and :mod:`codeja.codeparse`; this module only wires them to responses and instructions.

Execution runs last and in one batch for all the responses that survived the cheap filters, through the sandbox.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from codeja.codeparse import extract_code_blocks
from codeja.prefs.config import FiltersConfig
from codeja.prefs.execution import COMPATIBLE, ExecutionRunner
from codeja.prefs.records import Instruction


@dataclass
class Item:
    """One response under judgement, with what the filters may need to know about its instruction."""

    instruction: Instruction
    record: dict[str, Any]  # {"text", "finish_reason", ...}; filters read it, the chain writes the verdict
    index: int

    @property
    def text(self) -> str:
        return self.record["text"]

    @property
    def instruction_text(self) -> str:
        return self.instruction.prompt[-1]["content"]


class Filter(ABC):
    name: str

    @abstractmethod
    def check(self, item: Item) -> str | None:
        """A reason to drop ``item``, or None."""

    def reset(self) -> None:
        """Called before each instruction's responses (for filters that compare responses with each other)."""


class EmptyFilter(Filter):
    name = "empty"

    def check(self, item: Item) -> str | None:
        return "empty response" if not item.text.strip() else None


class TruncatedFilter(Filter):
    name = "truncated"

    def check(self, item: Item) -> str | None:
        from codeja.quality import is_truncated

        return is_truncated(item.text, item.record.get("finish_reason"))


class RefusalFilter(Filter):
    name = "refusal"

    def check(self, item: Item) -> str | None:
        from codeja.quality import detect_refusal

        return detect_refusal(item.text)


def expected_language(inst: Instruction) -> str | None:
    """The programming language an instruction asks for: its ``language`` field, else the only one it names."""
    if inst.language:
        return inst.language
    from codeja.quality import mentioned_languages

    named = mentioned_languages(inst.prompt[-1]["content"])
    return named[0] if len(named) == 1 else None


class LanguageFilter(Filter):
    """Wrong natural language (asked in Japanese, answered in English) or wrong programming language.

    Prose too short to classify ("unknown") passes: a bare code answer is not in the wrong language.
    """

    name = "language"

    def check(self, item: Item) -> str | None:
        from codeja.quality import detect_instruction_language, guess_code_language

        asked = detect_instruction_language(item.instruction_text)
        answered = detect_instruction_language(item.text)
        if "unknown" not in (asked, answered) and asked != answered:
            return f"natural language: asked in {asked}, answered in {answered}"
        want = expected_language(item.instruction)
        if want:
            langs = [b.language or guess_code_language(b.code) for b in extract_code_blocks(item.text)]
            langs = [x for x in langs if x and x not in ("text", "output", "json", "console", "plaintext")]
            ok = {want} | COMPATIBLE.get(want, set())
            if langs and not ok.intersection(langs):
                return f"programming language: asked for {want}, code is in {', '.join(dict.fromkeys(langs))}"
        return None


class PlaceholderFilter(Filter):
    """Unfinished code: TODO stubs, '... rest of the code here', 'implement this yourself'."""

    name = "placeholder"

    def check(self, item: Item) -> str | None:
        from codeja.curate.placeholder import find_placeholder

        blocks = extract_code_blocks(item.text)
        for b in blocks or [None]:
            found = find_placeholder(b.code, b.language) if b else find_placeholder(item.text)
            if found is not None:
                return f"placeholder ({found.pattern}, line {found.line}): {found.text[:80]}"
        return None


class ParseFilter(Filter):
    name = "parse"

    def __init__(self, require_code: bool = False):
        self.require_code = require_code

    def check(self, item: Item) -> str | None:
        from codeja.quality import code_blocks_parse

        if self.require_code and not extract_code_blocks(item.text):
            return "no code block"
        ok, why = code_blocks_parse(item.text, expected_language(item.instruction))
        return None if ok else why


class RepetitionFilter(Filter):
    name = "repetition"

    def __init__(self, max_repetition: float):
        self.max_repetition = max_repetition

    def check(self, item: Item) -> str | None:
        from codeja.quality import repetition_score

        score = repetition_score(item.text)
        return f"repetition score {score:.2f} > {self.max_repetition}" if score > self.max_repetition else None


_SPACE = re.compile(r"\s+")


class DuplicateFilter(Filter):
    """A response equal to an earlier surviving one of the same instruction (after Unicode and space normalising).

    Two copies of one answer make a pair with no signal, and count twice toward nothing.
    """

    name = "duplicate"

    def __init__(self):
        self.seen: dict[str, int] = {}

    def reset(self) -> None:
        self.seen = {}

    def check(self, item: Item) -> str | None:
        key = _SPACE.sub(" ", unicodedata.normalize("NFKC", item.text)).strip()
        if key in self.seen:
            return f"duplicate of response {self.seen[key]}"
        self.seen[key] = item.index
        return None


class ExecutionFilter(Filter):
    """Fails the instruction's tests (pass rate below ``min_pass_rate``); needs ``record['execution']``."""

    name = "execution"

    def __init__(self, min_pass_rate: float):
        self.min_pass_rate = min_pass_rate

    def check(self, item: Item) -> str | None:
        result = item.record.get("execution")
        if result is None:  # the instruction has no tests: nothing to check
            return None
        if result["pass_rate"] < self.min_pass_rate:
            return (f"passed {result['passed']}/{result['total']} tests (< {self.min_pass_rate:.0%}); "
                    f"statuses: {', '.join(sorted(set(result['statuses'])))}")
        return None


@dataclass
class FilterChain:
    filters: list[Filter]
    runner: ExecutionRunner | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: FiltersConfig, runner: ExecutionRunner | None = None) -> FilterChain:
        make = {
            "empty": EmptyFilter, "truncated": TruncatedFilter, "refusal": RefusalFilter, "language": LanguageFilter,
            "placeholder": PlaceholderFilter, "parse": lambda: ParseFilter(cfg.require_code),
            "repetition": lambda: RepetitionFilter(cfg.max_repetition), "duplicate": DuplicateFilter,
            "execution": lambda: ExecutionFilter(cfg.min_pass_rate),
        }
        return cls([make[name]() for name in cfg.chain], runner or ExecutionRunner())

    def apply(self, batch: list[tuple[Instruction, list[dict[str, Any]]]]) -> None:
        """Judge every response of every instruction in ``batch``; writes ``passed_filters``, ``filter_reasons``
        and ``filter_detail`` into each response record."""
        for inst, records in batch:
            for f in self.filters:
                f.reset()
            for i, rec in enumerate(records):
                rec["passed_filters"], rec["filter_reasons"] = True, []
                rec.pop("filter_detail", None)
                for f in self.filters:
                    if isinstance(f, ExecutionFilter):
                        continue  # batched below
                    if self._judge(f, Item(inst, rec, i)):
                        break
        execution = next((f for f in self.filters if isinstance(f, ExecutionFilter)), None)
        if execution is None:
            return
        todo = [(inst, rec) for inst, records in batch for rec in records if rec["passed_filters"] and inst.tests]
        if self.runner is not None and todo:
            self.runner.run(todo)
        for inst, records in batch:
            for i, rec in enumerate(records):
                if rec["passed_filters"]:
                    self._judge(execution, Item(inst, rec, i))

    def _judge(self, f: Filter, item: Item) -> bool:
        reason = f.check(item)
        if reason is None:
            return False
        item.record.update(passed_filters=False, filter_reasons=[f.name], filter_detail=reason)
        self.counts[f.name] = self.counts.get(f.name, 0) + 1
        return True
