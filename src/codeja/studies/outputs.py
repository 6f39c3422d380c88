"""What a model wrote where a function body belongs: code, a placeholder, or nothing.

The study measures the placeholder habit on completions of function prompts (HumanEval, JHumanEval), so the
judgement must not depend on the curation filter whose recall the study also measures. A completion is cut
where the function ends (the first non-blank line at column 0) and then judged by its structure:

* ``empty``: nothing but whitespace (the model ended the function at once);
* ``placeholder``: no statement that does anything: only comments, string literals and stub statements
  (``pass``, ``...``, ``raise NotImplementedError``, ``return`` / ``return None``);
* ``code``: anything else.

A placeholder that contains a stub statement (``stub``) is the classic shape, ``# TODO ...`` then ``pass``; one
without is comments only, most often prose the model kept writing until the token limit. The study reports both
rates, since only the first is the habit the contaminated corpus teaches.

Whether the curation filter also flags the body is recorded beside the verdict (``filter_pattern``), not part
of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codeja.quality.placeholder import find_placeholder

STUB = re.compile(r"(?:pass|\.\.\.|raise\s+NotImplementedError\b.*|return(?:\s+None)?)\s*;?")
# a statement that is only a string literal (a docstring the model wrote) does nothing either
TRIPLE_QUOTED = re.compile(r"[rRbBuU]{0,2}(\"\"\"|''')[\s\S]*?(?:\1|$)")
STRING_ONLY = re.compile(r"[rRbBuU]{0,2}(?:\"[^\"]*\"|'[^']*')")

Verdict = str  # "empty" | "placeholder" | "code"


@dataclass(frozen=True)
class BodyJudgement:
    verdict: Verdict
    body: str  # the completion up to the end of the function
    stub: bool  # a placeholder with a stub statement (pass, ..., raise NotImplementedError, return [None])
    filter_pattern: str | None  # the curation filter's rule, when it flags the body (information only)


def function_body(completion: str) -> str:
    """The completion up to where the function ends (a non-blank line at column 0), for Python prompts."""
    pos = 0
    for line in completion.splitlines(keepends=True):
        if line.strip() and not line[0].isspace():
            return completion[:pos].rstrip("\n") if pos else ""
        pos += len(line)
    return completion


def judge_body(completion: str) -> BodyJudgement:
    """Judge a Python completion of a function prompt (see the module doc)."""
    body = function_body(completion)
    if not body.strip():
        return BodyJudgement("empty", body, False, None)
    flagged = find_placeholder(body, "python")
    lines = [ln.strip() for ln in TRIPLE_QUOTED.sub("", body).splitlines() if ln.strip()]
    code = [ln for ln in lines if not ln.startswith("#")]
    code = [re.sub(r"\s+#.*$", "", ln) for ln in code]
    idle = all(STUB.fullmatch(ln) or STRING_ONLY.fullmatch(ln) for ln in code)
    stub = idle and any(STUB.fullmatch(ln) for ln in code)
    return BodyJudgement("placeholder" if idle else "code", body, stub, flagged.pattern if flagged else None)
