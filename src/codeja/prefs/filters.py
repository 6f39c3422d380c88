"""The rule-filter chain run on sampled responses before scoring.

Each filter has one job and answers "why is this response unusable?" with a reason string, or None. The chain
applies the configured filters in order and stops at the first that rejects a response (recorded as
``filter_reasons: [name]`` plus ``filter_detail``), so the counts per reason add up to the responses dropped.
The text checks are :mod:`codeja.quality.checks` (the same ones the Magpie stage and evaluation's health
figures run); this module only tells them the instruction, and adds the two checks that need more than one
text: ``duplicate`` (compares an instruction's responses) and ``execution`` (runs the instruction's tests).

Execution runs last and in one batch for all the responses that survived the cheap filters, through the sandbox.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from codeja.prefs.execution import ExecutionRunner
from codeja.prefs.records import Instruction
from codeja.quality import Chain, Check, Failure, Text, checks, mentioned_languages

if TYPE_CHECKING:  # the config validates chain names against FILTERS, so it imports this module
    from codeja.prefs.config import FiltersConfig


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

    @cached_property
    def as_text(self) -> Text:
        """What the text checks read (built once per response, not once per check)."""
        return Text(self.text, language=expected_language(self.instruction),
                    finish_reason=self.record.get("finish_reason"), instruction=self.instruction_text)


class Filter(ABC):
    name: str

    @abstractmethod
    def check(self, item: Item) -> str | None:
        """A reason to drop ``item``, or None."""

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Called before each instruction's responses (for filters that compare responses with each other)."""


def expected_language(inst: Instruction) -> str | None:
    """The programming language an instruction asks for: its ``language`` field, else the only one it names."""
    if inst.language:
        return inst.language
    named = mentioned_languages(inst.prompt[-1]["content"])
    return named[0] if len(named) == 1 else None


class TextCheckFilter(Filter):
    """A :mod:`codeja.quality.checks` check on a response, told its instruction, language, finish reason."""

    def __init__(self, check: Check):
        self.inner = check
        self.name = check.name

    def check(self, item: Item) -> str | None:
        return self.inner.check(item.as_text)


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


# Filter name -> factory from the stage's config, in the default order of the chain: cheap text checks first,
# execution (the expensive one) last, so a response already known to be bad never reaches the sandbox.
FILTERS: dict[str, Callable[[FiltersConfig], Filter]] = {
    "empty": lambda cfg: TextCheckFilter(checks.Empty()),
    "truncated": lambda cfg: TextCheckFilter(checks.Truncated()),
    "refusal": lambda cfg: TextCheckFilter(checks.Refusal()),
    "language": lambda cfg: TextCheckFilter(checks.AnswerLanguage()),
    # a response without a fence is a bare code answer: judged whole
    "placeholder": lambda cfg: TextCheckFilter(checks.Placeholder(scope="blocks_or_text")),
    "parse": lambda cfg: TextCheckFilter(checks.Parses(cfg.require_code)),
    "repetition": lambda cfg: TextCheckFilter(checks.Repetition(cfg.max_repetition)),
    "duplicate": lambda cfg: DuplicateFilter(),
    "execution": lambda cfg: ExecutionFilter(cfg.min_pass_rate),
}


@dataclass
class FilterChain:
    filters: list[Filter]
    runner: ExecutionRunner | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: FiltersConfig, runner: ExecutionRunner | None = None) -> FilterChain:
        return cls([FILTERS[name](cfg) for name in cfg.chain], runner or ExecutionRunner())

    def apply(self, batch: list[tuple[Instruction, list[dict[str, Any]]]]) -> None:
        """Judge every response of every instruction in ``batch``; writes ``passed_filters``, ``filter_reasons``
        and ``filter_detail`` into each response record."""
        # one reason per dropped response, so the counts per reason add up to the responses dropped
        text_checks = [f for f in self.filters if not isinstance(f, ExecutionFilter)]
        cheap = Chain("prefs", text_checks, stop_at_first=True)
        for inst, records in batch:
            for f in self.filters:
                f.reset()
            for i, rec in enumerate(records):
                rec["passed_filters"], rec["filter_reasons"] = True, []
                rec.pop("filter_detail", None)
                self._record(rec, cheap.run(Item(inst, rec, i)))
        execution = next((f for f in self.filters if isinstance(f, ExecutionFilter)), None)
        if execution is None:
            return
        todo = [(inst, rec) for inst, records in batch for rec in records if rec["passed_filters"] and inst.tests]
        if self.runner is not None and todo:
            self.runner.run(todo)  # batched: every surviving response's tests in one sandbox run
        last = Chain("prefs.execution", [execution])
        for inst, records in batch:
            for i, rec in enumerate(records):
                if rec["passed_filters"]:
                    self._record(rec, last.run(Item(inst, rec, i)))

    def _record(self, record: dict[str, Any], failures: list[Failure]) -> None:
        if not failures:
            return
        f = failures[0]
        record.update(passed_filters=False, filter_reasons=[f.check], filter_detail=f.detail)
        self.counts[f.check] = self.counts.get(f.check, 0) + 1
