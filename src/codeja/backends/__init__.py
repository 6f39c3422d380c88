"""Text generation behind one interface (:class:`~codeja.backends.base.Backend`).

``get_backend(model, backend="transformers", **opts)`` picks the engine:

* ``transformers`` (default): in-process, batched, CPU or GPU (:mod:`codeja.backends.hf`).
* ``openai``: any OpenAI-compatible server (vLLM serve, llama.cpp server, TGI, ...) over HTTP
  (:mod:`codeja.backends.openai_http`); ``model`` is the model name the server expects.
* ``vllm``: in-process vLLM on a GPU, an optional extra (:mod:`codeja.backends.vllm_backend`).

Engines are imported only when chosen, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path

from codeja.backends.base import Backend, Generation, Message, SamplingParams, apply_stop, derive_seed
from codeja.errors import CodejaError

BACKENDS = ("transformers", "openai", "vllm")


def get_backend(model: str | Path, backend: str = "transformers", **opts) -> Backend:
    """Open a generation backend for ``model``; ``opts`` go to the engine's constructor.

    transformers: ``batch_size``, ``dtype``, ``autocast``, ``device``, ``progress``.
    openai: ``base_url`` (required), ``api_key``, ``concurrency``, ``timeout``, ``max_retries``, ``backoff``.
    vllm: ``dtype``, ``tensor_parallel_size``, ``gpu_memory_utilization``, ``max_model_len`` and other
    ``vllm.LLM`` arguments.
    """
    if backend == "transformers":
        from codeja.backends.hf import TransformersBackend

        return TransformersBackend(model, **opts)
    if backend == "openai":
        from codeja.backends.openai_http import OpenAIBackend

        return OpenAIBackend(str(model), **opts)
    if backend == "vllm":
        from codeja.backends.vllm_backend import VLLMBackend

        return VLLMBackend(model, **opts)
    import difflib

    close = difflib.get_close_matches(backend, BACKENDS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise CodejaError(f"unknown backend '{backend}'{hint}; choose one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "Generation", "Message", "SamplingParams", "apply_stop", "derive_seed",
           "get_backend"]
