"""``bigcode@2024-01``: bigcode-evaluation-harness post-processing at HEAD 8fc5bae6.

``prompt + _stop_at_stop_token(generation, stop_words)``: the generation is cut at the earliest of the task's stop
words (plain ``str.find``). Stop words per benchmark: HumanEval ``["\\nclass", "\\ndef", "\\n#", "\\n@", "\\nprint",
"\\nif", "\\n```", "<file_sep>"]`` (the 2024-01-10 list), MultiPL-E the dataset's ``stop_tokens`` + ``<file_sep>``,
HumanEvalPack the CodeGeeX lists. Quirks kept on purpose: helpers after the entry point are cut by ``"\\ndef"``,
a column-0 comment or ``if`` ends the function.
"""

from __future__ import annotations

from codeja.backends.base import apply_stop
from codeja.evaluate.sanitize.base import Sanitized, Sanitizer


class BigcodeSanitizer(Sanitizer):
    name, version = "bigcode", "2024-01"

    def stops(self, task, bench) -> list[str]:
        return list(dict.fromkeys(list(task.meta.get("stop") or []) + list(getattr(bench, "bigcode_stop", bench.stop))))

    def sanitize(self, text, task, bench, kind="completion"):
        if kind == "solution":
            # bigcode strips the prompt by string length; a whole answer that restates the prompt is cut after it
            if task.prefix and text.startswith(task.prefix):
                text, kind = text[len(task.prefix):], "completion"
            else:
                return Sanitized(text, closed=True, rule="solution-unchanged")
        cut, which = apply_stop(text, self.stops(task, bench))
        return Sanitized(task.prefix + cut, closed=False, rule=f"stop:{which!r}" if which else "no-stop")
