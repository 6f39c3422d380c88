"""The openai backend against real HTTP servers.

* A real llama.cpp server (``llama-cpp-python[server]``) serving the bundled GGUF on a free loopback port:
  completions, chat, stop strings, n > 1, seeds. Skipped, with the reason, if llama_cpp is not installed
  (``scripts/setup-python.sh`` builds it).
* A scripted stdlib HTTP server for the failure paths: retries on 503/429 with backoff, no retry on 404,
  a refused connection, and a malformed body.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from codeja.backends import SamplingParams, get_backend
from codeja.errors import CodejaError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------------------
# a real llama.cpp server


@pytest.fixture(scope="module")
def llama_server():
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python[server] is not installed (scripts/setup-python.sh builds it; ~4 min)")
    for mod in ("uvicorn", "fastapi", "sse_starlette"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"llama-cpp-python is installed without its [server] extra ({mod} missing)")
    from codeja.models import bundled_gguf

    port = _free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf()), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--model_alias", "smollm2"]
    log = open(os.devnull, "w")  # closed in the finally below
    # its own process group, so the teardown kills the server and anything it spawned
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {proc.returncode} before it was ready: {' '.join(cmd)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/v1/models", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("llama.cpp server not ready after 180 s")
            time.sleep(0.5)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def remote(llama_server):
    return get_backend("smollm2", "openai", base_url=llama_server, concurrency=2, timeout=120)


@pytest.mark.slow
@pytest.mark.llamacpp
def test_complete_and_chat(remote):
    [[g]] = remote.complete(["def add(a, b):\n"], SamplingParams(max_new_tokens=12))
    assert g.text and g.prompt_tokens > 0 and 0 < g.completion_tokens <= 12 and g.finish_reason in ("stop", "length")
    [[c]] = remote.chat([[{"role": "user", "content": "PythonでFizzBuzzを書いて"}]], SamplingParams(max_new_tokens=24))
    assert c.text.strip() and c.prompt_tokens > 10 and c.completion_tokens > 0
    assert remote.identity() == {"backend": "openai", "model": "smollm2", "base_url": remote.base_url}


@pytest.mark.slow
@pytest.mark.llamacpp
def test_length_and_stop_string(remote):
    prompt = ["The capital of Japan is"]
    [[free]] = remote.complete(prompt, SamplingParams(max_new_tokens=10))
    assert free.finish_reason == "length" and free.completion_tokens == 10
    stop = free.text.strip()[:3]
    [[g]] = remote.complete(prompt, SamplingParams(max_new_tokens=10, stop=[stop]))
    assert g.finish_reason == "stop" and stop not in g.text and free.text.startswith(g.text)


@pytest.mark.slow
@pytest.mark.llamacpp
def test_n_samples_are_seeded(remote):
    params = SamplingParams(max_new_tokens=8, temperature=1.0, n=3, seed=5)
    a = remote.complete(["Once upon a time", "def f("], params)
    assert [len(x) for x in a] == [3, 3]
    assert len({g.text for g in a[0]}) > 1
    b = remote.complete(["Once upon a time", "def f("], params)
    assert [[g.text for g in x] for x in a] == [[g.text for g in x] for x in b]


@pytest.mark.slow
@pytest.mark.llamacpp
def test_wrong_path_is_404_without_retries(llama_server):
    b = get_backend("smollm2", "openai", base_url=f"{llama_server}/nope/v1", max_retries=3, backoff=5)
    t0 = time.monotonic()
    with pytest.raises(CodejaError, match=r"POST .*/nope/v1/completions: HTTP 404.*wrong path"):
        b.complete(["x"], SamplingParams(max_new_tokens=2))
    assert time.monotonic() - t0 < 5  # a 404 is final: no backoff sleeps


# ---------------------------------------------------------------------------------------------------------------
# scripted failures


class _Scripted(BaseHTTPRequestHandler):
    script: list = []
    calls: list = []

    def do_POST(self):  # http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append((self.path, body))
        status, payload = type(self).script.pop(0) if type(self).script else (200, None)
        if payload is None:
            payload = {"choices": [{"text": "ok STOP more", "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def scripted():
    _Scripted.script, _Scripted.calls = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Scripted
    server.shutdown()
    server.server_close()


def test_retries_then_succeeds(scripted):
    url, handler = scripted
    handler.script = [(503, {"error": {"message": "busy"}}), (429, {"error": "slow down"})]
    b = get_backend("m", "openai", base_url=url, max_retries=3, backoff=0.01)
    [[g]] = b.complete(["hi"], SamplingParams(max_new_tokens=5, stop=["STOP"], seed=9))
    assert (g.text, g.stop_reason, g.prompt_tokens, g.completion_tokens) == ("ok ", "STOP", 3, 4)
    assert len(handler.calls) == 3 and handler.calls[-1][0] == "/v1/completions"
    body = handler.calls[-1][1]
    assert body["model"] == "m" and body["max_tokens"] == 5 and body["stop"] == ["STOP"] and body["n"] == 1
    from codeja.backends import derive_seed

    assert body["seed"] == derive_seed(9, 0, 0)


def test_gives_up_after_retries_naming_url_and_status(scripted):
    url, handler = scripted
    handler.script = [(500, {"error": "boom"})] * 3
    b = get_backend("m", "openai", base_url=url + "/v1", max_retries=2, backoff=0.01)
    with pytest.raises(CodejaError, match=r"POST http://127\.0\.0\.1:\d+/v1/completions: failed after 3 attempts; "
                                          r"last error: HTTP 500: boom"):
        b.complete(["x"], SamplingParams())
    assert len(handler.calls) == 3


def test_connection_refused_is_a_clear_error():
    b = get_backend("m", "openai", base_url=f"http://127.0.0.1:{_free_port()}", max_retries=1, backoff=0.01,
                    connect_timeout=2)
    with pytest.raises(CodejaError, match=r"failed after 2 attempts.*ConnectError.*Is the server running"):
        b.chat([[{"role": "user", "content": "x"}]], SamplingParams())


def test_malformed_responses(scripted):
    url, handler = scripted
    handler.script = [(200, "not json"), (200, {"choices": []})]
    b = get_backend("m", "openai", base_url=url, max_retries=0)
    with pytest.raises(CodejaError, match="body is not JSON"):
        b.complete(["x"], SamplingParams())
    with pytest.raises(CodejaError, match="unexpected response shape"):
        b.complete(["x"], SamplingParams())


def test_chat_endpoint_and_concurrency_limit(scripted):
    url, handler = scripted
    handler.script = [(200, {"choices": [{"message": {"content": f"a{i}"}, "finish_reason": "length"}]})
                      for i in range(6)]
    b = get_backend("m", "openai", base_url=url, concurrency=2)
    out = b.chat([[{"role": "user", "content": str(i)}] for i in range(3)], SamplingParams(n=2, temperature=0.5))
    assert [len(x) for x in out] == [2, 2, 2]
    assert all(g.finish_reason == "length" and g.text.startswith("a") for x in out for g in x)
    assert {c[0] for c in handler.calls} == {"/v1/chat/completions"}
    assert len({c[1]["seed"] for c in handler.calls}) == 6  # one seed per (prompt, sample)


def test_backoff_doubles_up_to_the_cap_with_private_jitter():
    import random
    from types import SimpleNamespace

    b = get_backend("m", "openai", base_url="http://127.0.0.1:1", backoff=0.5, max_backoff=3.0)
    state = random.getstate()
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        delay = b._delay(SimpleNamespace(attempt_number=attempt))
        assert 0.5 * base <= delay < 1.5 * base
    assert random.getstate() == state  # the jitter never touches the global generator
