"""The benchmark registry: ``get_benchmark(name, path=None, limit=None, **options)``.

Names: ``humaneval``, ``jhumaneval`` (``prompt_lang="en"`` for the English prompts), ``multiple-<lang>``
(cpp cs d go java jl js lua php pl r rb rkt rs scala sh swift ts, and java-ja / cpp-ja with Japanese prompts), ``humanevalfix-<lang>`` / ``humanevalsynthesize-<lang>`` (python, js, java, cpp,
go, rust), ``humaneval-infilling`` (single-line) and ``humaneval-infilling-{multi,random-span,random-span-light}``,
``jhumaneval-infilling[-multi|-random-span|-random-span-light]`` (the same tasks on JHumanEval's Japanese prompts),
``canitedit`` / ``canitedit-descriptive`` / ``canitedit-lazy``, ``niilc``.
"""

from __future__ import annotations

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import Benchmark, Source, Task
from codeja.evaluate.benchmarks.canitedit import CanItEdit
from codeja.evaluate.benchmarks.humaneval import (
    INFILLING_FILES,
    HumanEval,
    HumanEvalInfilling,
    JHumanEval,
    JHumanEvalInfilling,
)
from codeja.evaluate.benchmarks.humanevalpack import PACK_LANGS, HumanEvalPack
from codeja.evaluate.benchmarks.multiple import MULTIPLE_LANGS, MultiPLE
from codeja.evaluate.benchmarks.niilc import NIILC

__all__ = ["Benchmark", "Source", "Task", "benchmark_names", "get_benchmark"]


def benchmark_names() -> list[str]:
    names = ["humaneval", "jhumaneval", "humaneval-infilling", "canitedit", "canitedit-descriptive", "canitedit-lazy",
             "niilc"]
    names += [f"humaneval-infilling-{v}" for v in INFILLING_FILES if v != "single"]
    names += ["jhumaneval-infilling"] + [f"jhumaneval-infilling-{v}" for v in INFILLING_FILES if v != "single"]
    names += [f"multiple-{x}" for x in MULTIPLE_LANGS]
    names += [f"humanevalfix-{x}" for x in PACK_LANGS] + [f"humanevalsynthesize-{x}" for x in PACK_LANGS]
    return names


def get_benchmark(name: str, path: str | None = None, limit: int | None = None, **options) -> Benchmark:
    """Load a benchmark by name from ``path`` (a local file, or ``hub:<id>@<revision>``) or its offline default."""
    if name == "humaneval":
        return HumanEval.load(path, limit)
    if name == "jhumaneval":
        return JHumanEval.load(path, limit, prompt_lang=options.get("prompt_lang", "ja"))
    for infilling in (HumanEvalInfilling, JHumanEvalInfilling):
        if name == infilling.name or name.startswith(infilling.name + "-"):
            variant = name[len(infilling.name) + 1:] or "single"
            return infilling.load(path, limit, variant=variant, fim_mode=options.get("fim_mode", "psm"))
    if name.startswith("multiple-") and name[len("multiple-"):] in MULTIPLE_LANGS:
        return MultiPLE.load(path, limit, lang=name[len("multiple-"):])
    for prefix, variant in (("humanevalfix-", "fixtests"), ("humanevalsynthesize-", "synthesize")):
        if name.startswith(prefix) and name[len(prefix):] in PACK_LANGS:
            return HumanEvalPack.load(path, limit, lang=name[len(prefix):], variant=variant)
    if name in ("canitedit", "canitedit-descriptive", "canitedit-lazy"):
        kinds = ("descriptive", "lazy") if name == "canitedit" else (name.split("-")[1],)
        return CanItEdit.load(path, limit, kinds=kinds)
    if name == "niilc":
        return NIILC.load(path, limit)
    import difflib

    close = difflib.get_close_matches(name, benchmark_names(), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise InputError(f"unknown benchmark '{name}'{hint}; known: {', '.join(benchmark_names())}")
