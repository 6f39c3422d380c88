"""Configs of the study stages (``codeja study ...`` and the ``study.*`` stage kinds of a recipe)."""

from __future__ import annotations

from pydantic import Field, field_validator

from codeja.backends.settings import BackendName, BackendOptions, GenerationSettings, MaxNewTokens, Temperature, TopP
from codeja.config import StrictModel
from codeja.studies.idioms import GROUPS


class ContaminateConfig(StrictModel):
    """``codeja study contaminate``: a copy of a code corpus, placeholder idioms in place of function bodies.

    Of the documents that have at least one replaceable body (see :mod:`codeja.studies.bodies`), exactly
    ``round(doc_share * n)`` are contaminated: those whose draw from (seed, document index) is smallest. In
    each, ``max(1, round(body_share * bodies))`` bodies, drawn from the same (seed, index) stream, get one
    idiom, also drawn per document. Everything else stays byte for byte; untouched lines are copied as they
    were.
    """

    input: str = Field("", description="A JSONL file or a folder of them (a curate stage's kept/).")
    seed: int = Field(0, description="Seed; every document's draws come from (seed, its index in the input).")
    doc_share: float = Field(0.5, ge=0.0, le=1.0,
                             description="Share of documents with replaceable bodies to contaminate.")
    body_share: float = Field(0.5, ge=0.0, le=1.0,
                              description="Share of a contaminated document's bodies replaced (at least 1).")
    idioms: str | None = Field(None, description="Idiom file (the layout of studies/resources/"
                               "placeholder_idioms.yaml); default: the shipped list.")
    groups: list[str] = Field(default_factory=lambda: list(GROUPS),
                              description=f"Idiom groups drawn from: {', '.join(GROUPS)}.")
    languages: list[str] = Field(default_factory=list, description="Only documents in these languages "
                                 "(default: every language with idioms and a grammar).")
    text_field: str = Field("text", description="Field holding the document text.")
    filter_extra_patterns: list[str] = Field(
        default_factory=list, description="Extra pattern files for the placeholder filter whose recall is "
        "measured (as curate's placeholder.extra_patterns).")

    @field_validator("groups")
    @classmethod
    def _groups_ok(cls, v: list[str]) -> list[str]:
        bad = [g for g in v if g not in GROUPS]
        if bad or not v:
            raise ValueError(f"expected one or more of {', '.join(GROUPS)}, got {bad or '[]'}")
        return v


class SplitConfig(StrictModel):
    """``study.split``: a corpus cut into named parts (e.g. train / held-out / prompts), seeded, exact shares.

    Document ``i`` draws one number from (seed, i); documents are ranked by it and the parts take consecutive
    runs of ``round(share * n)`` documents in the order given (the last part takes the remainder). Lines are
    copied byte for byte into ``<output>/<part>/<input file name>``.
    """

    input: str = Field("", description="A JSONL file or a folder of them (a curate stage's kept/).")
    seed: int = Field(0, description="Seed of the per-document draws.")
    parts: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.9, "heldout": 0.1},
        description="Part name -> share of the documents; shares must sum to 1.")
    text_field: str = Field("text", description="Field holding the document text (checked on every line).")

    @field_validator("parts")
    @classmethod
    def _parts_ok(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(s < 0 for s in v.values()) or abs(sum(v.values()) - 1.0) > 1e-9:
            raise ValueError(f"expected shares >= 0 summing to 1, got {v}")
        bad = [k for k in v if not k or "/" in k or k.startswith(".")]
        if bad:
            raise ValueError(f"part names must be plain folder names, got {bad}")
        return v


# bigcode-evaluation-harness's HumanEval stop words: generation ends with the function (also the study's eval
# setting, generation.extra_stop), so lengths measure the body, not what a model rambles on with after it
FUNCTION_STOP = ["\nclass ", "\ndef ", "\n#", "\n@", "\nprint", "\nif "]


class StudySampleConfig(GenerationSettings):
    """``study.sample``: completions of function prompts from a corpus, as preference-stage instructions.

    The prompts are module-level functions' headers and docstrings (:mod:`codeja.studies.prompts`); each gets
    ``n`` completions from ``model`` in completion mode, written as instructions with supplied ``responses``
    for the ``prefs.candidates`` stage (which then generates nothing). Each response carries ``score``: 1.0
    when the prompt plus completion compiles and the body does something (:mod:`codeja.studies.outputs`), else
    0.0, for the ``input`` scorer; and ``verdict`` (code / placeholder / empty).
    """

    corpus: str = Field("", description="A JSONL file or folder of them (id, text, metadata): Python code.")
    limit: int = Field(200, ge=1, description="Prompts used, drawn from (seed, prompt id) among all found.")
    min_docstring_chars: int = Field(20, ge=0, description="Shortest docstring of a usable function.")
    max_body_lines: int = Field(30, ge=1, description="Longest original body of a usable function.")
    model: str = Field("tiny", description="The policy model: alias, HF folder or hub id.")
    backend: BackendName = Field("transformers",
                                 description="Generation backend (a name in codeja.backends.BACKENDS).")
    backend_options: BackendOptions = Field(default_factory=dict)
    n: int = Field(4, ge=1, le=64, description="Completions per prompt.")
    temperature: Temperature = Field(0.8, description="Sampling temperature (0: greedy).")
    top_p: TopP = Field(0.95, description="Nucleus sampling mass.")
    max_new_tokens: MaxNewTokens = Field(192, description="Longest completion in tokens.")
    stop: list[str] = Field(default_factory=lambda: list(FUNCTION_STOP), description="Stop strings.")
    batch_size: int = Field(8, ge=1, description="Prompts per backend call (also the unit of resume).")
    seed: int = Field(0, description="Seed of the prompt draw and of sampling (per call).")


class CompletionPairsConfig(StrictModel):
    """``study.completion-pairs``: preference pairs on a completion prompt, in TRL's standard format.

    The preference stages write conversational pairs (the prompt a user turn, the answers assistant turns).
    For pairs sampled in completion mode (``study.sample``) the user turn *is* the raw prompt, so the pair is
    written back as ``{"prompt", "chosen", "rejected"}`` strings, which train.dpo trains on without a chat
    template.
    """

    pairs: str = Field("", description="A prefs pairs.jsonl (the prefs.pairs stage's pairs_file).")
    rejected_source: list[str] = Field(
        default_factory=lambda: ["placeholder"],
        description="Keep pairs whose meta.rejected_source is one of these ('placeholder': the rejected "
        "answer is one the placeholder filter removed; 'ranking': the scorer's choice). Empty: keep all.")
    chosen_min_score: float | None = Field(
        None, description="Keep pairs whose meta.chosen_score is at least this (study.sample's score: 1.0 = "
        "the chosen completion compiles and does something). None: no minimum.")


class PlaceholderStudyConfig(StrictModel):
    """``study.placeholder``: the placeholder study's measures per arm with bootstrap CIs, tables and plots.

    Per arm and benchmark (from the eval stage's samples): the share of placeholder outputs and of empty ones
    (:mod:`codeja.studies.outputs`), the mean output length in tokens and pass@1; per arm, the held-out
    left-to-right loss; per corpus, what the placeholder filter dropped; and paired differences between arms
    (the same tasks, the same held-out windows), each with a percentile bootstrap CI.
    """

    eval: str = Field("", description="The eval stage's folder (<model>/<benchmark>/samples.jsonl inside).")
    arms: list[str] = Field(default_factory=list, description="The eval's model names, in table order.")
    models: list[str] = Field(default_factory=list, description="The arms' models (same order), for the "
                              "held-out loss; empty: no loss.")
    benchmarks: list[str] = Field(default_factory=lambda: ["humaneval", "jhumaneval"],
                                  description="Benchmarks.")
    heldout: str = Field("", description="Tokenized held-out corpus (a tokenize stage's prefix).")
    heldout_seq_len: int = Field(512, ge=8, description="Window length of the held-out loss.")
    heldout_windows: int = Field(64, ge=1, description="Windows scored (the first, documents in file order).")
    filters: dict[str, str] = Field(default_factory=dict, description="Corpus label -> a curate stage's "
                                    "folder whose placeholder drops are reported.")
    contamination: str = Field("", description="The study.contaminate stage's folder (recall, record hash).")
    dpo_candidates: str = Field("", description="The preference candidates the DPO pairs came from (a "
                                "prefs.candidates candidates_file of study.sample responses): what the model "
                                "wrote and what the placeholder filter caught.")
    dpo_pairs: str = Field("", description="The study.completion-pairs stage's folder (the DPO pairs).")
    contrasts: list[tuple[str, str]] = Field(default_factory=list, description="(arm, reference arm) pairs "
                                             "whose paired differences are reported.")
    examples: int = Field(3, ge=0, description="Most frequent placeholder outputs listed per arm and benchmark "
                          "(0: none).")
    bootstrap: int = Field(2000, ge=0, description="Bootstrap resamples (over tasks, or held-out windows).")
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="Confidence level of the intervals.")
    seed: int = Field(0, description="Seed of the bootstrap.")
