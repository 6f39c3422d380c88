"""Text generation behind one interface (:class:`~codeja.backends.base.Backend`).

``get_backend(model, backend="transformers", **opts)`` picks the engine:

* ``transformers`` (default): in-process, batched, CPU or GPU (:mod:`codeja.backends.hf`).
* ``openai``: any OpenAI-compatible server (vLLM serve, llama.cpp server, TGI, ...) over HTTP
  (:mod:`codeja.backends.openai_http`); ``model`` is the model name the server expects.
* ``vllm``: in-process vLLM on a GPU, an optional extra (:mod:`codeja.backends.vllm_backend`).
* ``llamacpp``: in-process llama.cpp, fast on a CPU, an optional extra (:mod:`codeja.backends.llamacpp`); HF
  checkpoints are exported to GGUF once, weights unchanged.

Engines are imported only when chosen, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path

from codeja.backends.base import Backend, Generation, Message, SamplingParams, apply_stop, derive_seed
from codeja.errors import ConfigError

BACKENDS = ("transformers", "openai", "vllm", "llamacpp")


def check_backend(name: str) -> str:
    """``name`` if it is a backend, else a ConfigError with the closest name: called before any model loads."""
    if name in BACKENDS:
        return name
    import difflib

    close = difflib.get_close_matches(name, BACKENDS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"unknown backend '{name}'{hint}; choose one of: {', '.join(BACKENDS)}")


def get_backend(model: str | Path, backend: str = "transformers", **opts) -> Backend:
    """Open a generation backend for ``model``; ``opts`` go to the engine's constructor.

    transformers: ``batch_size``, ``dtype``, ``autocast``, ``device``, ``progress``.
    openai: ``base_url`` (required), ``api_key``, ``concurrency``, ``timeout``, ``max_retries``, ``backoff``.
    vllm: ``dtype``, ``tensor_parallel_size``, ``gpu_memory_utilization``, ``max_model_len`` and other
    ``vllm.LLM`` arguments.
    llamacpp: ``n_ctx``, ``n_threads``, ``n_batch``, ``progress``.
    """
    check_backend(backend)
    if backend == "transformers":
        from codeja.backends.hf import TransformersBackend

        return TransformersBackend(model, **opts)
    if backend == "openai":
        from codeja.backends.openai_http import OpenAIBackend

        return OpenAIBackend(str(model), **opts)
    if backend == "vllm":
        from codeja.backends.vllm_backend import VLLMBackend

        return VLLMBackend(model, **opts)
    from codeja.backends.llamacpp import LlamaCppBackend

    return LlamaCppBackend(model, **opts)


__all__ = ["BACKENDS", "Backend", "check_backend", "Generation", "Message", "SamplingParams", "apply_stop", "derive_seed",
           "get_backend"]
