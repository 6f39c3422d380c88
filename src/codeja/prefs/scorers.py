"""Scorers: one interface, four sources of a score (plus a weighted sum of them).

``Scorer.score(prompt_messages, responses) -> list[float]`` scores the responses to one prompt (higher is
better; scores are compared only within one prompt, as reward models intend). ``score_many`` does many prompts at
once so a reward model can batch across them. ``identity()`` says what produced the scores and is written into
every candidate and pair.

* :class:`RewardModelScorer`: an ``AutoModelForSequenceClassification`` with one label (local folder or hub id),
  the conversation rendered with the reward model's own chat template, batched and right-padded.
* :class:`HTTPRewardScorer`: a reward model behind an OpenAI-compatible ``/chat/completions`` endpoint, the way
  NVIDIA NIM serves Nemotron reward models: the response goes in as the final assistant turn, the reward comes
  back as ``"reward:-3.25"`` (Llama-3.1-Nemotron-70B-Reward) or ``"helpfulness:3.1,correctness:2.9,..."``
  (Nemotron-4-340B-Reward) in the message content, and in ``logprobs.content`` as (token=name, logprob=value).
* :class:`ExecutionScorer`: the share of the instruction's tests the response passes, through the sandbox, with
  ties broken by a second signal (a reward model when configured, else :mod:`codeja.prefs.tiebreak`'s
  deterministic code-quality measure), so that responses passing the same tests still rank.
* :class:`InputScorer`: a score already present in each response record (computed elsewhere).
"""

from __future__ import annotations

import math
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from codeja.errors import CodejaError, ConfigError, InputError
from codeja.models import load_tokenizer, resolve_model
from codeja.models.loading import _torch_dtype
from codeja.prefs.execution import ExecutionRunner
from codeja.prefs.records import Instruction
from codeja.prefs.tiebreak import QualityTieBreak

if TYPE_CHECKING:  # the config validates scorer kinds against SCORERS, so it imports this module
    from codeja.prefs.config import ScorerConfig


class ScorerError(CodejaError):
    """A scorer could not produce a score (unreachable server, unparsable answer, no tests to run)."""


@dataclass
class ScoreItem:
    """The responses to one prompt. ``instruction`` and ``records`` carry what some scorers need beyond text."""

    prompt: list[dict[str, str]]
    responses: list[str]
    instruction: Instruction | None = None
    records: list[dict[str, Any]] | None = None  # the response objects (supplied scores, cached execution)


def unflatten(flat: list[float], items: list[ScoreItem]) -> list[list[float]]:
    """Per-item lists from one flat list of per-response values (items' responses in order)."""
    out, pos = [], 0
    for it in items:
        out.append(flat[pos:pos + len(it.responses)])
        pos += len(it.responses)
    return out


class Scorer(ABC):
    kind: str = "base"

    def score(self, prompt_messages: list[dict[str, str]], responses: list[str], **context: Any) -> list[float]:
        """Scores for ``responses`` to one prompt; ``context``: ``instruction=``, ``records=`` (see ScoreItem)."""
        return self.score_many([ScoreItem(prompt_messages, responses, **context)])[0]

    @abstractmethod
    def score_many(self, items: list[ScoreItem]) -> list[list[float]]:
        """One list of scores per item, in order."""

    def score_many_detailed(self, items: list[ScoreItem]) -> list[list[dict[str, float]]]:
        """Per response ``{kind: score}``; the weighted scorer adds each component and ``total``."""
        return [[{self.kind: s} for s in scores] for scores in self.score_many(items)]

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model / the HTTP client."""


# ---------------------------------------------------------------------------------------------------------------
# sequence-classification reward model


class RewardModelScorer(Scorer):
    kind = "reward_model"

    def __init__(self, model: str, *, batch_size: int = 8, max_length: int = 2048, dtype: str = "float32",
                 device: str = "cpu"):
        if not model:
            raise ConfigError("scorer.reward_model.model: set a reward model (a local folder or a hub id)")
        # heavy: torch, transformers (kept out of `codeja --help` and light imports)
        import torch
        from transformers import AutoModelForSequenceClassification

        self.ref = resolve_model(model)
        name, kwargs = self.ref.load_args
        self.tokenizer = load_tokenizer(self.ref, padding_side="right")
        try:
            self.model = AutoModelForSequenceClassification.from_pretrained(name, dtype=_torch_dtype(dtype), **kwargs)
        except (OSError, ValueError) as e:
            raise ConfigError(f"scorer.reward_model.model: {model}: cannot load a sequence-classification model: "
                              f"{str(e).splitlines()[0]}") from None
        if self.model.config.num_labels != 1:
            raise ConfigError(f"scorer.reward_model.model: {model} has {self.model.config.num_labels} labels; "
                              "a reward model has exactly one (the reward logit)")
        # Right padding + the pad id in the config: the model pools the last non-pad token, which is the same
        # position a batch of one would use, so a score does not depend on what it was batched with.
        if self.tokenizer.pad_token_id is None:
            raise ConfigError(f"scorer.reward_model.model: {model}: the tokenizer has neither a pad nor an EOS token")
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.model.to(device).eval()
        self.device, self.batch_size, self.max_length, self.dtype = device, batch_size, max_length, dtype
        self._torch = torch
        self.model_name = model

    def render(self, prompt: list[dict[str, str]], response: str) -> str | tuple[str, str]:
        """The conversation as the reward model was trained to read it."""
        conversation = prompt + [{"role": "assistant", "content": response}]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(conversation, tokenize=False)
        # No chat template (e.g. OpenAssistant DeBERTa reward models): a (question, answer) text pair.
        return ("\n\n".join(m["content"] for m in prompt), response)

    def score_many(self, items: list[ScoreItem]) -> list[list[float]]:
        texts = [self.render(it.prompt, r) for it in items for r in it.responses]
        flat: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start:start + self.batch_size]
            if isinstance(chunk[0], tuple):
                enc = self.tokenizer([a for a, _ in chunk], [b for _, b in chunk], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
            else:
                enc = self.tokenizer(chunk, add_special_tokens=False, padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
            with self._torch.inference_mode():
                logits = self.model(**{k: v.to(self.device) for k, v in enc.items()}).logits
            flat.extend(float(x) for x in logits[:, 0].float().cpu())
        return unflatten(flat, items)

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model_name, "path": str(self.ref.path) if self.ref.path else None,
                "architecture": type(self.model).__name__, "dtype": self.dtype, "max_length": self.max_length}

    def close(self) -> None:
        del self.model


# ---------------------------------------------------------------------------------------------------------------
# served reward model (OpenAI-compatible chat endpoint, NIM / Nemotron style)

_PAIR = re.compile(r"([A-Za-z_][\w-]*)\s*:\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)")


def parse_reward_response(body: dict[str, Any]) -> dict[str, float]:
    """Attribute -> value from a chat-completion answer of a served reward model.

    Reads ``choices[0].logprobs.content`` (token = attribute name, logprob = value) when present, else parses
    ``name:value`` pairs from the message content. NIM has been seen returning ``message`` as a one-element list.
    """
    try:
        choice = body["choices"][0]
    except (KeyError, IndexError, TypeError):
        raise ScorerError(f"reward server answer has no choices: {str(body)[:200]}") from None
    values: dict[str, float] = {}
    content = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
    for entry in content or []:
        if (isinstance(entry, dict) and isinstance(entry.get("token"), str)
                and isinstance(entry.get("logprob"), (int, float))):
            values[entry["token"].strip()] = float(entry["logprob"])
    if values:
        return values
    message = choice.get("message")
    if isinstance(message, list):
        message = message[0] if message else {}
    text = (message or {}).get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        raise ScorerError(f"reward server answer has no message content: {str(choice)[:200]}")
    values = {k: float(v) for k, v in _PAIR.findall(text)}
    if not values:
        raise ScorerError(f"reward server answer is not 'name:value' pairs: {text[:200]!r}")
    return values


class HTTPRewardScorer(Scorer):
    kind = "http"

    def __init__(self, url: str, model: str, *, attribute: str = "reward", weights: dict[str, float] | None = None,
                 api_key_env: str = "", timeout_s: float = 120.0, max_retries: int = 3, concurrency: int = 4):

        headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ConfigError(f"scorer.http.api_key_env: environment variable {api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model, self.attribute, self.weights = model, attribute, dict(weights or {})
        self.max_retries, self.concurrency = max_retries, concurrency
        self.client = httpx.Client(timeout=timeout_s, headers=headers)

    def _value(self, values: dict[str, float]) -> float:
        if self.weights:
            missing = [k for k in self.weights if k not in values]
            if missing:
                raise ScorerError(f"reward server answer lacks {missing}; it has {sorted(values)}")
            return sum(w * values[k] for k, w in self.weights.items())
        if self.attribute not in values:
            raise ScorerError(f"reward server answer has no '{self.attribute}' (it has {sorted(values)}); "
                              "set scorer.http.attribute or scorer.http.weights")
        return values[self.attribute]

    def _one(self, prompt: list[dict[str, str]], response: str) -> float:

        payload = {"model": self.model, "messages": prompt + [{"role": "assistant", "content": response}],
                   "stream": False}
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                r = self.client.post(self.endpoint, json=payload)
            except httpx.HTTPError as e:
                last = f"{type(e).__name__}: {e}"
            else:
                if r.status_code == 200:
                    try:
                        body = r.json()
                    except ValueError:
                        raise ScorerError(f"{self.endpoint}: answer is not JSON: {r.text[:200]!r}") from None
                    return self._value(parse_reward_response(body))
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                if r.status_code < 500 and r.status_code != 429:
                    break  # a client error will not improve with retries
            if attempt < self.max_retries:
                time.sleep(min(0.5 * 2 ** attempt, 8.0))
        raise ScorerError(f"{self.endpoint}: no reward after {self.max_retries + 1} attempt(s): {last}")

    def score_many(self, items: list[ScoreItem]) -> list[list[float]]:
        jobs = [(it.prompt, r) for it in items for r in it.responses]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            flat = list(pool.map(lambda job: self._one(*job), jobs))  # map keeps order
        return unflatten(flat, items)

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.endpoint, "model": self.model,
                **({"weights": self.weights} if self.weights else {"attribute": self.attribute})}

    def close(self) -> None:
        self.client.close()


# ---------------------------------------------------------------------------------------------------------------
# execution pass rate and supplied scores


class ScorerTieBreak:
    """A reward scorer as the execution scorer's tie-break: t = sigmoid(reward), in (0, 1), order kept."""

    def __init__(self, scorer: Scorer):
        self.scorer, self.kind = scorer, scorer.kind

    def values(self, items: list[ScoreItem]) -> list[list[float]]:
        return [[_sigmoid(x) for x in scores] for scores in self.scorer.score_many(items)]

    def identity(self) -> dict[str, Any]:
        return self.scorer.identity()

    def close(self) -> None:
        self.scorer.close()


class QualityTieBreakAdapter:
    """:class:`codeja.prefs.tiebreak.QualityTieBreak` over score items."""

    def __init__(self, default_language: str = "python", sanitizer: str = "codeja"):
        self.measure = QualityTieBreak(default_language, sanitizer)
        self.kind = self.measure.kind

    def values(self, items: list[ScoreItem]) -> list[list[float]]:
        return unflatten(self.measure.values_for([(it.instruction, r) for it in items for r in it.responses]), items)

    def identity(self) -> dict[str, Any]:
        return self.measure.identity()

    def close(self) -> None:
        pass


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


class ExecutionScorer(Scorer):
    """Pass rate in [0, 1], plus ``span * t / n_tests`` from the tie-break (t in [0, 1]) when one is set.

    Responses that pass more tests always rank higher (the tie-break term stays below one test's worth); among
    responses passing the same tests the tie-break decides. An instruction without tests is scored by t alone
    (pass rate ``None``); without a tie-break it is an error. Reuses results the execution filter cached on the
    records. ``score_many_detailed`` gives ``{"execution": pass rate, "tie_break": t, "total": score}``.
    """

    kind = "execution"

    def __init__(self, runner: ExecutionRunner | None = None, tie_break: Any = None, span: float = 0.5):
        self.runner = runner or ExecutionRunner()
        self.tie_break, self.span = tie_break, span

    def score_many_detailed(self, items: list[ScoreItem]) -> list[list[dict[str, float | None]]]:
        todo = []
        for it in items:
            tested = it.instruction is not None and bool(it.instruction.tests)
            if not tested and self.tie_break is None:
                where = f"instruction {it.instruction.id!r}" if it.instruction else "an item without an instruction"
                raise ScorerError(f"execution scorer: {where} has no tests; give instructions `tests` (+ "
                                  "`entry_point`, `language`), set scorer.execution.tie_break, or choose another "
                                  "scorer.kind")
            it.records = it.records or [{"text": r} for r in it.responses]
            if tested:
                todo.extend((it.instruction, rec) for rec in it.records)
        self.runner.run(todo)
        ts = self.tie_break.values(items) if self.tie_break is not None else None
        out = []
        for n, it in enumerate(items):
            tests = len(it.instruction.tests) if it.instruction is not None and it.instruction.tests else 0
            rows: list[dict[str, float | None]] = []
            for j, rec in enumerate(it.records):
                rate = rec["execution"]["pass_rate"] if tests else None
                if ts is None:
                    rows.append({"execution": rate})
                    continue
                t = ts[n][j]
                total = rate + self.span * t / tests if tests else t
                rows.append({"execution": rate, "tie_break": t, "total": total})
            out.append(rows)
        return out

    def score_many(self, items: list[ScoreItem]) -> list[list[float]]:
        return [[row.get("total", row["execution"]) for row in rows] for rows in self.score_many_detailed(items)]

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"kind": self.kind, "timeout_s": self.runner.timeout_s,
                                 "default_language": self.runner.default_language}
        if self.tie_break is not None:
            ident.update(tie_break=self.tie_break.identity(), tie_break_span=self.span)
        return ident

    def close(self) -> None:
        if self.tie_break is not None:
            self.tie_break.close()


class InputScorer(Scorer):
    kind = "input"

    def __init__(self, field: str = "score"):
        self.field = field

    def score_many(self, items: list[ScoreItem]) -> list[list[float]]:
        out = []
        for it in items:
            scores = []
            for i, rec in enumerate(it.records or []):
                value = rec.get(self.field)
                iid = it.instruction.id if it.instruction else "?"
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    line = it.instruction.line if it.instruction else None
                    path = (it.instruction.path or None) if it.instruction else None
                    raise InputError(f"instruction {iid!r}: expected a finite number, got {value!r}",
                                     path=path, line=line, field=f"responses[{i}].{self.field}")
                scores.append(float(value))
            if len(scores) != len(it.responses):
                raise ScorerError("input scorer: every response needs its record (with the score field)")
            out.append(scores)
        return out

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "field": self.field}


class WeightedScorer(Scorer):
    """sum(weight * component score): e.g. execution 1.0 + reward model 0.1 (tests decide, the RM breaks ties)."""

    kind = "weighted"

    def __init__(self, components: dict[str, tuple[float, Scorer]]):
        self.components = components

    def score_many_detailed(self, items: list[ScoreItem]) -> list[list[dict[str, float]]]:
        per = {k: sc.score_many(items) for k, (_, sc) in self.components.items()}
        out = []
        for n, it in enumerate(items):
            rows = []
            for j in range(len(it.responses)):
                row = {k: per[k][n][j] for k in self.components}
                row["total"] = sum(w * row[k] for k, (w, _) in self.components.items())
                rows.append(row)
            out.append(rows)
        return out

    def score_many(self, items: list[ScoreItem]) -> list[list[float]]:
        return [[row["total"] for row in rows] for rows in self.score_many_detailed(items)]

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "components": {k: {"weight": w, **sc.identity()}
                                                  for k, (w, sc) in self.components.items()}}

    def close(self) -> None:
        for _, sc in self.components.values():
            sc.close()


def _reward_model(cfg: ScorerConfig, runner: ExecutionRunner | None, tie_break: Any) -> Scorer:
    rm = cfg.reward_model
    return RewardModelScorer(rm.model, batch_size=rm.batch_size, max_length=rm.max_length, dtype=rm.dtype,
                             device=rm.device)


def _http(cfg: ScorerConfig, runner: ExecutionRunner | None, tie_break: Any) -> Scorer:
    h = cfg.http
    return HTTPRewardScorer(h.url, h.model, attribute=h.attribute, weights=h.weights,
                            api_key_env=h.api_key_env, timeout_s=h.timeout_s, max_retries=h.max_retries,
                            concurrency=h.concurrency)


def _execution(cfg: ScorerConfig, runner: ExecutionRunner | None, tie_break: Any) -> Scorer:
    ex = cfg.execution
    runner = runner or ExecutionRunner(ex.timeout_s, ex.workers, ex.default_language, sanitizer=ex.sanitizer)
    return ExecutionScorer(runner, tie_break, ex.tie_break_span)


def _input(cfg: ScorerConfig, runner: ExecutionRunner | None, tie_break: Any) -> Scorer:
    return InputScorer(cfg.input.field)


# Scorer kind -> factory(config, shared execution runner, tie-break or None). ``weighted`` combines these.
SCORERS: dict[str, Callable[[ScorerConfig, ExecutionRunner | None, Any], Scorer]] = {
    "reward_model": _reward_model, "http": _http, "execution": _execution, "input": _input,
}


def make_scorer(cfg: ScorerConfig, runner: ExecutionRunner | None = None) -> Scorer:
    """The scorer a config names (the execution runner is shared with the execution filter)."""

    def one(kind: str, tie_break: bool = False) -> Scorer:
        if kind not in SCORERS:
            raise ConfigError(f"scorer.kind: unknown kind {kind!r}")
        return SCORERS[kind](cfg, runner, make_tie_break(cfg, one) if tie_break else None)

    if cfg.kind == "weighted":  # the components are combined as configured, each one plain
        return WeightedScorer({k: (w, one(k)) for k, w in cfg.weights.items()})
    return one(cfg.kind, tie_break=True)


def make_tie_break(cfg: ScorerConfig, make_one) -> Any:
    """The execution scorer's second signal: ``scorer.execution.tie_break`` resolved (``auto``: the reward model
    when ``scorer.reward_model.model`` is set, else the deterministic quality measure)."""
    kind = cfg.execution.tie_break
    if kind == "auto":
        kind = "reward_model" if cfg.reward_model.model else "quality"
    if kind == "none":
        return None
    if kind == "quality":
        return QualityTieBreakAdapter(cfg.execution.default_language, cfg.execution.sanitizer)
    return ScorerTieBreak(make_one(kind))
