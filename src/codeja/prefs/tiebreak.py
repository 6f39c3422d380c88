"""The execution scorer's second signal when no reward model is configured: a deterministic code-quality measure.

Pass rate alone cannot rank responses that pass the same tests, and with several samples per task most passing
responses pass all of them: ranked by pass rate only, such pairs carry no preference (margin 0, chosen = the first
response). Something must order them. The choices, and why this one:

* **a reward model** is the right second signal and is used whenever one is configured (``tie_break: auto``);
* **the policy's own log-probability** would prefer what the model already finds likely: DPO on such pairs sharpens
  the policy's existing habits, which is a statement about the model, not about the code;
* **response length** is the best documented bias of preference data (longer wins, and DPO then inflates length),
  and it mostly measures prose, not code;
* **static checks of the code that was tested** say something true about it. Among programs that pass the same
  tests, one that imports or assigns names it never uses, redefines a function or has a mutable default argument
  is worse, and one that is shorter has less untested behaviour. That is what this measure ranks.

The measure, in [0, 1]: the code is the one the execution step runs (:func:`codeja.prefs.execution.extract_program`:
the evaluation sanitizer's pick; an answer without fences counts as code only if it parses).
``findings`` = ruff findings for rules ``E9`` (syntax), ``F`` (pyflakes: undefined / unused names, redefinitions)
and ``B`` (bugbear: likely bugs), Python only (0 for other languages; their code has passed its parser and tests);
``size`` = non-whitespace characters of the code. Then

    t = (LEVELS - min(findings, LEVELS) + 1 / (1 + size / SIZE_SCALE)) / (LEVELS + 1)

so fewer findings always win, and among equal findings less code wins. A response with no code gets t = 0: the
measure has no opinion about prose (two prose-only answers tie; configure a reward model to rank prose).

What it does not see, by design: comments, explanations, style. It is deterministic for a given ruff version
(recorded in the scorer identity), has no model to download, and checks all responses in one ruff process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from codeja.codeparse import canonical_language, extract_code_blocks, parses
from codeja.prefs.execution import extract_program
from codeja.prefs.records import Instruction

RUFF_SELECT = ("E9", "F", "B")
LEVELS = 9  # findings beyond this many all rank alike
SIZE_SCALE = 200.0  # characters at which the size term halves


class TieBreakError(RuntimeError):
    """The quality measure could not run (no ruff executable, or ruff failed)."""


def _ruff() -> str:
    ruff = Path(sys.executable).with_name("ruff")
    return str(ruff) if ruff.exists() else "ruff"


@lru_cache(maxsize=1)
def ruff_version() -> str:
    try:
        out = subprocess.run([_ruff(), "--version"], capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise TieBreakError(f"ruff is needed by the quality tie-break and could not run: {e}") from None
    return out.stdout.strip()


def ruff_findings(programs: list[str]) -> list[int]:
    """Ruff findings per Python program, all checked by one ruff process over a temporary folder."""
    counts = [0] * len(programs)
    todo = [i for i, p in enumerate(programs) if p.strip()]
    if not todo:
        return counts
    with tempfile.TemporaryDirectory(prefix="codeja-tiebreak-") as tmp:
        for i in todo:
            Path(tmp, f"r{i}.py").write_text(programs[i], encoding="utf-8")
        cmd = [_ruff(), "check", "--no-cache", "--isolated", "--exit-zero", "--output-format", "json",
               "--select", ",".join(RUFF_SELECT), tmp]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
            findings = json.loads(out.stdout or "[]")
        except (OSError, subprocess.SubprocessError, ValueError) as e:
            raise TieBreakError(f"ruff failed on the responses' code: {e}") from None
    for f in findings:
        counts[int(Path(f["filename"]).stem[1:])] += 1
    return counts


def quality(findings: int, size: int) -> float:
    """The measure for one program (see the module docstring); 0.0 for no code."""
    if size == 0:
        return 0.0
    return (LEVELS - min(findings, LEVELS) + 1.0 / (1.0 + size / SIZE_SCALE)) / (LEVELS + 1)


class QualityTieBreak:
    """t for each (instruction, response text): fewer ruff findings, then less code."""

    kind = "quality"

    def __init__(self, default_language: str = "python", sanitizer: str = "codeja"):
        self.default_language = canonical_language(default_language) or "python"
        self.sanitizer = sanitizer

    def values_for(self, pairs: list[tuple[Instruction | None, str]]) -> list[float]:
        programs, langs = [], []
        for inst, text in pairs:
            lang = (inst.language if inst else None) or self.default_language
            code = extract_program(text, lang, inst.entry_point if inst else None, self.sanitizer)
            if not extract_code_blocks(text) and parses(text, lang) is False:
                code = ""  # unfenced prose is not code (whatever prefix of it the sanitizer could keep)
            programs.append(code)
            langs.append(lang)
        python = [i for i, lang in enumerate(langs) if lang == "python"]
        findings = dict(zip(python, ruff_findings([programs[i] for i in python])))
        return [quality(findings.get(i, 0), sum(not c.isspace() for c in p)) for i, p in enumerate(programs)]

    def identity(self) -> dict:
        return {"kind": self.kind, "ruff": ruff_version(), "select": list(RUFF_SELECT), "levels": LEVELS,
                "size_scale": SIZE_SCALE}
