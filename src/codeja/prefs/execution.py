"""Running a response's code against the instruction's tests in the sandbox: one pass rate per response.

An instruction carries tests as ``tests`` (a string, or a list: each element is run as its own program, so the
pass rate is graded), an optional ``entry_point`` and a ``language`` (default python). The program for one test
is ``<code from the response>\\n\\n<test>``, plus ``check(<entry_point>)`` when the test defines a
HumanEval-style ``check(candidate)`` and never calls it. The code comes out of the response through the
evaluation's sanitizer (``scorer.execution.sanitizer``, default ``codeja``), so preferences and evaluation
judge one text the same way.

Results are cached on the response record (``execution``) so the execution filter and the execution scorer run
each program once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from codeja.codeparse import canonical_language, extract_code_blocks
from codeja.errors import CodejaError
from codeja.evaluate.benchmarks.base import Benchmark, Source, Task
from codeja.evaluate.sanitize import get_sanitizer
from codeja.prefs.records import Instruction
from codeja.sandbox import Job, Limits, run_many

# Sanitizers take the benchmark for its stop strings (bigcode); a response to an instruction has none.
_NO_BENCHMARK = Benchmark([], Source(None, None, None, None))


def extract_program(text: str, language: str, entry_point: str | None = None,
                    sanitizer: str = "codeja") -> str:
    """The code to test, turned out of the answer by the evaluation's sanitizer (so a response scores here as
    the same text would in ``codeja eval``): ``codeja@2`` takes the last fenced block of the language that
    defines the entry point (else the last such block, else the raw text) and keeps what the entry point
    reaches.

    An answer whose fences all hold another language has no code to test: "".
    """
    lang = canonical_language(language) or "python"
    blocks = extract_code_blocks(text)
    if blocks and not any(b.language in (None, lang) for b in blocks):
        return ""
    task = Task(task_id="prefs", prompt="", language=lang, entry_point=entry_point)
    return get_sanitizer(sanitizer).sanitize(text, task, _NO_BENCHMARK, kind="solution").code


def _check_call(test: str, entry_point: str | None, language: str) -> str:
    if not entry_point:
        return ""
    defines = re.search(r"(def|function)\s+check\s*\(|\bcheck\s*=", test)
    calls = re.search(r"^\s*check\s*\(", test, re.MULTILINE)
    if defines and not calls:
        return f"\ncheck({entry_point})\n" if language == "python" else f"\ncheck({entry_point});\n"
    return ""


def build_test_programs(text: str, inst: Instruction, default_language: str = "python",
                        sanitizer: str = "codeja") -> list[str]:
    lang = inst.language or canonical_language(default_language) or "python"
    code = extract_program(text, lang, inst.entry_point, sanitizer)
    return [f"{code}\n\n{test.rstrip()}\n{_check_call(test, inst.entry_point, lang)}" for test in inst.tests or []]


@dataclass
class ExecutionRunner:
    """Runs (instruction, response) test programs through ``codeja.sandbox.run_many``; one job per test."""

    timeout_s: float = 10.0
    workers: int | None = None
    default_language: str = "python"
    infra_retries: int = 2  # reruns of jobs the sandbox itself failed (SandboxResult.infra_failure)
    sanitizer: str = "codeja"  # how the response becomes code (codeja.evaluate.sanitize)

    def run(self, items: list[tuple[Instruction, dict[str, Any]]], progress: bool = False) -> None:
        """Fill ``record["execution"] = {"passed", "total", "pass_rate", "statuses"}`` where missing.

        Instructions without tests are skipped (no ``execution`` key is added).
        """
        sanitizer_id = get_sanitizer(self.sanitizer).id  # recorded, as in every evaluation result
        jobs, owners = [], []
        for n, (inst, record) in enumerate(items):
            if not inst.tests or "execution" in record:
                continue
            lang = inst.language or canonical_language(self.default_language) or "python"
            for t, program in enumerate(build_test_programs(record["text"], inst, self.default_language,
                                                            self.sanitizer)):
                jobs.append(Job(source=program, language=lang, limits=Limits(wall_s=self.timeout_s), key=(n, t),
                                end_marker=True))  # a pass needs the tests to run to their end, not only exit 0
            owners.append(n)
        if not jobs:
            return
        results = run_many(jobs, workers=self.workers, infra_retries=self.infra_retries)
        missing = [r for r in results if r.status == "toolchain-missing"]
        if missing:
            raise CodejaError(f"execution: no toolchain for {missing[0].language} on this machine "
                              f"({missing[0].detail}); install it or drop the 'execution' filter/scorer")
        statuses: dict[int, list[str]] = {n: [""] * len(items[n][0].tests or []) for n in owners}
        for job, res in zip(jobs, results):
            n, t = res.key if res.key is not None else job.key
            statuses[n][t] = res.status
        for n, sts in statuses.items():
            passed = sum(s == "ok" for s in sts)
            items[n][1]["execution"] = {"passed": passed, "total": len(sts), "pass_rate": passed / len(sts),
                                        "statuses": sts, "sanitizer": sanitizer_id}
