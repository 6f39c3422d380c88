"""The steering spec: which (programming language, task type, instruction language) each row asks for.

Draws are independent per row: row ``i`` uses a generator seeded from ``(seed, "steer", i)`` only, so a resumed
or sharded run draws the same spec for the same row. Weights need not sum to one (they are normalised).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from codeja.backends.base import derive_seed
from codeja.codeparse import DISPLAY_NAMES, canonical_language
from codeja.synth.prompts import PRESETS, system_prompt_template

UNSTEERED_KEY = "default"
# Where a translate row needs a target language and the spec has only one language, draw from these.
FALLBACK_TARGETS = ("python", "javascript", "typescript", "java", "cpp", "go", "rust")


@dataclass(frozen=True)
class RowSpec:
    """What one row was asked to be; every field is recorded in the row's ``meta``."""

    language: str | None  # canonical programming language, None when unsteered
    task_type: str | None
    instruction_lang: str | None  # "ja" | "en"
    target_language: str | None = None  # translate tasks only
    system_prompt_key: str = UNSTEERED_KEY
    preset: str | None = None  # a single-prompt preset ("seed", "magpie-coding"); None: task prompts / unsteered

    def as_dict(self) -> dict:
        return asdict(self)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = sorted(weights)  # a fixed order, independent of how the config listed them
    total = sum(weights[k] for k in keys)
    x = rng.random() * total
    acc = 0.0
    for k in keys:
        acc += weights[k]
        if x < acc:
            return k
    return keys[-1]


def display_name(language: str) -> str:
    return DISPLAY_NAMES.get(language, language.capitalize())


def draw_row_spec(languages: dict[str, float], task_types: dict[str, float], instruction_langs: dict[str, float],
                  seed: int, row: int) -> RowSpec:
    """The steering draw for ``row``: one language, task type and instruction language by weight."""
    rng = random.Random(derive_seed(seed, "steer", row))
    language = _pick(rng, {canonical_language(k): v for k, v in languages.items() if v > 0})
    task = _pick(rng, {k: v for k, v in task_types.items() if v > 0})
    ilang = _pick(rng, {k: v for k, v in instruction_langs.items() if v > 0})
    target = None
    key = f"{task}.{language}.{ilang}"
    if task == "translate":
        others = {canonical_language(k): v for k, v in languages.items() if v > 0 and canonical_language(k) != language}
        if not others:
            others = {k: 1.0 for k in FALLBACK_TARGETS if k != language}
        target = _pick(rng, others)
        key = f"{task}.{language}>{target}.{ilang}"
    return RowSpec(language, task, ilang, target, key)


def preset_spec(preset: str, languages: dict[str, float], seed: int, row: int) -> RowSpec:
    """A row under a single-prompt preset: ``seed`` draws the language (the same draw as the task prompts would
    make for this row) and steers nothing else; ``magpie-coding`` steers nothing."""
    if preset == "magpie-coding":
        return RowSpec(None, None, None, None, "magpie-coding", preset)
    language = draw_row_spec(languages, {"write": 1.0}, {"en": 1.0}, seed, row).language
    return RowSpec(language, None, None, None, f"seed.{language}", preset)


def system_prompt_for(spec: RowSpec, overrides: dict[str, str] | None = None) -> str | None:
    """The steering system prompt of a row (None for unsteered rows: the model's default applies).

    ``overrides`` maps "task_type.instruction_lang" (e.g. "fix.ja") to a replacement template with the same
    placeholders.
    """
    if spec.preset:
        return PRESETS[spec.preset].format(language=display_name(spec.language) if spec.language else "")
    if spec.task_type is None:
        return None
    template = (overrides or {}).get(f"{spec.task_type}.{spec.instruction_lang}") or system_prompt_template(
        spec.task_type, spec.instruction_lang)
    return template.format(
        language=display_name(spec.language),
        target=display_name(spec.target_language) if spec.target_language else "",
        fence=spec.language,
    )
