"""The benchmark registry: ``get_benchmark(name, path=None, limit=None, **options)``.

Names: ``humaneval``, ``jhumaneval`` (``prompt_lang="en"`` for the English prompts), ``multiple-<lang>``
(cpp cs d go java jl js lua php pl r rb rkt rs scala sh swift ts, and java-ja / cpp-ja with Japanese prompts),
``humanevalfix-<lang>`` / ``humanevalsynthesize-<lang>`` (python, js, java, cpp, go, rust), ``humaneval-infilling``
(single-line) and ``humaneval-infilling-{multi,random-span,random-span-light}``,
``jhumaneval-infilling[-multi|-random-span|-random-span-light]`` (the same tasks on JHumanEval's Japanese prompts),
``canitedit`` / ``canitedit-descriptive`` / ``canitedit-lazy``, ``niilc``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import partial

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

__all__ = ["BENCHMARKS", "Benchmark", "Source", "Task", "benchmark_names", "get_benchmark"]


# Benchmark name -> loader ``(path, limit, **options) -> Benchmark``, where options are the eval config's
# benchmark settings (prompt_lang, fim_mode): each ``load`` takes the ones it knows and ignores the rest. A
# new benchmark is a Benchmark subclass in its own module plus its entries here.
BENCHMARKS: dict[str, Callable[..., Benchmark]] = {
    "humaneval": HumanEval.load,
    "jhumaneval": JHumanEval.load,
    "humaneval-infilling": partial(HumanEvalInfilling.load, variant="single"),
    "canitedit": partial(CanItEdit.load, kinds=("descriptive", "lazy")),
    "canitedit-descriptive": partial(CanItEdit.load, kinds=("descriptive",)),
    "canitedit-lazy": partial(CanItEdit.load, kinds=("lazy",)),
    "niilc": NIILC.load,
    **{f"humaneval-infilling-{v}": partial(HumanEvalInfilling.load, variant=v)
       for v in INFILLING_FILES if v != "single"},
    "jhumaneval-infilling": partial(JHumanEvalInfilling.load, variant="single"),
    **{f"jhumaneval-infilling-{v}": partial(JHumanEvalInfilling.load, variant=v)
       for v in INFILLING_FILES if v != "single"},
    **{f"multiple-{x}": partial(MultiPLE.load, lang=x) for x in MULTIPLE_LANGS},
    **{f"humanevalfix-{x}": partial(HumanEvalPack.load, lang=x, variant="fixtests") for x in PACK_LANGS},
    **{f"humanevalsynthesize-{x}": partial(HumanEvalPack.load, lang=x, variant="synthesize")
       for x in PACK_LANGS},
}


def benchmark_names() -> list[str]:
    return list(BENCHMARKS)


def get_benchmark(name: str, path: str | None = None, limit: int | None = None, **options) -> Benchmark:
    """Load a benchmark by name from ``path`` (a local file, or ``hub:<id>@<revision>``) or its offline default."""
    loader = BENCHMARKS.get(name)
    if loader is not None:
        return loader(path, limit, **options)
    close = difflib.get_close_matches(name, benchmark_names(), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise InputError(f"unknown benchmark '{name}'{hint}; known: {', '.join(benchmark_names())}")
