"""The llama.cpp backend runs the same model as the transformers backend: exported weights give the same logits,
the same tokens for the same text, and greedy generation that ends the same way."""

from __future__ import annotations

import json
import shutil

import pytest

from codeja.backends import SamplingParams, get_backend
from codeja.errors import ConfigError

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is built by make setup-test")
pytestmark = pytest.mark.llamacpp

TEXTS = ["def fib(n):\n    return 12345 + n  # 数字\n", "こんにちは、世界！ 関数を書いてください。",
         "<|im_start|>user\nhi<|im_end|>\n<fim_prefix>x = 1<fim_suffix>\n<fim_middle>", "  \t spaces\n\n\n 3.14 2024年"]


@pytest.fixture(scope="module")
def exported(tiny_random_model_dir, tmp_path_factory):
    from codeja.models.to_gguf import export_gguf

    return export_gguf(tiny_random_model_dir, tmp_path_factory.mktemp("gguf") / "rand.gguf")


def test_export_gives_the_same_tokens_and_logits(tiny_random_model_dir, exported):
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_random_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_random_model_dir, dtype=torch.float32)
    llm = llama_cpp.Llama(str(exported), n_ctx=256, n_threads=1, logits_all=True, verbose=False)
    try:
        for text in TEXTS:
            ids = tok(text, add_special_tokens=False)["input_ids"]
            assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids, text
        ids = tok(TEXTS[0], add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            hf = model(torch.tensor([ids])).logits[0].float().numpy()
        llm.reset()
        llm.eval(ids)
        lc = np.array(llm.scores[: len(ids)])
    finally:
        llm.close()
    # q/k rows reordered for llama.cpp's rope: a wrong order would move logits by O(1), not 1e-4
    assert np.abs(hf - lc).max() < 5e-3 * max(1.0, np.abs(hf).max())
    assert (hf.argmax(-1) == lc.argmax(-1)).all()


def test_backend_greedy_matches_transformers_fp32(tiny_random_model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("CODEJA_HOME", str(tmp_path))  # the export goes to this cache
    prompts = ["def add(a, b):", "# 日本語のコメント\nx ="]
    params = SamplingParams(max_new_tokens=16, stop=["\n\n"])
    with get_backend(tiny_random_model_dir, "transformers", dtype="float32", autocast=False) as hf:
        want = hf.complete(prompts, params)
    with get_backend(tiny_random_model_dir, "llamacpp", n_threads=1, n_ctx=512) as lc:
        got = lc.complete(prompts, params)
        assert lc.identity()["backend"] == "llamacpp" and lc.identity()["gguf"].startswith(str(tmp_path))
        sampled = [lc.complete(prompts[:1], SamplingParams(n=2, temperature=1.0, max_new_tokens=8, seed=s))
                   for s in (3, 3)]
    for w, g in zip(want, got):
        assert (g[0].text, g[0].completion_tokens, g[0].finish_reason) == (w[0].text, w[0].completion_tokens,
                                                                          w[0].finish_reason)
    assert sampled[0][0][0].as_dict() == sampled[1][0][0].as_dict()  # seeded: the same (seed, i, j), the same text


def test_export_refuses_what_it_cannot_describe(tiny_random_model_dir, tmp_path):
    from codeja.models.to_gguf import export_gguf

    other = tmp_path / "m"
    shutil.copytree(tiny_random_model_dir, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["model_type"] = "gpt2"
    (other / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="Llama-architecture"):
        export_gguf(other, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()
