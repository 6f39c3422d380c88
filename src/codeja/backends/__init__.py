"""Text generation behind one interface (:class:`~codeja.backends.base.Backend`).

``get_backend(model, backend="transformers", **opts)`` picks the engine:

* ``transformers`` (default): in-process, batched, CPU or GPU (:mod:`codeja.backends.hf`).
* ``openai``: any OpenAI-compatible server (vLLM serve, llama.cpp server, TGI, ...) over HTTP
  (:mod:`codeja.backends.openai_http`); ``model`` is the model name the server expects.
* ``vllm``: in-process vLLM on a GPU, an optional extra (:mod:`codeja.backends.vllm_backend`).
* ``llamacpp``: in-process llama.cpp, fast on a CPU, an optional extra (:mod:`codeja.backends.llamacpp`); HF
  checkpoints are exported to GGUF once, weights unchanged.

Each engine is a :class:`~codeja.backends.base.Backend` subclass registered by name in
:data:`~codeja.backends.base.BACKENDS` (the built-in ones below; a new one with ``@register_backend``);
the names configs accept are that dict's keys.
Engine libraries (torch, httpx, vllm, llama_cpp) are imported only when an engine is opened, so importing this
package is cheap. Configs declare generation settings with :mod:`codeja.backends.settings`.
"""

from __future__ import annotations

from pathlib import Path

from codeja.backends.base import (
    BACKENDS,
    Backend,
    Generation,
    Message,
    SamplingParams,
    apply_stop,
    check_backend,
    derive_seed,
    register_backend,
)
from codeja.backends.hf import TransformersBackend
from codeja.backends.llamacpp import LlamaCppBackend
from codeja.backends.openai_http import OpenAIBackend
from codeja.backends.vllm_backend import VLLMBackend

for _engine in (TransformersBackend, OpenAIBackend, VLLMBackend, LlamaCppBackend):
    register_backend(_engine)


def get_backend(model: str | Path, backend: str = "transformers", **opts) -> Backend:
    """Open a generation backend for ``model``; ``opts`` go to the engine's constructor.

    transformers: ``batch_size``, ``dtype``, ``autocast``, ``device``, ``progress``.
    openai: ``base_url`` (required), ``api_key``, ``concurrency``, ``timeout``, ``max_retries``, ``backoff``.
    vllm: ``dtype``, ``tensor_parallel_size``, ``gpu_memory_utilization``, ``max_model_len`` and other
    ``vllm.LLM`` arguments.
    llamacpp: ``n_ctx``, ``n_threads``, ``n_batch``, ``progress``.
    """
    return BACKENDS[check_backend(backend)](model, **opts)


__all__ = ["BACKENDS", "Backend", "Generation", "LlamaCppBackend", "Message", "OpenAIBackend",
           "SamplingParams", "TransformersBackend", "VLLMBackend", "apply_stop", "check_backend",
           "derive_seed", "get_backend", "register_backend"]
