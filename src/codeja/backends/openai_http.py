"""Any OpenAI-compatible server (vLLM ``serve``, llama.cpp server, TGI, SGLang, a hosted API) over HTTP.

``complete`` posts to ``/v1/completions`` (the prompt is sent as is: Magpie pre-query templates and FIM prompts
need this); ``chat`` posts to ``/v1/chat/completions`` (the server applies its chat template).

Each sample is its own request with ``seed = derive_seed(params.seed, prompt index, sample index)``, so samples
are reproducible on servers that honour per-request seeds and never depend on how requests were grouped.
Requests run concurrently up to ``concurrency``; 429, 5xx, timeouts and connection errors are retried with
exponential backoff (tenacity; not the openai SDK, whose backoff is fixed at 0.5 s doubling to 8 s, so the
``backoff`` and ``max_backoff`` options users set would stop working, and which brings a second HTTP stack);
anything left is a :class:`~codeja.errors.CodejaError` naming the URL and the status.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from codeja.backends.base import Backend, Generation, Message, SamplingParams, apply_stop, derive_seed
from codeja.backends.settings import check_params
from codeja.errors import CodejaError
from codeja.log import GenerationProgress

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        progress: bool | None = None,
    ):
        if not base_url:
            raise CodejaError("the openai backend needs --base-url, e.g. http://127.0.0.1:8000/v1")
        if concurrency < 1 or max_retries < 0:
            raise CodejaError(f"openai backend: concurrency must be >= 1 and max_retries >= 0 "
                              f"(got {concurrency}, {max_retries})")
        base = base_url.rstrip("/")
        if not base.endswith("/v1"):
            base += "/v1"  # users pass either http://host:port or http://host:port/v1
        self.model = str(model)
        self.base_url = base
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.progress = progress

    # -- public API ------------------------------------------------------------------------------------------

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        return self._run("completions", [{"prompt": p} for p in prompts], params)

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        return self._run("chat/completions", [{"messages": list(c)} for c in conversations], params)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "base_url": self.base_url}

    # -- internals -------------------------------------------------------------------------------------------

    def _body(self, payload: dict, params: SamplingParams, seed: int) -> dict:
        body = {
            "model": self.model,
            **payload,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": 1,
            "seed": seed,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.repetition_penalty != 1.0:
            body["repeat_penalty"] = params.repetition_penalty  # llama.cpp's name
            body["repetition_penalty"] = params.repetition_penalty  # vLLM's name
        return body

    def _run(self, endpoint: str, payloads: list[dict], params: SamplingParams) -> list[list[Generation]]:
        check_params(params)
        jobs = [(i, j, self._body(p, params, derive_seed(params.seed, i, j)))
                for i, p in enumerate(payloads) for j in range(params.n)]
        results = _run_coro(self._gather(endpoint, jobs, params))
        out: list[list[Generation]] = [[None] * params.n for _ in payloads]  # type: ignore[list-item]
        for (i, j, _), gen in zip(jobs, results):
            out[i][j] = gen
        return out

    async def _gather(self, endpoint: str, jobs: list, params: SamplingParams) -> list[Generation]:
        url = f"{self.base_url}/{endpoint}"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout)
        gate = asyncio.Semaphore(self.concurrency)
        bar = GenerationProgress(len(jobs), show=self.progress)
        async with httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers) as client:
            async def one(i: int, j: int, body: dict) -> Generation:
                async with gate:
                    data = await self._post(client, url, body)
                gen = _parse(data, endpoint, params, url)
                bar.update(1, gen.completion_tokens)
                return gen

            try:
                return await asyncio.gather(*(one(i, j, b) for i, j, b in jobs))
            finally:
                bar.close()

    async def _post(self, client, url: str, body: dict) -> dict:
        retrying = AsyncRetrying(stop=stop_after_attempt(self.max_retries + 1), wait=self._delay,
                                 retry=retry_if_exception_type(_Retryable), reraise=True)
        try:
            async for attempt in retrying:
                with attempt:
                    return await _post_once(client, url, body)
        except _Retryable as e:
            raise CodejaError(f"POST {url}: failed after {self.max_retries + 1} attempts; last error: {e}. "
                              "Is the server running and reachable at that address?") from None
        raise AssertionError("unreachable: tenacity returns or raises")

    def _delay(self, state: RetryCallState) -> float:
        # exponential backoff with jitter; jitter from a private RNG so the global one is untouched
        delay = min(self.max_backoff, self.backoff * 2 ** (state.attempt_number - 1))
        return delay * (0.5 + _jitter.random())


class _Retryable(Exception):
    """A failure worth another attempt: a timeout, a lost connection, or a status in RETRY_STATUS."""


async def _post_once(client, url: str, body: dict) -> dict:
    try:
        resp = await client.post(url, json=body)
    except (httpx.TimeoutException, httpx.TransportError) as e:
        raise _Retryable(f"{type(e).__name__}: {e or 'no response'}") from None
    if resp.status_code < 400:
        try:
            return resp.json()
        except ValueError:
            raise CodejaError(f"POST {url}: HTTP {resp.status_code} but the body is not JSON: "
                              f"{resp.text[:200]!r}") from None
    last = f"HTTP {resp.status_code}: {_error_text(resp)}"
    if resp.status_code in RETRY_STATUS:
        raise _Retryable(last)
    raise CodejaError(f"POST {url}: {last}" + _hint(resp.status_code))


_jitter = random.Random(0)


def _error_text(resp) -> str:
    try:
        data = resp.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message") if isinstance(err, dict) else None
        return str(msg or err)[:300]
    except ValueError:
        return resp.text[:300] or resp.reason_phrase


def _hint(status: int) -> str:
    if status == 404:
        return " (wrong path? base_url should end in /v1, and the server must offer this endpoint)"
    if status in (401, 403):
        return " (check the API key)"
    return ""


def _parse(data: dict, endpoint: str, params: SamplingParams, url: str) -> Generation:
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] if endpoint.startswith("chat") else choice["text"]
    except (KeyError, IndexError, TypeError):
        raise CodejaError(f"POST {url}: unexpected response shape: {str(data)[:300]}") from None
    text = text or ""
    usage = data.get("usage") or {}
    # Servers already cut at stop strings; apply_stop again in case one does not (or returns the stop itself).
    text, matched = apply_stop(text, params.stop)
    reason = choice.get("finish_reason")
    finish = "length" if reason == "length" else "stop"
    return Generation(text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                      completion_tokens=int(usage.get("completion_tokens") or 0), finish_reason=finish,
                      stop_reason=matched or _matched_stop(choice, params))


def _matched_stop(choice: dict, params: SamplingParams) -> str | None:
    # vLLM reports the matched stop string in `stop_reason`; others do not say which one matched.
    sr = choice.get("stop_reason")
    return sr if isinstance(sr, str) and sr in params.stop else None


def _run_coro(coro):
    """Run a coroutine from sync code, also when the caller is already inside an event loop (e.g. Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
