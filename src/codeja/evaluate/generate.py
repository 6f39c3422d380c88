"""Samples from a model: completion mode (the raw prompt, FIM prompts for infilling) or instruct mode (a named,
versioned prompt template through the chat template). Same settings for every model of a run."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from codeja.codeparse import DISPLAY_NAMES
from codeja.errors import ConfigError
from codeja.evaluate.benchmarks import Benchmark, Task
from codeja.evaluate.config import GenerationConfig
from codeja.fim.prompt import build_fim_prompt, fim_stop_tokens

# name@version -> (English, Japanese) user-message template. A wording change is a new version.
TEMPLATES: dict[str, tuple[str, str]] = {
    "codeja-instruct@1": (
        ("Complete the following {language} code. Reply with the complete function in a single ```{fence}``` "
         "code block.\n\n```{fence}\n{prompt}\n```"),
        ("次の{language}のコードを完成させてください。完全な関数を1つの```{fence}```コードブロックで出力してください。"
         "\n\n```{fence}\n{prompt}\n```"),
    ),
}
FENCE = {"python": "python", "javascript": "javascript", "typescript": "typescript", "java": "java", "cpp": "cpp",
         "go": "go", "rust": "rust", "bash": "bash", "csharp": "csharp", "d": "d", "julia": "julia", "lua": "lua",
         "php": "php", "perl": "perl", "r": "r", "ruby": "ruby", "racket": "racket", "scala": "scala", "swift": "swift"}


def instruct_message(template: str, task: Task, bench: Benchmark) -> str:
    if template not in TEMPLATES:
        raise ConfigError(f"generation.prompt_template: unknown template '{template}'; known: {', '.join(TEMPLATES)}")
    if task.instruction:
        return task.instruction
    en, ja = TEMPLATES[template]
    japanese = bench.options.get("prompt_lang") == "ja"
    return (ja if japanese else en).format(language=DISPLAY_NAMES.get(task.language, task.language),
                                           fence=FENCE.get(task.language, ""), prompt=task.prompt.rstrip("\n"))


def resolve_mode(mode: str, backend: Any) -> str:
    if mode != "auto":
        return mode
    tok = getattr(backend, "tokenizer", None)
    return "instruct" if getattr(tok, "chat_template", None) else "completion"


def generate_samples(backend: Any, bench: Benchmark, gen: GenerationConfig, *, mode: str, fim_mode: str = "psm",
                     tokenizer: Any = None, progress: bool = False) -> list[dict[str, Any]]:
    """One row per (task, sample j) in the layout ``score`` reads, plus token counts and finish reasons."""

    tasks = bench.tasks
    infilling = mode == "completion" and any(t.suffix is not None for t in tasks)
    fim_stop = tuple(infill_stop(tokenizer)) if infilling else ()
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, t in enumerate(tasks):  # tasks with the same stop list share backend calls (MultiPL-E differs per task)
        stop = fim_stop if t.suffix is not None else tuple(bench.stop_for(t))
        groups.setdefault(stop + tuple(gen.extra_stop), []).append(i)
    prompts = {i: completion_prompt(t, fim_mode, tokenizer, gen.prompt_tail) for i, t in enumerate(tasks)} \
        if mode == "completion" else {}
    out: dict[int, list] = {}
    bar = None
    if progress:
        bar = tqdm(total=len(tasks), desc=f"generate {bench.name}", unit="task")
    for stop, idxs in groups.items():
        for start in range(0, len(idxs), gen.batch_size):
            chunk = idxs[start:start + gen.batch_size]
            # the seed depends on the first task index of the batch: the same config gives the same samples
            # (a different batch_size regroups tasks, and so draws different ones)
            params = gen.sampling_params(n=gen.n, stop=stop if mode == "completion" else (),
                                         seed=gen.seed * 1_000_003 + chunk[0])
            if mode == "instruct":
                convs = [[{"role": "user", "content": instruct_message(gen.prompt_template, tasks[i], bench)}]
                         for i in chunk]
                gens = backend.chat(convs, params)
            else:
                gens = backend.complete([prompts[i][0] for i in chunk], params)
            for i, g in zip(chunk, gens):
                out[i] = g
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    field = "solution" if mode == "instruct" and tasks and tasks[0].suffix is None else "completion"
    rows = []
    for i, t in enumerate(tasks):
        tail = prompts[i][1] if i in prompts else ""
        for j, g in enumerate(out[i]):
            # a completion continues the dataset's prompt (the layout `score` reads and every sanitizer
            # expects): the stripped tail comes off the front when the model wrote it, as it nearly always
            # does
            text = g.text[len(tail):] if tail and g.text.startswith(tail) else g.text
            rows.append({"task_id": t.task_id, field: text, "sample_index": j,
                         "completion_tokens": g.completion_tokens, "finish_reason": g.finish_reason,
                         **({"error": g.error} if g.error else {})})
    return rows


def completion_prompt(task: Task, fim_mode: str, tokenizer: Any,
                      prompt_tail: str = "strip") -> tuple[str, str]:
    """(the text sent to the model, the tail of the dataset's prompt left for the model to write).

    ``prompt_tail="strip"`` removes the prompt's trailing whitespace: a HumanEval prompt ends in a bare
    ``"\n"``, which a tokenizer that merges a newline with the next line's indentation (``"\n   "`` is one
    token) mostly sees at the end of a file, right before the end-of-document token. Infilling prompts are FIM
    prompts, sent as built.
    """
    if task.suffix is None:
        sent = task.prompt.rstrip() if prompt_tail == "strip" else task.prompt
        return sent, task.prompt[len(sent):]
    if tokenizer is None:
        raise ConfigError("infilling needs the model's tokenizer for its FIM sentinels")

    return build_fim_prompt(tokenizer, task.prompt, task.suffix, mode=fim_mode), ""


def infill_stop(tokenizer: Any) -> list[str]:
    """Stop strings of an infill: the model's FIM convention (EOT/EOD, pad, file separators, sentinels)."""
    if tokenizer is None:
        raise ConfigError("infilling needs the model's tokenizer for its FIM sentinels")

    return fim_stop_tokens(tokenizer)
