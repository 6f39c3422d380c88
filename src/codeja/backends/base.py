"""The one interface every generation engine implements.

Two entry points, both batched:

* :meth:`Backend.complete` takes raw prompt strings (base-model completion, Magpie pre-query templates, FIM
  prompts): the prompt is used byte for byte, nothing is added around it.
* :meth:`Backend.chat` takes conversations (lists of ``{"role", "content"}``) and renders them with the model's
  chat template, with the generation prompt added.

Both return, per prompt, ``params.n`` :class:`Generation` objects carrying the text, token counts and why
generation stopped. Sampling is reproducible: sample ``j`` of prompt ``i`` is drawn with seed
``derive_seed(params.seed, i, j)`` wherever the engine allows per-request seeds.
"""

from __future__ import annotations

import difflib
import hashlib
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Literal, TypeVar

from codeja.errors import ConfigError

Message = dict  # {"role": "system"|"user"|"assistant", "content": str}

FinishReason = Literal["stop", "length", "error"]


@dataclass
class SamplingParams:
    """Decoding settings shared by all backends.

    ``temperature == 0`` means greedy. ``stop`` strings end generation and are cut from the returned text
    (``Generation.stop_reason`` says which one matched). ``seed`` makes sampling reproducible.
    """

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    seed: int = 0
    repetition_penalty: float = 1.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason  # "stop": EOS or a stop string; "length": hit max_new_tokens; "error": see `error`
    stop_reason: str | None = None  # the stop string that matched, if any
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 31-bit seed from (seed, keys...): independent of batch composition, order and worker count."""
    h = hashlib.sha256(repr((seed, *keys)).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def apply_stop(text: str, stop: list[str]) -> tuple[str, str | None]:
    """Cut ``text`` at the earliest stop string; returns (text, matched stop or None)."""
    best, which = len(text), None
    for s in stop:
        if s:
            i = text.find(s)
            if 0 <= i < best:
                best, which = i, s
    return text[:best], which


class Backend(ABC):
    """A text-generation engine. Subclasses: transformers (default), openai (HTTP), vllm, llamacpp (optional).

    A subclass takes the model (a path, alias or server-side name) and keyword options in its constructor,
    and is made choosable by name with :func:`register_backend`.
    """

    name: str = "base"

    @abstractmethod
    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        """Continue each raw prompt; returns ``params.n`` generations per prompt, in prompt order."""

    @abstractmethod
    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        """Answer each conversation through the chat template; ``params.n`` generations per conversation."""

    def identity(self) -> dict:
        """What produced the text (backend name, model path or id, model hash): recorded in manifests."""
        return {"backend": self.name}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free engine resources (GPU memory, HTTP clients)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# name -> engine class. The allowed ``backend`` values of every config and CLI flag are this dict's keys;
# ``codeja.backends`` registers the built-in engines when imported (their heavy libraries load only when one
# is opened).
BACKENDS: dict[str, type[Backend]] = {}

B = TypeVar("B", bound=type[Backend])


def register_backend(cls: B) -> B:
    """Class decorator: ``cls`` becomes choosable as ``backend: <cls.name>`` in configs and ``--backend``."""
    BACKENDS[cls.name] = cls
    return cls


def check_backend(name: str) -> str:
    """``name`` if it is a backend, else a ConfigError naming the closest: called before any model loads."""
    if name in BACKENDS:
        return name
    close = difflib.get_close_matches(name, list(BACKENDS), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"unknown backend '{name}'{hint}; choose one of: {', '.join(BACKENDS)}")
