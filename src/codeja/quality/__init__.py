"""Quality checks on a text, shared by curation, Magpie synthesis, preferences and evaluation health figures.

:mod:`codeja.quality.checks` holds the one :class:`~codeja.quality.checks.Check` protocol, the registry of
named checks and :class:`~codeja.quality.checks.Chain`; the modules below are the detectors the checks call.

Each check has one job, runs in well under a millisecond on typical chat text, and explains itself: checks that
reject return a reason string (``None`` when the text passes), detectors return plain labels. No check loads a
model except :func:`detect_instruction_language`, which falls back to lingua only for Latin-script text that the
cheap English cue cannot settle.
"""

from codeja.quality.checks import CHECKS, Chain, Check, Failure, Text, build_check, register
from codeja.quality.natural_language import detect_instruction_language, script_counts
from codeja.quality.placeholder import find_placeholder
from codeja.quality.programming import (
    code_blocks_parse,
    detect_programming_languages,
    guess_code_language,
    mentioned_languages,
)
from codeja.quality.refusal import detect_refusal
from codeja.quality.tasks import TASK_TYPES, detect_task_type
from codeja.quality.text import is_truncated, repetition_score, strip_code

__all__ = [
    "CHECKS",
    "TASK_TYPES",
    "Chain",
    "Check",
    "Failure",
    "Text",
    "build_check",
    "code_blocks_parse",
    "detect_instruction_language",
    "detect_programming_languages",
    "detect_refusal",
    "detect_task_type",
    "find_placeholder",
    "guess_code_language",
    "is_truncated",
    "mentioned_languages",
    "register",
    "repetition_score",
    "script_counts",
    "strip_code",
]
