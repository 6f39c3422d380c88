"""Running a response's code against the instruction's tests in the sandbox: one pass rate per response.

An instruction carries tests as ``tests`` (a string, or a list: each element is run as its own program, so the
pass rate is graded), an optional ``entry_point`` and a ``language`` (default python). The program for one test
is ``<code from the response>\\n\\n<test>``, plus ``check(<entry_point>)`` when the test defines a HumanEval-style
``check(candidate)`` and never calls it. The code is the response's fenced blocks in the instruction's language
(or untagged), preferring the blocks that define the entry point; a response with no fence is taken as raw code.

Results are cached on the response record (``execution``) so the execution filter and the execution scorer run
each program once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from codeja.codeparse import canonical_language, extract_code_blocks
from codeja.prefs.records import Instruction

# Languages one fence tag may stand in for (an answer tagged `ts` for a JavaScript task still runs as JS).
COMPATIBLE = {"typescript": {"javascript"}, "javascript": {"typescript"}, "c": {"cpp"}, "cpp": {"c"}}


def extract_program(text: str, language: str, entry_point: str | None = None) -> str:
    """The code to test: matching fenced blocks (those defining ``entry_point`` first), else the raw text."""
    lang = canonical_language(language) or "python"
    blocks = [b for b in extract_code_blocks(text)
              if b.language in (None, lang) or b.language in COMPATIBLE.get(lang, set())]
    if not blocks:
        return "" if extract_code_blocks(text) else text
    if entry_point:
        defining = [b for b in blocks if re.search(rf"\b{re.escape(entry_point)}\b", b.code)]
        blocks = defining or blocks
    return "\n\n".join(b.code.rstrip() for b in blocks) + "\n"


def _check_call(test: str, entry_point: str | None, language: str) -> str:
    if not entry_point:
        return ""
    defines = re.search(r"(def|function)\s+check\s*\(|\bcheck\s*=", test)
    calls = re.search(r"^\s*check\s*\(", test, re.MULTILINE)
    if defines and not calls:
        return f"\ncheck({entry_point})\n" if language == "python" else f"\ncheck({entry_point});\n"
    return ""


def build_test_programs(text: str, inst: Instruction, default_language: str = "python") -> list[str]:
    lang = inst.language or canonical_language(default_language) or "python"
    code = extract_program(text, lang, inst.entry_point)
    return [f"{code}\n\n{test.rstrip()}\n{_check_call(test, inst.entry_point, lang)}" for test in inst.tests or []]


@dataclass
class ExecutionRunner:
    """Runs (instruction, response) test programs through ``codeja.sandbox.run_many``; one job per test."""

    timeout_s: float = 10.0
    workers: int | None = None
    default_language: str = "python"
    infra_retries: int = 2  # reruns of jobs the sandbox itself failed (SandboxResult.infra_failure)

    def run(self, items: list[tuple[Instruction, dict[str, Any]]], progress: bool = False) -> None:
        """Fill ``record["execution"] = {"passed", "total", "pass_rate", "statuses"}`` where missing.

        Instructions without tests are skipped (no ``execution`` key is added).
        """
        from codeja.sandbox import Job, Limits, run_many

        jobs, owners = [], []
        for n, (inst, record) in enumerate(items):
            if not inst.tests or "execution" in record:
                continue
            lang = inst.language or canonical_language(self.default_language) or "python"
            for t, program in enumerate(build_test_programs(record["text"], inst, self.default_language)):
                jobs.append(Job(source=program, language=lang, limits=Limits(wall_s=self.timeout_s), key=(n, t),
                                end_marker=True))  # a pass needs the tests to run to their end, not only exit 0
            owners.append(n)
        if not jobs:
            return
        results = run_many(jobs, workers=self.workers, infra_retries=self.infra_retries)
        missing = [r for r in results if r.status == "toolchain-missing"]
        if missing:
            from codeja.errors import CodejaError

            raise CodejaError(f"execution: no toolchain for {missing[0].language} on this machine "
                              f"({missing[0].detail}); install it or drop the 'execution' filter/scorer")
        statuses: dict[int, list[str]] = {n: [""] * len(items[n][0].tests or []) for n in owners}
        for job, res in zip(jobs, results):
            n, t = res.key if res.key is not None else job.key
            statuses[n][t] = res.status
        for n, sts in statuses.items():
            passed = sum(s == "ok" for s in sts)
            items[n][1]["execution"] = {"passed": passed, "total": len(sts), "pass_rate": passed / len(sts),
                                        "statuses": sts}
