"""The Magpie stage config (``stage: synth.magpie``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from codeja.backends.settings import BackendName, BackendOptions, MaxNewTokens, PenalisedGenerationSettings, Temperature
from codeja.codeparse import canonical_language
from codeja.config import StrictModel
from codeja.quality.tasks import TASK_TYPES

INSTRUCTION_LANGS = ("ja", "en")

DEFAULT_LANGUAGES = {"python": 0.2, "javascript": 0.1, "typescript": 0.1, "java": 0.1, "cpp": 0.1, "go": 0.15,
                     "rust": 0.15, "bash": 0.1}


def _check_weights(v: dict[str, float], what: str, allowed: tuple[str, ...] | None = None) -> dict[str, float]:
    if not v:
        raise ValueError(f"give at least one {what} with a weight")
    for k, w in v.items():
        if allowed is not None and k not in allowed:
            raise ValueError(f"unknown {what} '{k}'; choose from {', '.join(allowed)}")
        if w < 0:
            raise ValueError(f"{what} '{k}': weight must be >= 0, got {w}")
    if sum(v.values()) <= 0:
        raise ValueError(f"the {what} weights sum to 0")
    return v


class SteeringConfig(StrictModel):
    """What the generated instructions should be about. Weights are relative (normalised per dimension)."""

    enabled: bool = Field(True, description="Steer with task-specific system prompts. False: the model's default "
                                            "system prompt, as plain Magpie does.")
    languages: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_LANGUAGES),
                                        description="Programming language -> weight (aliases like 'golang' allowed).")
    task_types: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(TASK_TYPES, 1.0),
                                         description=f"Task type -> weight; task types: {', '.join(TASK_TYPES)}.")
    instruction_langs: dict[str, float] = Field(default_factory=lambda: {"ja": 0.5, "en": 0.5},
                                                description="Natural language of the instructions -> weight (ja, en).")
    system_prompts: dict[str, str] = Field(default_factory=dict, description=(
        "Replacement prompt templates keyed 'task_type.lang' (e.g. 'fix.ja'), with {language}, {target}, {fence}."))
    system_prompt: Literal["task", "seed", "magpie-coding"] = Field("task", description=(
        "task: one prompt per (task type, instruction language), describing the user turn (all three dimensions "
        "steered). seed: Magpie's coding prompt naming the drawn programming language ('... coding questions about "
        "the {language} programming language.'; only the language is steered). magpie-coding: Magpie's original "
        "coding prompt for every row (nothing steered)."))
    baseline_system_prompt: Literal["magpie-coding", "none"] = Field("magpie-coding", description=(
        "System prompt of the baseline_rows that measure the steering effect: Magpie's original coding prompt "
        "(the unsteered baseline of Magpie's code data), or none (the model's default system prompt)."))

    @field_validator("languages")
    @classmethod
    def _langs(cls, v: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for k, w in _check_weights(v, "language").items():
            out[canonical_language(k)] = out.get(canonical_language(k), 0.0) + w
        return out

    @field_validator("task_types")
    @classmethod
    def _tasks(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_weights(v, "task type", TASK_TYPES)

    @field_validator("instruction_langs")
    @classmethod
    def _ilangs(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_weights(v, "instruction language", INSTRUCTION_LANGS)

    @field_validator("system_prompts")
    @classmethod
    def _prompts(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            task, _, lang = key.partition(".")
            if task not in TASK_TYPES or lang not in INSTRUCTION_LANGS:
                raise ValueError(f"'{key}': keys are 'task_type.lang', e.g. 'fix.ja'")
        return v


class SamplingConfig(PenalisedGenerationSettings):
    """Decoding settings for one generation phase."""

    temperature: Temperature = Field(0.7, description="0 = greedy.")
    max_new_tokens: MaxNewTokens = Field(384, description="Token budget; hitting it marks the text "
                                                          "truncated.")


class FilterConfig(StrictModel):
    """Row filters. Each removed row records the first failing check as its reason (all failing in `reasons`)."""

    min_instruction_chars: int = Field(20, ge=0, description="Shorter instructions are removed (too_short).")
    max_instruction_chars: int = Field(6000, ge=1, description="Longer instructions are removed (too_long).")
    min_response_chars: int = Field(20, ge=0, description="Shorter responses are removed.")
    max_response_chars: int = Field(20000, ge=1, description="Longer responses are removed.")
    max_repetition: float = Field(0.5, ge=0, le=1, description="Max repeated 4-gram share (quality.repetition_score).")
    instruction_language: bool = Field(True, description="Remove rows whose instruction is not in the requested "
                                                         "natural language.")
    programming_language: bool = Field(True, description="Remove rows where the requested programming language is "
                                                         "not among those detected in instruction + response.")
    refusals: bool = Field(True, description="Remove responses that refuse.")
    placeholders: bool = Field(True, description="Remove responses with placeholder TODOs in code "
                                                 "(codeja.quality.placeholder).")
    parse: bool = Field(True, description="Remove responses whose code blocks do not parse.")
    near_dup_threshold: float = Field(0.8, gt=0, le=1, description="MinHash Jaccard above which an instruction is "
                                                                  "a near-duplicate of an earlier one.")
    near_dup_ngram: int = Field(5, ge=1, description="Character n-gram size for MinHash (characters, so Japanese "
                                                     "works without a word segmenter).")
    near_dup_num_perm: int = Field(128, ge=16, description="MinHash permutations.")


class MagpieConfig(StrictModel):
    """Magpie synthesis: steered instructions from the pre-query template, responses through the chat template."""

    model: str = Field("tiny", description="Chat model: 'tiny', an HF folder, a .gguf or a hub id.")
    backend: BackendName = Field("transformers",
                                 description="Generation engine (a name in codeja.backends.BACKENDS).")
    backend_options: BackendOptions = Field(default_factory=dict, description="Extra backend arguments "
                                            "(base_url, dtype, tensor_parallel_size ...).")
    tokenizer: str | None = Field(None, description="Where the chat template comes from; default: the model.")
    rows: int = Field(16, ge=1, description="Instructions to generate (kept + removed).")
    baseline_rows: int = Field(0, ge=0, description="Extra unsteered instructions (steering.baseline_system_prompt) "
                                                   "generated only to measure the steering effect in the report.")
    seed: int = Field(0, description="Seeds the steering draws and sampling (per row).")
    batch_size: int = Field(16, ge=1, description="Prompts per backend call (the unit of resume).")
    turns: int = Field(1, ge=1, le=8, description="User turns per conversation (multi-turn Magpie when > 1).")
    steering: SteeringConfig = Field(default_factory=SteeringConfig, description="What to ask for.")
    instruction: SamplingConfig = Field(
        default_factory=lambda: SamplingConfig(temperature=0.7, top_p=1.0, max_new_tokens=384),
        description="Instruction sampling (high temperature for variety; never stops at the first newline).")
    response: SamplingConfig = Field(
        default_factory=lambda: SamplingConfig(temperature=0.0, max_new_tokens=768, repetition_penalty=1.1),
        description="Response sampling (greedy by default, as Magpie).")
    response_system_prompt: str | None = Field(None, description="System prompt for answering; None: the model's "
                                                                 "default. The steering prompt is never shown.")
    filters: FilterConfig = Field(default_factory=FilterConfig, description="Row filters and dedup.")

    @model_validator(mode="after")
    def _lengths(self) -> MagpieConfig:
        f = self.filters
        if f.min_instruction_chars >= f.max_instruction_chars or f.min_response_chars >= f.max_response_chars:
            raise ValueError("filters: min_*_chars must be below max_*_chars")
        return self
