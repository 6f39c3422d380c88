"""Magpie pre-query templates derived from the model's own chat template.

Magpie gives an aligned model only the chat template up to the start of a user turn; the model then writes a
user message. Instead of a hand-kept table of template strings per model family, we render a conversation around
a sentinel user message with the tokenizer's chat template and cut just before the sentinel. What a template does
on its own (default system blocks, date headers, BOS) then comes out right for any model, and a small registry of
known corrections covers the cases where the model's rendering is not what Magpie wants:

* Llama-3.x: the 3.1+ template injects a "Cutting Knowledge Date" system block even when no system message is
  given; Magpie's working Llama-3 pre-query opens straight with the user header (magpie model_configs.json).
* Qwen2.5: without its default "You are Qwen ..." system block the model writes fragments instead of questions
  (magpie issue #28); the correction guarantees the block when no system prompt is given.
* Templates that reject a system role (Gemma-2 raises "System role not supported"): the system prompt is folded
  into the start of the user turn, the way Gemma's own later templates do it.

The returned text starts with the template's BOS when it has one; backends use raw prompts byte for byte
(no special tokens added), so there is no double BOS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError

from codeja.errors import ConfigError

SENTINEL = "CODEJA_PRE_QUERY_SENTINEL_7f3a"
FOLD_SEPARATOR = "\n\n"  # between a folded system prompt and the user text


@dataclass(frozen=True)
class TemplateCorrection:
    """A known fix to the derived pre-query of one model family."""

    name: str
    reason: str
    applies: Callable[[str], bool]  # given the chat template source
    fix: Callable[[str, str | None], str]  # (derived pre-query, system prompt or None) -> corrected pre-query


_LLAMA3_SYSTEM = re.compile(r"<\|start_header_id\|>system<\|end_header_id\|>\n\n.*?<\|eot_id\|>", re.DOTALL)
QWEN25_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def _llama3_fix(text: str, system: str | None) -> str:
    return _LLAMA3_SYSTEM.sub("", text, count=1) if system is None else text


def _qwen25_fix(text: str, system: str | None) -> str:
    if system is not None or QWEN25_DEFAULT_SYSTEM in text:
        return text
    return f"<|im_start|>system\n{QWEN25_DEFAULT_SYSTEM}<|im_end|>\n" + text


CORRECTIONS: list[TemplateCorrection] = [
    TemplateCorrection(
        "llama3-drop-injected-system",
        "Llama-3.1+ templates inject a knowledge-date system block when no system prompt is given; Magpie's "
        "Llama-3 pre-query starts with the user header.",
        lambda src: "<|start_header_id|>" in src and "Cutting Knowledge Date" in src,
        _llama3_fix,
    ),
    TemplateCorrection(
        "qwen2.5-default-system",
        "Qwen2.5 needs its default system block in the pre-query, else it writes fragments (magpie issue #28).",
        lambda src: QWEN25_DEFAULT_SYSTEM in src,
        _qwen25_fix,
    ),
]


@dataclass
class PreQuery:
    """A pre-query prompt and what generation of the user turn needs to stop on."""

    text: str
    stop: list[str]  # end of the user turn: the template's end-of-turn marker, the assistant header, EOS
    corrections: list[str] = field(default_factory=list)  # names of applied corrections
    system_folded: bool = False  # the template rejects system messages; the prompt opens the user turn


def _render(tokenizer: Any, messages: list[dict], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _template_source(tokenizer: Any) -> str:
    src = getattr(tokenizer, "chat_template", None)
    if isinstance(src, dict):  # named templates: "default" is what apply_chat_template uses
        src = src.get("default") or next(iter(src.values()), None)
    if not src:
        name = getattr(tokenizer, "name_or_path", "the tokenizer")
        raise ConfigError(f"{name} has no chat template; Magpie needs an aligned (chat) model")
    return src


def _with_system(tokenizer: Any, messages: list[dict], system: str | None, user: str) -> tuple[str, bool]:
    """Render ``[system?] + messages + [user]``; fold the system prompt into the first user turn if rejected."""
    head = [{"role": "system", "content": system}] if system is not None else []
    try:
        return _render(tokenizer, head + messages + [{"role": "user", "content": user}]), False
    except (TemplateError, ValueError) as e:  # raise_exception(...), e.g. Gemma's "System role not supported"
        if system is None or "system" not in str(e).lower():
            raise ConfigError(f"the chat template failed to render a user turn: {e}") from None
    convo = messages + [{"role": "user", "content": user}]
    first = next(i for i, m in enumerate(convo) if m["role"] == "user")
    convo[first] = {"role": "user", "content": system + FOLD_SEPARATOR + convo[first]["content"]}
    return _render(tokenizer, convo), True


def _stops(tokenizer: Any, system: str | None, history: list[dict]) -> list[str]:
    rendered, _ = _with_system(tokenizer, history, system, SENTINEL)
    after = rendered.split(SENTINEL, 1)[1]
    stops = []
    eot = after.strip().split("\n", 1)[0].strip()
    if eot:
        stops.append(eot)
    generation = _render_generation_prompt(tokenizer, system, history)
    if generation:
        stops.append(generation)
    eos = getattr(tokenizer, "eos_token", None)
    if isinstance(eos, str) and eos:
        stops.append(eos)
    return list(dict.fromkeys(stops))


def _render_generation_prompt(tokenizer: Any, system: str | None, history: list[dict]) -> str:
    """The assistant header (what add_generation_prompt appends), stripped; empty when it cannot be isolated."""
    convo = history + [{"role": "user", "content": SENTINEL}]
    try:
        without = _render(tokenizer, convo)
        with_gen = _render(tokenizer, convo, add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - only a stop-string refinement; the end-of-turn marker still stops
        return ""
    return with_gen[len(without):].strip() if with_gen.startswith(without) else ""


def derive_pre_query(tokenizer: Any, system_prompt: str | None = None, history: list[dict] | None = None) -> PreQuery:
    """The pre-query for a new user turn after ``history`` (earlier user/assistant messages; empty for turn 1)."""
    src = _template_source(tokenizer)
    history = list(history or [])
    rendered, folded = _with_system(tokenizer, history, system_prompt, SENTINEL)
    if rendered.count(SENTINEL) != 1:
        raise ConfigError("the chat template did not render the user message exactly once; cannot derive a "
                          "Magpie pre-query template from it")
    # with a folded system prompt the cut lands after "system prompt\n\n": the model continues the user turn
    text = rendered.split(SENTINEL, 1)[0]
    applied = []
    for c in CORRECTIONS:
        if c.applies(src):
            fixed = c.fix(text, system_prompt)
            if fixed != text:
                applied.append(c.name)
            text = fixed
    if folded:
        applied.append("system-folded-into-user")
    return PreQuery(text, _stops(tokenizer, system_prompt, history), applied, folded)


def pre_query_template(tokenizer: Any, system_prompt: str | None = None) -> str:
    """The Magpie pre-query template: the chat template rendered up to where the first user message starts."""
    return derive_pre_query(tokenizer, system_prompt).text
