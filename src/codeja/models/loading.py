"""Loading tokenizers and models the same way in every stage: offline for local paths, clear errors, one dtype rule.

dtype rule (``dtype="auto"``): bf16 on a CUDA GPU; float32 on a CPU. On CPU we keep fp32 master weights even
where the CPU has native bf16 (avx512_bf16 / AMX): pure-bf16 weights round small updates away in training, and
the generation backend gets the bf16 speed through ``torch.autocast`` instead (see :func:`cpu_bf16_supported`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from codeja.errors import CodejaError, ModelNotFoundError
from codeja.models.resolve import ModelRef, resolve_model
from codeja.models.tiny import FIM_TOKENS, MARKER
from codeja.runs import sha256_file

_DTYPES = ("auto", "float32", "bfloat16", "float16")


@functools.lru_cache(maxsize=1)
def cpu_bf16_supported() -> bool:
    """True when the CPU computes bf16 natively (x86 ``avx512_bf16`` or AMX, or Arm ``bf16``).

    Without it, bf16 matmuls on CPU are emulated and slower than fp32, so autocast would hurt.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags = set(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    return False


def _ref(ref_or_path: str | Path | ModelRef) -> ModelRef:
    return resolve_model(ref_or_path)


def _torch_dtype(dtype: str | Any):
    # heavy: torch, transformers (kept out of `codeja --help` and light imports)
    import torch

    if not isinstance(dtype, str):
        return dtype
    if dtype not in _DTYPES:
        raise CodejaError(f"dtype '{dtype}': expected one of {', '.join(_DTYPES)}")
    if dtype == "auto":
        return torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return getattr(torch, dtype)


def load_tokenizer(ref_or_path: str | Path | ModelRef, *, padding_side: str | None = None):
    """The model's tokenizer (chat template included). A missing pad token falls back to EOS."""
    ref = _ref(ref_or_path)
    from transformers import AutoTokenizer

    name, kwargs = ref.load_args
    try:
        tok = AutoTokenizer.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"{name}: cannot load a tokenizer: {str(e).splitlines()[0]}") from None
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    if padding_side:
        tok.padding_side = padding_side
    return tok


def load_causal_lm(ref_or_path: str | Path | ModelRef, *, dtype: str | Any = "auto", device: str | None = None):
    """An ``AutoModelForCausalLM`` in eval mode; GGUF files are dequantized so the model can be saved and trained."""
    ref = _ref(ref_or_path)
    from transformers import AutoModelForCausalLM

    name, kwargs = ref.load_args
    if ref.kind == "gguf":
        from transformers import GgufConfig

        kwargs["quantization_config"] = GgufConfig(dequantize=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(name, dtype=_torch_dtype(dtype), **kwargs)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"{name}: cannot load a causal LM: {str(e).splitlines()[0]}") from None
    if device:
        model = model.to(device)
    model.eval()
    return model


def load_config(ref_or_path: str | Path | ModelRef):
    ref = _ref(ref_or_path)
    from transformers import AutoConfig

    name, kwargs = ref.load_args
    try:
        return AutoConfig.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"{name}: cannot read the model config: {str(e).splitlines()[0]}") from None


def _count_parameters(config) -> int:
    """Parameters of the architecture, counted on the meta device (no weights are read; tied weights once)."""
    import torch
    import transformers

    arch = (getattr(config, "architectures", None) or [""])[0]
    cls = getattr(transformers, arch, None) if arch else None
    with torch.device("meta"):
        if cls is not None and hasattr(cls, "_from_config"):
            model = cls._from_config(config)
        else:
            model = transformers.AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def model_info(arg: str | Path | ModelRef) -> dict[str, Any]:
    """Architecture, parameter count, vocab size, FIM token ids (None when absent), chat template, dtype, path."""
    ref = _ref(arg)
    cfg = load_config(ref)
    tok = load_tokenizer(ref)
    vocab = tok.get_vocab()
    dtype = getattr(cfg, "dtype", None) or getattr(cfg, "torch_dtype", None)
    info: dict[str, Any] = {
        "name": ref.name,
        "kind": ref.kind,
        "path": str(ref.path) if ref.path else None,
        "hub_id": ref.hub_id,
        "architecture": (cfg.architectures or [type(cfg).__name__])[0],
        "model_type": cfg.model_type,
        "parameters": _count_parameters(cfg),
        "vocab_size": cfg.vocab_size,
        "tokenizer_size": len(tok),
        "fim_token_ids": {t: vocab.get(t) for t in FIM_TOKENS},
        "chat_template": bool(getattr(tok, "chat_template", None)),
        "dtype": str(dtype).replace("torch.", "") if dtype is not None else None,
        "max_position_embeddings": getattr(cfg, "max_position_embeddings", None),
    }
    if ref.path is not None and ref.path.is_dir() and (ref.path / MARKER).is_file():
        info["codeja"] = json.loads((ref.path / MARKER).read_text(encoding="utf-8"))
    return info


@functools.lru_cache(maxsize=32)
def _fingerprint_cached(path: str, stamp: tuple) -> str:
    p = Path(path)
    h = hashlib.sha256()
    if p.is_file():  # a GGUF: the file is the model
        h.update(sha256_file(p).encode())
        return h.hexdigest()[:16]
    for name in ("config.json", "model.safetensors.index.json", "pytorch_model.bin.index.json"):
        f = p / name
        if f.is_file():
            h.update(name.encode() + b"\0" + f.read_bytes())
    for f in sorted(p.glob("*.safetensors")):
        # The safetensors header lists every tensor's name, dtype, shape and offsets; with the file size it
        # identifies the weights layout without reading gigabytes.
        with open(f, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            h.update(f.name.encode() + b"\0" + fh.read(min(n, 1 << 24)) + str(f.stat().st_size).encode())
    return h.hexdigest()[:16]


def model_fingerprint(ref_or_path: str | Path | ModelRef) -> str | None:
    """A short hash of a model's config and weights index (safetensors headers), or of a GGUF file; for manifests.

    None for a hub id that is not downloaded yet.
    """
    ref = _ref(ref_or_path)
    if ref.path is None:
        return None
    p = ref.path
    files = [p] if p.is_file() else sorted(q for q in p.iterdir() if q.is_file())
    stamp = tuple((q.name, q.stat().st_size, q.stat().st_mtime_ns) for q in files)
    return _fingerprint_cached(str(p), stamp)
