"""The transformers backend on the tiny random model; one check on the real tiny model; backend selection."""

from __future__ import annotations

import json

import pytest

from codeja.backends import SamplingParams, get_backend
from codeja.backends.base import apply_stop, derive_seed
from codeja.cli import main
from codeja.errors import CodejaError

PROMPTS = ["def add(a, b):", "こんにちは、世界", "x", "import numpy as np\n\nclass Foo:\n    def"]


@pytest.fixture(scope="module")
def backend(tiny_random_model_dir):
    with get_backend(str(tiny_random_model_dir), batch_size=4, progress=False) as b:
        yield b


def _texts(results):
    return [[g.text for g in gens] for gens in results]


def test_greedy_batched_equals_batch_of_one(backend):
    params = SamplingParams(max_new_tokens=8)
    backend.batch_size = 4
    batched = backend.complete(PROMPTS, params)
    backend.batch_size = 1
    try:
        single = backend.complete(PROMPTS, params)
    finally:
        backend.batch_size = 4
    assert _texts(batched) == _texts(single)
    for gens, prompt in zip(batched, PROMPTS):
        g = gens[0]
        assert g.prompt_tokens == len(backend.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        assert 1 <= g.completion_tokens <= 8
        assert g.finish_reason in ("stop", "length")


def test_length_finish_reason_and_token_count(backend):
    # A random model essentially never emits <|im_end|> within 5 steps: the row runs to the limit.
    [[g]] = backend.complete(["x"], SamplingParams(max_new_tokens=5))
    assert g.finish_reason == "length" and g.completion_tokens == 5 and g.stop_reason is None


def test_stop_string_cuts_text_and_ends_early(backend):
    [[free]] = backend.complete(["x"], SamplingParams(max_new_tokens=6))
    assert len(free.text) >= 2
    stop = free.text[1:3]  # a string the greedy continuation is known to produce
    [[g]] = backend.complete(["x"], SamplingParams(max_new_tokens=6, stop=["never-there", stop]))
    assert g.finish_reason == "stop" and g.stop_reason == stop
    assert stop not in g.text and free.text.startswith(g.text)
    assert g.completion_tokens <= free.completion_tokens


def test_n_samples_seeded_and_independent_of_batching(backend):
    params = SamplingParams(max_new_tokens=6, temperature=1.0, n=3, seed=11)
    backend.batch_size = 8
    a = backend.complete(PROMPTS, params)
    backend.batch_size = 1
    try:
        b = backend.complete(PROMPTS, params)
    finally:
        backend.batch_size = 4
    assert [len(g) for g in a] == [3] * len(PROMPTS)
    assert _texts(a) == _texts(b)  # the same (seed, prompt index, sample index) -> the same sample
    assert len(set(_texts(a)[0])) > 1  # the n samples differ from each other
    c = backend.complete(PROMPTS, SamplingParams(max_new_tokens=6, temperature=1.0, n=3, seed=12))
    assert _texts(c) != _texts(a)
    # a prompt's samples depend on its index only, not on the other prompts in the call
    solo = backend.complete(PROMPTS[:1], params)
    assert _texts(solo)[0] == _texts(a)[0]


def test_greedy_n_copies(backend):
    [gens] = backend.complete(["x"], SamplingParams(max_new_tokens=4, n=2))
    assert len(gens) == 2 and gens[0].text == gens[1].text and gens[0] is not gens[1]


def test_chat_uses_template(backend):
    conv = [{"role": "user", "content": "hi"}]
    rendered = backend.render_chat(conv)
    assert rendered.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nhi<|im_end|>" in rendered
    [[g]] = backend.chat([conv], SamplingParams(max_new_tokens=3))
    assert g.prompt_tokens == len(backend.tokenizer(rendered, add_special_tokens=False)["input_ids"])


def test_identity_has_model_hash(backend, tiny_random_model_dir):
    ident = backend.identity()
    assert ident["backend"] == "transformers" and ident["path"] == str(tiny_random_model_dir.resolve())
    assert isinstance(ident["model_hash"], str) and len(ident["model_hash"]) == 16
    assert backend.identity()["model_hash"] == ident["model_hash"]


def test_bad_params_and_prompts(backend):
    with pytest.raises(CodejaError, match="max_new_tokens must be >= 1"):
        backend.complete(["x"], SamplingParams(max_new_tokens=0))
    with pytest.raises(CodejaError, match="top_p must be in"):
        backend.complete(["x"], SamplingParams(temperature=1.0, top_p=0))
    with pytest.raises(CodejaError, match="empty prompt at index 1"):
        backend.complete(["x", ""], SamplingParams(max_new_tokens=2))


def test_unknown_backend_and_missing_vllm():
    with pytest.raises(CodejaError, match="unknown backend 'transformer' \\(did you mean 'transformers'\\?\\)"):
        get_backend("tiny", "transformer")
    pytest.importorskip("codeja")  # keep the structure explicit: vllm is an optional extra
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(CodejaError, match="needs vLLM, which is not installed"):
            get_backend("tiny", "vllm")
    with pytest.raises(CodejaError, match="needs --base-url"):
        get_backend("m", "openai")


def test_base_helpers():
    assert apply_stop("abc\n\ndef", ["\n\n", "c"]) == ("ab", "c")
    assert apply_stop("abc", []) == ("abc", None)
    assert derive_seed(1, 2, 3) == derive_seed(1, 2, 3) != derive_seed(1, 3, 2)
    assert 0 <= derive_seed(0) < 2**31


def test_generate_cli_json_on_random_model(tiny_random_model_dir, capsys):
    code = main(["generate", "--model", str(tiny_random_model_dir), "--prompt", "def f():", "--prompt", "x",
                 "--max-new-tokens", "3", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"]["backend"] == "transformers"
    assert [r["prompt"] for r in out["results"]] == ["def f():", "x"]
    assert all(r["generations"][0]["completion_tokens"] == 3 for r in out["results"])


@pytest.mark.slow
def test_generate_cli_real_tiny_model_chat(tiny_model_dir, capsys):
    """The issue's smoke command on the real bundled model: a Japanese request gets a non-empty answer."""
    code = main(["generate", "--model", "tiny", "--chat", "--prompt", "PythonでFizzBuzzを書いて",
                 "--max-new-tokens", "48", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    g = out["results"][0]["generations"][0]
    assert out["backend"]["model"] == "smollm2-135m-instruct-fim"
    assert g["text"].strip() and g["completion_tokens"] > 0 and g["prompt_tokens"] > 10
