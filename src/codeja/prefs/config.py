"""The ``prefs`` stage configs: sample N responses, filter them, score them, build chosen/rejected pairs.

One YAML file drives ``codeja prefs sample`` (the ``sample`` section), ``codeja prefs run`` (all four sections)
and, through the recipe runner, the ``prefs`` stage of a run::

    stage: prefs
    seed: 0
    sample: {instructions: data/instructions.jsonl, model: tiny, n: 4, temperature: 0.8}
    filters: {chain: [empty, truncated, refusal, language, placeholder, parse, repetition, duplicate]}
    scorer: {kind: reward_model, reward_model: {model: Skywork/Skywork-Reward-V2-Qwen3-0.6B}}
    build: {strategy: farthest, min_margin: 0.5}

A recipe can also run the two halves as two stages, so that variants which differ only in pair building share
one sampling and scoring (the rejected-pick ablation): ``prefs.candidates`` (:class:`CandidatesConfig`: seed,
sample, filters, scorer) and ``prefs.pairs`` (:class:`PairsConfig`: the candidates file, seed, build).

Paths are plain strings (a recipe fills them in from earlier stages), checked when the stage runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from codeja.backends.settings import BackendName, BackendOptions, MaxNewTokens, PenalisedGenerationSettings, Temperature
from codeja.config import StrictModel
from codeja.errors import ConfigError
from codeja.evaluate.sanitize import get_sanitizer
from codeja.prefs.filters import FILTERS
from codeja.prefs.scorers import SCORERS
from codeja.prefs.strategies import STRATEGIES

FILTER_NAMES: tuple[str, ...] = tuple(FILTERS)  # in the default order of the chain
# The default chain leaves 'execution' out: a response that fails tests is the most informative rejected
# response there is (with the default execution scorer it ranks below every passing one), so dropping it would
# leave only passing responses, all scoring 1.0. Who may be *chosen* is gated in the build step instead
# (build.chosen_min_pass_rate).
DEFAULT_CHAIN: tuple[str, ...] = tuple(f for f in FILTER_NAMES if f != "execution")


class SampleConfig(PenalisedGenerationSettings):
    """Drawing ``n`` responses per instruction from the policy model."""

    instructions: str = Field(
        "",
        description="JSONL of instructions: the Magpie stage's data.jsonl (`messages` + `meta`; a trailing assistant "
        "turn is dropped) or any JSONL with `id` + `prompt` (a list of messages or a string), optionally `tests` "
        "(str or list of str), `entry_point` and `language` for execution filtering and scoring.",
    )
    model: str = Field("tiny", description="Policy model: 'tiny' (the bundled SmolLM2), an HF folder, a .gguf "
                       "or a hub id.")
    backend: BackendName = Field("transformers", description="Generation backend: transformers, "
                                 "openai (HTTP), vllm or llamacpp (a name in codeja.backends.BACKENDS).")
    backend_options: BackendOptions = Field(default_factory=dict)
    n: int = Field(4, ge=1, le=64, description="Responses drawn per instruction.")
    temperature: Temperature = Field(
        0.8, description="Sampling temperature; 0 is greedy (then all n are identical).")
    max_new_tokens: MaxNewTokens = Field(
        512, description="Longest response in tokens; longer ones end 'length' (truncated).")
    stop: list[str] = Field(default_factory=list, description="Extra stop strings.")
    batch_size: int = Field(
        8, ge=1,
        description="Instructions per backend call. Also the unit of resume, and part of the seed derivation "
        "(call k samples with derive_seed(seed, 'sample', k)), so changing it changes the samples.",
    )
    limit: int | None = Field(None, ge=1, description="Use only the first N instructions (None: all).")


class FiltersConfig(StrictModel):
    """The rule-filter chain; each dropped response records the first filter that rejected it."""

    chain: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CHAIN),
        description=f"Filters to apply, in order. Known: {', '.join(FILTER_NAMES)}. The default leaves out "
        "'execution' so that responses failing tests stay in as rejected candidates (see build.chosen_min_pass_rate).",
    )
    max_repetition: float = Field(
        0.5, ge=0.0, le=1.0,
        description="'repetition' drops a response whose repetition score (share of repeated n-grams) exceeds this.",
    )
    require_code: bool = Field(
        False, description="'parse' also drops responses with no fenced code block (for code-only instruction sets)."
    )
    min_pass_rate: float = Field(
        1.0, ge=0.0, le=1.0,
        description="'execution' drops a response passing less than this share of the instruction's tests. "
        "Instructions without tests are never dropped by it.",
    )

    @field_validator("chain")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [f for f in v if f not in FILTERS]
        if unknown:
            raise ValueError(f"unknown filter(s) {unknown}; known: {', '.join(FILTERS)}")
        if len(set(v)) != len(v):
            raise ValueError("a filter is listed twice")
        return v


class RewardModelConfig(StrictModel):
    """A sequence-classification reward model (one logit = the reward), run with transformers."""

    model: str = Field(
        "", description="Local folder or hub id of an AutoModelForSequenceClassification with num_labels=1."
    )
    batch_size: int = Field(8, ge=1, description="Conversations scored per forward pass (right-padded).")
    max_length: int = Field(2048, ge=16, description="Longer conversations are truncated (from the right) to this.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="Weights dtype.")
    device: str = Field("cpu", description="torch device, e.g. cpu or cuda.")


class HTTPScorerConfig(StrictModel):
    """A reward model served behind an OpenAI-compatible /chat/completions endpoint (NVIDIA NIM style).

    The request carries the prompt plus the response as the final assistant turn; the reward comes back in the
    message content as ``name:value`` pairs (``reward:-3.25`` for Llama-3.1-Nemotron-70B-Reward,
    ``helpfulness:3.1,correctness:...`` for Nemotron-4-340B-Reward) and, where sent, in ``logprobs.content``.
    """

    url: str = Field("http://127.0.0.1:8000/v1", description="Base URL; '/chat/completions' is appended.")
    model: str = Field("nvidia/llama-3.1-nemotron-70b-reward", description="The served model name.")
    attribute: str = Field("reward", description="Which attribute is the score (when weights is empty).")
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="Score = sum(weight * attribute) instead, e.g. {helpfulness: 1, correctness: 1} for 340B.",
    )
    api_key_env: str = Field("", description="Environment variable holding a bearer token ('' for none).")
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout.")
    max_retries: int = Field(3, ge=0, description="Retries on connection errors and 5xx/429 answers.")
    concurrency: int = Field(4, ge=1, description="Requests in flight at once.")


TieBreak = Literal["auto", "reward_model", "http", "quality", "none"]


class ExecutionScorerConfig(StrictModel):
    """Pass rate of the response's code on the instruction's tests (through the sandbox), ties broken by a second
    signal (see :mod:`codeja.prefs.tiebreak`).

    score = pass_rate + tie_break_span * t / n_tests, with t in [0, 1] from the tie-break signal: responses that
    pass the same number of tests are ordered by t, and no t can outweigh one more passing test. An instruction
    without tests is scored by t alone (so Magpie rows work with the default scorer).
    """

    timeout_s: float = Field(10.0, gt=0, description="Wall-clock limit per test program.")
    workers: int | None = Field(None, ge=1, description="Parallel sandbox jobs (None: the sandbox's default).")
    default_language: str = Field("python", description="Language assumed when an instruction names none.")
    sanitizer: str = Field(
        "codeja",
        description="How a response becomes the code to test: an evaluation sanitizer (codeja, evalplus, "
        "bigcode, none; codeja.evaluate.sanitize), so a response scores here as the same text does in "
        "`codeja eval`.",
    )
    tie_break: TieBreak = Field(
        "auto",
        description="Second signal between responses passing the same share of tests: reward_model (the "
        "scorer.reward_model section; its reward through a sigmoid), http (scorer.http), quality (deterministic: "
        "fewer ruff findings on Python code, then less code), none (pass rate only; instructions without tests "
        "are then an error), auto (reward_model when scorer.reward_model.model is set, else quality).",
    )
    tie_break_span: float = Field(
        0.5, gt=0.0, lt=1.0,
        description="How much of one test's worth the tie-break may add (the term is span * t / n_tests).",
    )

    @field_validator("sanitizer")
    @classmethod
    def _known_sanitizer(cls, v: str) -> str:
        try:
            get_sanitizer(v)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return v


class InputScorerConfig(StrictModel):
    """Scores supplied in the instruction file, per response (for scores computed elsewhere)."""

    field: str = Field("score", description="The key in each response object holding its score.")


class ScorerConfig(StrictModel):
    """Which scorer ranks the surviving responses. Its identity is written to every pair's meta."""

    kind: str = Field(
        "execution",
        description="reward_model | http | execution | input (codeja.prefs.scorers.SCORERS) | weighted (a "
        "weighted sum of the others, see weights).",
    )
    reward_model: RewardModelConfig = Field(default_factory=RewardModelConfig, description="For kind reward_model.")
    http: HTTPScorerConfig = Field(default_factory=HTTPScorerConfig, description="For kind http.")
    execution: ExecutionScorerConfig = Field(default_factory=ExecutionScorerConfig, description="For kind execution.")
    input: InputScorerConfig = Field(default_factory=InputScorerConfig, description="For kind input.")
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="For kind weighted: scorer kind -> weight, e.g. {execution: 1.0, reward_model: 0.1} makes "
        "passing tests dominate and the reward model break ties.",
    )

    @model_validator(mode="after")
    def _weights_ok(self) -> ScorerConfig:
        if self.kind != "weighted" and self.kind not in SCORERS:
            known = ", ".join([*SCORERS, "weighted"])
            raise ValueError(f"kind: unknown scorer kind {self.kind!r}; known: {known}")
        if self.kind == "execution" and self.execution.tie_break == "reward_model" and not self.reward_model.model:
            raise ValueError("execution.tie_break 'reward_model' needs reward_model.model (a local folder or hub id)")
        if self.kind == "weighted":
            if not self.weights:
                raise ValueError("kind 'weighted' needs weights, e.g. {execution: 1.0, reward_model: 0.1}")
            bad = [k for k in self.weights if k not in SCORERS]
            if bad:
                raise ValueError(f"weights: unknown scorer kind(s) {bad}")
        return self


class BuildConfig(StrictModel):
    """Choosing chosen and rejected among the surviving, scored responses (see codeja.prefs.strategies)."""

    strategy: str = Field(
        "farthest",
        description="Rejected = the next highest (closest), the lowest (farthest) or a seeded uniform draw "
        "(random) among the survivors scoring below the chosen one. Chosen is the highest score; equal scores go "
        "to the earlier response. Known: codeja.prefs.strategies.STRATEGIES.",
    )
    min_margin: float | None = Field(
        None, ge=0.0, description="Drop pairs whose chosen-rejected score gap is below this (None: keep all)."
    )
    allow_ties: bool = Field(
        False,
        description="Let rejected score the same as chosen (a pair with no preference in it; counted in "
        "stats.json as zero_margin_pairs, with a warning). False: rejected always scores strictly lower, and "
        "where every other survivor ties with the chosen one the chosen one becomes an SFT row.",
    )
    chosen_min_pass_rate: float | None = Field(
        1.0, ge=0.0, le=1.0,
        description="A response can be chosen (or become an SFT row) only if it passed at least this share of "
        "its instruction's tests; responses of instructions without tests, or not run, are not gated. "
        "None: no gate.",
    )
    placeholder_rejected: bool = Field(
        False,
        description="Responses the placeholder filter removed become the rejected side instead of being dropped: "
        "chosen = the best survivor, rejected = the first placeholder response (the strategy applies only where "
        "an instruction has none). Recorded in each pair's meta (rejected_source) and in stats.json.",
    )

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; known: {', '.join(STRATEGIES)}")
        return v


class CandidatesConfig(StrictModel):
    """Sample -> filter -> score (the ``prefs.candidates`` stage): writes the candidates that pairs are built from."""

    seed: int = Field(0, description="Seeds sampling (per backend call).")
    sample: SampleConfig = Field(default_factory=SampleConfig, description="Response sampling.")
    filters: FiltersConfig = Field(default_factory=FiltersConfig, description="The rule-filter chain.")
    scorer: ScorerConfig = Field(default_factory=ScorerConfig, description="How survivors are scored.")


class PairsConfig(StrictModel):
    """Pair building from a candidates file (the ``prefs.pairs`` stage; ``codeja prefs build``)."""

    candidates: str = Field("", description="The candidates JSONL (a prefs.candidates stage's candidates_file).")
    seed: int = Field(0, description="Seeds the random strategy (with each instruction id).")
    build: BuildConfig = Field(default_factory=BuildConfig, description="Pair selection.")
    quarantine: bool = Field(False, description="Set bad candidate lines aside (quarantine.jsonl) and go on.")


class PrefsConfig(CandidatesConfig):
    """Preference pairs: sample -> filter -> score -> build, in one stage (see codeja.prefs.pipeline)."""

    seed: int = Field(0, description="Seeds sampling (per backend call) and the random strategy (per instruction id).")
    build: BuildConfig = Field(default_factory=BuildConfig, description="Pair selection.")
