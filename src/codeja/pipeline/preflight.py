"""Preflight: what a stage needs, checked before anything heavy starts (no model is loaded, no data is read in full).

For each stage config: names are valid (backends, benchmarks, sanitizers, prompt templates), models resolve
(a folder with config.json, a .gguf, a cached hub id, or a hub id the run may download), input files exist and
their first record has the fields the stage reads, optional extras are installed (vLLM, llama-cpp-python, a GPU
where the config asks for one, Megatron-LM for the megatron engine, accelerate config files).

``codeja run`` runs it on every stage before the first one starts and stops on errors (a typo in the eval stage
should not cost a CPU-day of training first); ``codeja run --dry-run`` prints every finding. The stage CLIs
(``codeja eval run``, ``synth magpie``, ``prefs``, ``generate``) run the same checks for their one config.

Values produced by an earlier stage that has not run yet (``${cpt.model_path}``) cannot be checked now: they are
listed as "from stage cpt".
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeja.errors import CodejaError, ConfigError, InputError
from codeja.io import iter_jsonl

PENDING = re.compile(r"<([A-Za-z][A-Za-z0-9_-]*)(?:\.[A-Za-z0-9_.:-]+)?>")


@dataclass
class Finding:
    stage: str
    level: str  # "ok" | "warn" | "error" | "pending" (produced by an earlier stage that has not run)
    message: str

    def __str__(self) -> str:
        return f"{self.stage}: {self.level}: {self.message}"


def _get(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = getattr(cfg, part, None) if not isinstance(cfg, dict) else cfg.get(part)
        if cfg is None:
            return None
    return cfg


def _pending(value: Any) -> str | None:
    m = PENDING.search(value) if isinstance(value, str) else None
    return m.group(1) if m else None


def _gpu() -> bool:
    try:
        # heavy: torch (kept out of `codeja --help` and light imports)
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


class _Checker:
    def __init__(self, stage: str):
        self.stage = stage
        self.findings: list[Finding] = []

    def add(self, level: str, message: str) -> None:
        self.findings.append(Finding(self.stage, level, message))

    def guard(self, fn, *args) -> Any:
        """Run a check that raises codeja's errors; a raise becomes an error finding."""
        try:
            return fn(*args)
        except CodejaError as e:
            self.add("error", str(e))
            return None

    # -- individual checks ----------------------------------------------------------------------------------
    def model(self, what: str, arg: Any, *, backend: str = "transformers") -> None:
        if arg in (None, ""):
            return
        if (up := _pending(arg)) is not None:
            self.add("pending", f"{what}: from stage {up}")
            return
        if backend == "openai":
            self.add("ok", f"{what}: '{arg}' (the server's model name; not resolved locally)")
            return
        # fails fast before a stage's modules load (this module imports ~100 modules; the stages' ~800):
        # each check imports what it checks
        from codeja.models.resolve import TINY_ALIASES, resolve_model

        if str(arg) in TINY_ALIASES:
            self.add("ok", f"{what}: the bundled tiny model")
            return
        ref = self.guard(resolve_model, str(arg))
        if ref is None:
            return
        if ref.path is None:
            self.add("warn", f"{what}: hub id '{arg}' is not in the local cache; it will be downloaded")
        else:
            self.add("ok", f"{what}: {ref.path}")

    def backend(self, what: str, name: Any, options: dict | None) -> str | None:
        from codeja.backends import check_backend

        if self.guard(check_backend, str(name)) is None:
            return None
        options = options or {}
        if name == "openai" and not options.get("base_url"):
            self.add("error", f"{what}: the openai backend needs backend_options.base_url (--base-url)")
        elif name == "vllm":
            if importlib.util.find_spec("vllm") is None:
                self.add("error", f"{what}: vLLM is not installed (pip install 'codeja[vllm]', on a GPU machine)")
            elif not _gpu():
                self.add("error", f"{what}: vLLM needs a CUDA GPU; none is visible")
        elif name == "llamacpp":
            from codeja.backends.llamacpp import INSTALL_HINT, available

            if not available():
                self.add("error", f"{what}: {INSTALL_HINT}")
        return str(name)

    def file(self, what: str, path: Any, *, fields: tuple[tuple[str, ...], ...] = ()) -> None:
        """``path`` exists; a JSONL's first record has one of the ``fields`` alternatives (all keys of one)."""
        if path in (None, ""):
            return
        if (up := _pending(path)) is not None:
            self.add("pending", f"{what}: from stage {up}")
            return
        p = Path(str(path)).expanduser()
        if not p.exists():
            self.add("error", f"{what}: {p}: file not found")
            return
        if not fields or not p.is_file() or ".jsonl" not in p.name:
            self.add("ok", f"{what}: {p}")
            return
        first = _first_record(p)
        if isinstance(first, str):
            self.add("error", f"{what}: {p}: {first}")
        elif not any(all(k in first for k in alt) for alt in fields):
            want = " or ".join("+".join(alt) for alt in fields)
            self.add("error", f"{what}: {p}:1: expected field(s) {want}; the first record has: "
                              f"{', '.join(first) or 'no fields'}")
        else:
            self.add("ok", f"{what}: {p}")

    def gpu_needed(self, what: str) -> None:
        if not _gpu():
            self.add("error", f"{what} needs a CUDA GPU; none is visible")


def _first_record(path: Path) -> dict | str:
    """The first non-empty JSONL record, or a sentence saying why there is none."""
    try:
        for _, obj in iter_jsonl(path):
            return obj
    except InputError as e:
        return f"line {e.line}: {e.reason}" if e.line else e.reason
    except OSError as e:
        return f"cannot read: {e}"
    return "empty file"


# ---------------------------------------------------------------------------------------------------------------
# per stage kind

INSTRUCTION_LAYOUTS = (("messages",), ("prompt",))


def _finetune_data(c: _Checker, cfg: Any, kind: str, ref: Any) -> None:
    """SFT / DPO data: a JSONL's first row must parse as the stage parses it (after the ``columns`` renames); a
    dataset folder, data file or hub id is checked when it is loaded (a hub id may need the network)."""
    from codeja.hub_datasets import parse_ref
    from codeja.train.data import detect_sft_format, parse_pair, parse_sft_row

    if ref in (None, ""):
        return
    if (up := _pending(ref)) is not None:
        c.add("pending", f"data: from stage {up}")
        return
    text = str(ref)
    if not (text.lower().endswith((".jsonl", ".jsonl.gz")) or (Path(text).is_file() and parse_ref(text) is None)):
        before = len(c.findings)
        src = c.guard(parse_ref, text, _get(cfg, "hub"))
        if len(c.findings) > before:  # parse_ref raised; reported
            return
        if src is None:
            c.add("error", f"data: {text}: file not found (nor a dataset folder or hub id owner/name)")
        else:
            c.add("ok", f"data: {text} (a dataset; read when the stage loads it)")
        return
    p = Path(text).expanduser()
    if not p.is_file():
        c.add("error", f"data: {p}: file not found")
        return
    first = _first_record(p)
    if isinstance(first, str):
        c.add("error", f"data: {p}: {first}")
        return
    columns = _get(cfg, "columns") or {}
    obj = {columns.get(k, k): v for k, v in first.items()}
    try:
        if kind == "train.sft":
            fmt = _get(cfg, "data_format") or "auto"
            fmt = detect_sft_format(obj) if fmt == "auto" else fmt
            if fmt is None:
                raise InputError(f"no SFT format matches the fields {', '.join(obj) or '(none)'} (messages, "
                                 "conversations, prompt+completion, instruction+output, text; or map them with "
                                 "columns)", path=str(p), line=1)
            parse_sft_row(obj, fmt, str(p), 1)
        else:
            parse_pair(obj, str(p), 1)
    except InputError as e:
        c.add("error", f"data: {e}")
        return
    c.add("ok", f"data: {p}")


def _train(c: _Checker, cfg: Any, kind: str) -> None:
    c.model("model", cfg.model)
    if kind == "train.cpt":
        for src in cfg.sources if cfg.data else []:  # one prefix, or the prefixes of a mixture
            key = "data" if isinstance(cfg.data, str) else f"data.{src.name}"
            if (up := _pending(src.prefix)) is not None:
                c.add("pending", f"{key}: from stage {up}")
            else:
                for ext in (".bin", ".idx"):
                    c.file(key, f"{src.prefix}{ext}")
    else:
        for ref in [cfg.data, *(_get(cfg, "extra_data") or [])]:
            _finetune_data(c, cfg, kind, ref)
        c.model("ref_model", _get(cfg, "ref_model"))
    if getattr(cfg, "precision", None) == "fp16":
        c.gpu_needed("precision fp16")
    if (acc := _get(cfg, "accelerate_config")) and not _pending(acc):
        c.file("accelerate_config", acc)
        if not _gpu():
            c.add("warn", f"accelerate_config {acc}: FSDP / DeepSpeed configs are meant for GPUs; none is visible")
    if _get(cfg, "engine") == "megatron":
        # the launch runs on every node (often from a scheduler), so what this host lacks is a warning only
        root = Path(str(_get(cfg, "megatron.megatron_lm_dir")))
        if not (root / "pretrain_gpt.py").is_file():
            c.add("warn", f"engine megatron: {root}/pretrain_gpt.py not found here (megatron.megatron_lm_dir); it "
                          "must exist on the nodes that run the launch")
        if not _gpu():
            c.add("warn", "engine megatron: no CUDA GPU visible here; the nodes that run the launch need them")


def _eval(c: _Checker, cfg: Any) -> None:
    from codeja.evaluate.benchmarks import benchmark_names, get_benchmark
    from codeja.evaluate.generate import TEMPLATES
    from codeja.evaluate.sanitize import get_sanitizer

    backend = c.backend("backend", cfg.backend, cfg.backend_options)
    names = benchmark_names()
    for b in cfg.benchmarks:
        if b not in names:
            c.guard(get_benchmark, b)  # raises the "unknown benchmark ... did you mean" error
            continue
        bench = c.guard(lambda name=b: get_benchmark(name, cfg.benchmark_paths.get(name), 1,
                                                     prompt_lang=cfg.prompt_lang))
        if bench is None:
            continue
        c.add("ok", f"benchmark {b}: data present")
        lang = bench.tasks[0].language if bench.tasks and bench.kind != "qa" else None
        if lang:
            from codeja.sandbox import get_language

            language = c.guard(get_language, lang)
            if language is not None and not language.available():
                c.add("warn", f"benchmark {b}: the {lang} toolchain is missing ({', '.join(language.missing_tools())})"
                              "; its programs will count as toolchain-missing")
    spec = cfg.sanitizer
    for s in (["codeja"] if spec == "all" else [x.strip() for x in str(spec).split(",") if x.strip()]):
        c.guard(get_sanitizer, s)
    if cfg.generation.prompt_template not in TEMPLATES:
        c.add("error", f"generation.prompt_template: unknown template '{cfg.generation.prompt_template}'; known: "
                       f"{', '.join(TEMPLATES)}")
    # a training run or a glob stands for its checkpoints: check the models it expands to
    from codeja.evaluate.checkpoints import expand_models

    for arg in cfg.models:
        expanded = [arg] if _pending(arg) is not None else [s.arg for s in c.guard(expand_models, [arg]) or []]
        for m in expanded:
            c.model("model", m, backend=backend or "transformers")


def _magpie(c: _Checker, cfg: Any) -> None:
    backend = c.backend("backend", cfg.backend, cfg.backend_options)
    c.model("model", cfg.model, backend=backend or "transformers")
    if getattr(cfg, "tokenizer", None):
        c.model("tokenizer", cfg.tokenizer)


def _prefs(c: _Checker, cfg: Any) -> None:
    s = cfg.sample
    backend = c.backend("sample.backend", s.backend, s.backend_options)
    c.model("sample.model", s.model, backend=backend or "transformers")
    c.file("sample.instructions", s.instructions, fields=INSTRUCTION_LAYOUTS)
    kind = _get(cfg, "scorer.kind")
    if kind in ("reward_model", "weighted") or (kind == "execution" and _get(cfg, "scorer.reward_model.model")):
        c.model("scorer.reward_model.model", _get(cfg, "scorer.reward_model.model"))
        if str(_get(cfg, "scorer.reward_model.device") or "").startswith("cuda"):
            c.gpu_needed("scorer.reward_model.device cuda")


def _curate(c: _Checker, cfg: Any) -> None:
    for src in cfg.sources:
        if src.kind == "files" and src.path == "stdlib":
            c.add("ok", f"source {src.name}: the Python standard library")
        else:
            c.file(f"source {src.name}", src.path)


def _tokenize(c: _Checker, cfg: Any) -> None:
    c.file("input", cfg.input)
    c.model("model", cfg.model)


def _prefs_pairs(c: _Checker, cfg: Any) -> None:
    c.file("candidates", cfg.candidates, fields=(("id", "prompt", "responses"),))


CHECKS = {"curate": _curate, "tokenize": _tokenize, "synth.magpie": _magpie, "prefs": _prefs, "eval": _eval,
          "prefs.candidates": _prefs, "prefs.pairs": _prefs_pairs,
          "train.cpt": lambda c, cfg: _train(c, cfg, "train.cpt"),
          "train.sft": lambda c, cfg: _train(c, cfg, "train.sft"),
          "train.dpo": lambda c, cfg: _train(c, cfg, "train.dpo")}


def check_stage(kind: str, cfg: Any, name: str | None = None) -> list[Finding]:
    """Findings for one stage config (no model loading, no full reads)."""
    c = _Checker(name or kind)
    check = CHECKS.get(kind)
    if check is not None:
        check(c, cfg)
    return c.findings


def raise_on_errors(findings: Iterable[Finding]) -> None:
    """A ConfigError listing every error finding (one per line), if there are any."""
    errors = [f for f in findings if f.level == "error"]
    if errors:
        raise ConfigError("preflight found problems (nothing was run):\n  " + "\n  ".join(map(str, errors)))


def preflight_recipe(pipe) -> list[Finding]:
    """Findings for every enabled stage of a :class:`~codeja.pipeline.runner.Pipeline`'s recipe.

    Values from completed stages are checked as they are; values from stages still to run (never run, or whose
    config changed since) are "pending": their outputs on disk are about to be replaced.
    """
    from codeja.pipeline.recipe import stage_config

    rerun = {p.name for p in pipe.plan() if p.action in {"run", "resume"}}

    def resolve(ref: str) -> Any:
        head = ref.split(".")[0]
        if head not in rerun and pipe.state["stages"].get(head, {}).get("status") == "complete":
            return pipe._resolve(ref, planning=True)
        return f"<{ref}>"

    findings: list[Finding] = []
    for spec in pipe.recipe.stages:
        if not spec.enabled:
            continue
        try:
            cfg = stage_config(pipe.recipe, spec, resolve, source=f"stages.{spec.name}.config")
        except CodejaError as e:
            findings.append(Finding(spec.name, "error", str(e)))
            continue
        findings += check_stage(spec.kind, cfg, spec.name)
    return findings
