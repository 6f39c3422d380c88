"""Models: the bundled tiny model, tiny random models, resolving model arguments, model info."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from codeja.cli import main
from codeja.errors import ModelNotFoundError
from codeja.models import (
    FIM_TOKENS,
    bundled_gguf,
    load_tokenizer,
    make_tiny_random_model,
    model_fingerprint,
    model_info,
    prepare_tiny,
    resolve_model,
)


def test_prepare_tiny_is_an_offline_hf_folder_with_fim_and_chat_template(tiny_model_dir):
    assert tiny_model_dir.is_dir() and (tiny_model_dir / "config.json").is_file()
    assert prepare_tiny() == tiny_model_dir  # idempotent
    marker = json.loads((tiny_model_dir / "codeja_model.json").read_text())
    assert marker["source"]["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    # transformers itself loads it offline (conftest sets HF_HUB_OFFLINE=1 for the session)
    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    cfg = AutoConfig.from_pretrained(tiny_model_dir, local_files_only=True)
    ids = [tok.convert_tokens_to_ids(t) for t in FIM_TOKENS]
    assert ids == [marker["fim_token_ids"][t] for t in FIM_TOKENS] and len(set(ids)) == 4
    assert all(i >= 49152 for i in ids) and cfg.vocab_size == len(tok) == 49156
    assert tok.tokenize("<fim_prefix>") == ["<fim_prefix>"]  # never split
    assert tok.chat_template and "<|im_start|>" in tok.apply_chat_template(
        [{"role": "user", "content": "こんにちは"}], tokenize=False, add_generation_prompt=True)
    assert str(getattr(cfg, "dtype", "")) in ("bfloat16", "torch.bfloat16")


@pytest.mark.slow
def test_prepare_tiny_offline_in_a_fresh_process(tiny_model_dir):
    """A fresh interpreter with the hub offline loads the model and generates a token."""
    code = (
        "import sys, torch; from transformers import AutoModelForCausalLM, AutoTokenizer;"
        f"p={str(tiny_model_dir)!r}; t=AutoTokenizer.from_pretrained(p); "
        "m=AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32);"
        "out=m.generate(**t('def add(a, b):', return_tensors='pt'), max_new_tokens=1, do_sample=False);"
        "print(out.shape[1])"
    )
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300,
                       env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.strip().splitlines()[-1]) > 1


def test_cli_prepare_prints_folder_last_and_info(tiny_model_dir, capsys):
    assert main(["models", "prepare", "tiny"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(tiny_model_dir)
    assert main(["models", "info", "tiny", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["architecture"] == "LlamaForCausalLM" and info["chat_template"] is True
    assert 130e6 < info["parameters"] < 140e6 and info["vocab_size"] == 49156
    assert info["fim_token_ids"] == {"<fim_prefix>": 49152, "<fim_middle>": 49153, "<fim_suffix>": 49154,
                                     "<fim_pad>": 49155}
    assert main(["models", "info", "tiny"]) == 0
    text = capsys.readouterr().out
    assert "FIM tokens" in text and "<fim_middle>=49153" in text and "chat template  yes" in text
    assert main(["models", "prepare", "llama-70b"]) == 2


def test_random_model_is_seeded_and_small(tiny_random_model_dir, tmp_path):
    info = model_info(tiny_random_model_dir)
    assert info["architecture"] == "LlamaForCausalLM" and info["parameters"] < 5e6
    assert info["fim_token_ids"]["<fim_pad>"] == 49155 and info["chat_template"]
    again = make_tiny_random_model(tmp_path / "again", tokenizer_from=tiny_random_model_dir)
    assert (again / "model.safetensors").read_bytes() == (tiny_random_model_dir / "model.safetensors").read_bytes()
    other = make_tiny_random_model(tmp_path / "other", tokenizer_from=tiny_random_model_dir, seed=1)
    assert model_fingerprint(other) == model_fingerprint(again)  # same layout ...
    assert (other / "model.safetensors").read_bytes() != (again / "model.safetensors").read_bytes()  # ... new weights
    # no-op when asked again with the same recipe
    mtime = (again / "model.safetensors").stat().st_mtime_ns
    make_tiny_random_model(tmp_path / "again", tokenizer_from=tiny_random_model_dir)
    assert (again / "model.safetensors").stat().st_mtime_ns == mtime


def test_concurrent_builders_share_one_folder(tiny_random_model_dir, tmp_path):
    target = tmp_path / "shared"
    results, errors = [], []

    def build():
        try:
            results.append(make_tiny_random_model(target, tokenizer_from=tiny_random_model_dir, hidden_size=32))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [target] * 3
    assert model_info(target)["parameters"] > 0
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]  # no temp folder left


def test_reward_model(tiny_reward_model_dir):
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_reward_model_dir)
    tok = load_tokenizer(tiny_reward_model_dir)
    batch = tok(["def f(): pass", "x"], return_tensors="pt", padding=True)
    with torch.no_grad():
        scores = model(**batch).logits
    assert scores.shape == (2, 1) and model.config.pad_token_id == tok.pad_token_id


def test_resolve_kinds(tiny_model_dir, tiny_random_model_dir, tmp_path):
    assert resolve_model("tiny").kind == "tiny" and resolve_model("tiny").path == tiny_model_dir
    ref = resolve_model(str(tiny_random_model_dir))
    assert ref.kind == "hf" and ref.path == tiny_random_model_dir.resolve()
    g = resolve_model(str(bundled_gguf()))
    assert g.kind == "gguf" and g.load_args == (str(bundled_gguf().parent), {"gguf_file": bundled_gguf().name})
    assert resolve_model(ref) is ref


def test_resolve_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="not in the local cache and the hub is offline"):
        resolve_model("some-org/some-model-that-is-not-cached")
    with pytest.raises(ModelNotFoundError, match="not a hub id of the form org/name"):
        resolve_model("no-such-model")
    with pytest.raises(ModelNotFoundError, match="GGUF file not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="has no config.json"):
        resolve_model(str(tmp_path / "empty"))
    (tmp_path / "ggufs").mkdir()
    (tmp_path / "ggufs" / "m.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelNotFoundError, match="pass one of them"):
        resolve_model(str(tmp_path / "ggufs"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelNotFoundError, match="not a .gguf model"):
        resolve_model(str(tmp_path / "notes.txt"))
    with pytest.raises(ModelNotFoundError, match="empty model argument"):
        resolve_model("  ")
    assert main(["generate", "--model", "no-such-model", "--prompt", "x"]) == 2


def test_resolve_hub_id_online_is_deferred(monkeypatch):
    """Online, a hub id the user names resolves to a download-on-load reference (nothing is fetched here)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("codeja.models.resolve._cached_hub_snapshot", lambda hub_id: None)
    ref = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert (ref.kind, ref.path, ref.hub_id) == ("hub", None, "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert ref.load_args == ("HuggingFaceTB/SmolLM2-135M-Instruct", {})


def test_load_errors_are_clear(tmp_path):
    from codeja.models import load_causal_lm

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match=str(bad)):
        load_causal_lm(bad)
    assert isinstance(Path(bundled_gguf()), Path)
