"""The eval stage's one config: which models, which benchmarks, how to generate, how to score."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from codeja.backends.settings import BackendName, BackendOptions, GenerationSettings, MaxNewTokens
from codeja.config import StrictModel


class GenerationConfig(GenerationSettings):
    """Decoding settings, identical for every model in one run (that is what makes the runs comparable)."""

    mode: Literal["completion", "instruct", "auto"] = Field(
        "completion", description="completion: continue the raw prompt (works for every model, so base, CPT, SFT "
        "and DPO checkpoints are compared identically); instruct: the chat template with the named prompt template; "
        "auto: instruct when the tokenizer has a chat template (then modes may differ between models).")
    n: int = Field(1, ge=1, description="Samples per task (pass@k needs n >= k).")
    max_new_tokens: MaxNewTokens = Field(
        384, description="Generation budget per sample; hitting it counts as truncated.")
    batch_size: int = Field(8, ge=1, description="Prompts per backend call.")
    seed: int = Field(0, description="Sampling seed. A backend call for a batch of tasks whose first task "
                      "is i gets seed * 1_000_003 + i and draws sample j of its k-th prompt with "
                      "derive_seed(that, k, j): the same config gives the same samples; another batch_size "
                      "gives others.")
    prompt_template: str = Field("codeja-instruct@1", description="Named, versioned instruct prompt template.")
    extra_stop: list[str] = Field(default_factory=list, description="Stop strings added to each benchmark's own.")
    prompt_tail: Literal["strip", "keep"] = Field(
        "strip", description="Completion mode: 'strip' sends the prompt without its trailing whitespace and "
        "lets the model write it (as bigcode-evaluation-harness does): a prompt ending in a bare newline "
        "otherwise reads, to a tokenizer that merges a newline with the next line's indentation, like the "
        "end of a file, and a continued-pretrained model stops at once. 'keep' sends the raw prompt. Moves "
        "scores; see docs/evaluation.md.")


class ScoringConfig(StrictModel):
    """How samples become scores (:func:`codeja.evaluate.runner.score_samples`): sanitizers, pass@k, the
    bootstrap CI, sandbox limits. ``codeja eval run`` builds it from its :class:`EvalConfig`
    (:meth:`EvalConfig.scoring`), ``codeja eval score`` from its flags."""

    sanitizer: str | list[str] = Field(
        "codeja",
        description="A sanitizer name, a comma list or 'all' (every sample scored under each; the headline "
        "is the first listed, codeja for all).",
    )
    k: list[int] = Field(default_factory=lambda: [1, 10, 100],
                         description="pass@k values reported where n >= k.")
    bootstrap: int = Field(1000, ge=0,
                           description="Bootstrap resamples over tasks for the pass@1 CI (0 = off).")
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="Confidence level of the bootstrap interval.")
    seed: int = Field(0, description="Seed of the bootstrap.")
    timeout_s: float | None = Field(None, gt=0.0,
                                    description="Wall-clock limit per program (None: the benchmark's own).")
    memory_mb: int | None = Field(2048, ge=64, description="Memory limit per program (None: no limit).")
    workers: int | None = Field(None, ge=1, description="Sandbox workers (default: the sandbox's choice).")
    skip_bad_lines: bool = Field(False, description="Set aside sample lines that cannot be scored (else: fail).")


class EvalConfig(StrictModel):
    """`codeja eval run`: models x benchmarks, generated with identical settings, scored in the sandbox."""

    models: list[str] = Field(default_factory=lambda: ["tiny"], description="Model args (alias, folder, hub id). A "
                              "training stage's folder (RUN/cpt) or a glob of checkpoint folders means every saved "
                              "checkpoint, each evaluated as <name>@step-<N> (codeja.evaluate.checkpoints).")
    model_names: list[str] = Field(default_factory=list, description="Display names, one per model (default: the arg).")
    backend: BackendName = Field("transformers", description="Generation backend: transformers, openai, "
                                 "vllm, llamacpp (a name in codeja.backends.BACKENDS).")
    backend_options: BackendOptions = Field(default_factory=dict)
    benchmarks: list[str] = Field(default_factory=lambda: ["humaneval"], description="Benchmark names (see registry).")
    benchmark_paths: dict[str, str] = Field(default_factory=dict, description="Local data file per benchmark name.")
    limit: int | None = Field(None, ge=1, description="Use only the first N tasks of every benchmark.")
    subset_seed: int | None = Field(
        None, description="With limit: take N tasks picked by this seed (a hash of seed and task id, the same ids "
        "in every benchmark that has them) instead of the first N. Recorded in benchmark.options.")
    prompt_lang: Literal["ja", "en"] = Field("ja", description="jhumaneval: Japanese (prompt) or English (prompt_en).")
    fim_mode: Literal["psm", "spm"] = Field("psm", description="Infilling prompt layout ((j)humaneval-infilling), "
                                            "built from the model's own FIM sentinels: psm or spm (variant 2).")
    generation: GenerationConfig = Field(default_factory=GenerationConfig, description="Decoding settings.")
    sanitizer: str = Field("codeja", description="Sanitizer for the headline score: none, bigcode, evalplus, codeja.")
    k: list[int] = Field(default_factory=lambda: [1, 10, 100], description="pass@k values reported where n >= k")
    bootstrap: int = Field(1000, ge=0, description="Bootstrap resamples over tasks for the pass@1 CI (0: off).")
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="Confidence level of the bootstrap interval.")
    seed: int = Field(0, description="Seed of the bootstrap.")
    timeout_s: float = Field(10.0, gt=0.0, description="Wall-clock limit per program (compiled languages get more).")
    memory_mb: int = Field(2048, ge=64, description="Memory limit per program.")
    workers: int | None = Field(None, ge=1, description="Sandbox workers (default: the sandbox's choice).")
    force: bool = Field(False, description="Redo model/benchmark cells whose outputs already exist.")

    def scoring(self) -> ScoringConfig:
        """The scoring half of this config (its fields of the same names), as score_samples takes it."""
        shared = [k for k in ScoringConfig.model_fields if k in EvalConfig.model_fields]
        return ScoringConfig(**{k: getattr(self, k) for k in shared})
