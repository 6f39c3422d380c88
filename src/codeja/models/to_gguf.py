"""Export a codeja checkpoint (an HF Llama-family folder) as a GGUF file that llama.cpp runs, weights unchanged.

Why: llama.cpp generates several times faster than transformers on a CPU, and the llama.cpp backend
(:mod:`codeja.backends.llamacpp`) must run *the same model*: every tensor is written in the dtype it has in the
checkpoint (bf16 stays bf16, fp32 stays fp32; 1-D norm weights are widened to fp32 exactly, as llama.cpp wants),
nothing is quantized. The tokenizer is written from the checkpoint's own ``tokenizer.json`` (vocabulary, merges,
added tokens with their special flag), so llama.cpp splits text exactly as transformers does; the chat template and
special-token ids travel too.

Scope (what is checked and refused with a clear message): architecture ``llama`` (Llama, SmolLM, Mistral without
sliding window), byte-level BPE tokenizers whose pre-tokenizer is GPT-2's (``gpt2``) or digits + GPT-2
(``smollm``), no rope scaling. Anything else: convert with llama.cpp's own ``convert_hf_to_gguf.py`` and pass the
``.gguf`` file as the model.

How HF Llama weights differ from GGUF's: HF stores q/k projection rows in "rotate half" order (the two halves of
each head's rotary pairs apart); llama.cpp rotates adjacent pairs, so the rows of each head are interleaved
(:func:`_interleave_rope_rows`). Every other tensor is renamed only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from codeja.errors import ConfigError, ModelNotFoundError
from codeja.log import note
from codeja.models import model_fingerprint, resolve_model
from codeja.paths import codeja_home

FORMAT = 1  # bump when the output of a given checkpoint changes (it is part of the cache key)

# HF parameter name (per layer, after "model.layers.N.") -> GGUF tensor name (after "blk.N.")
_LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_GLOBAL_TENSORS = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                   "lm_head.weight": "output.weight"}


def _interleave_rope_rows(w, n_heads: int):
    """Reorder a q/k projection's rows from HF's rotate-half layout to llama.cpp's adjacent-pair layout."""
    out_dim = w.shape[0]
    half = out_dim // n_heads // 2
    return w.reshape(n_heads, 2, half, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def pre_tokenizer_name(tokenizer_json: dict) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer (how text is split before BPE), or a ConfigError."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]

    def gpt2_bytelevel(step: dict) -> bool:
        return step.get("type") == "ByteLevel" and step.get("use_regex", True) and not step.get("add_prefix_space")

    if kinds == ["ByteLevel"] and gpt2_bytelevel(steps[0]):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and gpt2_bytelevel(steps[1]):
        return "smollm"  # llama.cpp: each digit apart, then GPT-2's regex (StarCoder / SmolLM)
    raise ConfigError(f"GGUF export: pre-tokenizer {json.dumps(pre)[:200]} is not one codeja can describe to "
                      "llama.cpp (supported: GPT-2 byte-level, digits + byte-level); convert with llama.cpp's "
                      "convert_hf_to_gguf.py and pass the .gguf file as the model")


def _vocab(folder: Path, n_rows: int) -> tuple[list[str], list[int], list[str], dict]:
    """(tokens, token types, merges, tokenizer.json) from the checkpoint's fast tokenizer."""
    # heavy: gguf, safetensors, torch (kept out of `codeja --help` and light imports)
    import gguf

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(f"{path}: GGUF export needs the fast tokenizer's tokenizer.json")
    tj = json.loads(path.read_text(encoding="utf-8"))
    model = tj.get("model", {})
    if model.get("type") != "BPE" or model.get("byte_fallback") or (tj.get("decoder") or {}).get("type") != "ByteLevel":
        raise ConfigError(f"{path}: GGUF export supports byte-level BPE tokenizers only (GPT-2 style)")
    by_id: dict[int, tuple[str, int]] = {i: (t, gguf.TokenType.NORMAL) for t, i in model["vocab"].items()}
    for added in tj.get("added_tokens", []):
        kind = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
        by_id[added["id"]] = (added["content"], kind)
    n = max(max(by_id) + 1, n_rows)
    tokens, types = [], []
    for i in range(n):  # embedding rows beyond the tokenizer (padding to a multiple) become unused tokens
        text, kind = by_id.get(i, (f"[PAD{i}]", gguf.TokenType.UNUSED))
        tokens.append(text)
        types.append(int(kind))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, types, merges, tj


def _special_ids(folder: Path, tj: dict, config: dict) -> dict[str, int]:
    """bos / eos / unk / pad ids as transformers sees them (tokenizer_config.json, then config.json)."""
    tc_path = folder / "tokenizer_config.json"
    tc = json.loads(tc_path.read_text(encoding="utf-8")) if tc_path.is_file() else {}
    ids = {a["content"]: a["id"] for a in tj.get("added_tokens", [])}
    ids.update({k: v for k, v in tj.get("model", {}).get("vocab", {}).items() if k not in ids})
    out = {}
    for kind in ("bos", "eos", "unk", "pad"):
        tok = tc.get(f"{kind}_token")
        tok = tok.get("content") if isinstance(tok, dict) else tok
        if isinstance(tok, str) and tok in ids:
            out[kind] = ids[tok]
        elif isinstance(config.get(f"{kind}_token_id"), int):
            out[kind] = config[f"{kind}_token_id"]
    return out


def _chat_template(folder: Path) -> str | None:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    tc = folder / "tokenizer_config.json"
    if tc.is_file():
        tmpl = json.loads(tc.read_text(encoding="utf-8")).get("chat_template")
        return tmpl if isinstance(tmpl, str) else None
    return None


def _check_config(config: dict, folder: Path) -> None:
    arch = config.get("model_type")
    if arch not in ("llama", "mistral"):
        raise ConfigError(f"{folder}: GGUF export supports Llama-architecture models (model_type llama or mistral), "
                          f"not '{arch}'; convert with llama.cpp's convert_hf_to_gguf.py and pass the .gguf file")
    rope = config.get("rope_scaling") or config.get("rope_parameters") or {}
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        raise ConfigError(f"{folder}: GGUF export: rope scaling '{rope.get('rope_type')}' is not supported")
    if arch == "mistral" and config.get("sliding_window"):
        raise ConfigError(f"{folder}: GGUF export: sliding-window attention is not supported")
    for key in ("attention_bias", "mlp_bias"):
        if config.get(key):
            raise ConfigError(f"{folder}: GGUF export: {key}=true is not supported")


def _tensors(folder: Path):
    """Yield (name, torch tensor) from the checkpoint's safetensors files."""
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelNotFoundError(f"{folder}: no *.safetensors weights to export")
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for name in st.keys():  # a safetensors handle, not a dict
                yield name, st.get_tensor(name)


def export_gguf(model_dir: str | Path, out_path: str | Path) -> Path:
    """Write ``model_dir`` (an HF Llama-family folder) as a GGUF file at ``out_path``; returns the path.

    The file is written to a temporary name and renamed, so a crash never leaves a half-written GGUF behind.
    """
    import gguf
    import torch

    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    _check_config(config, folder)
    n_layers, n_head = config["num_hidden_layers"], config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads") or n_head
    hidden = config["hidden_size"]
    head_dim = config.get("head_dim") or hidden // n_head
    rope = config.get("rope_parameters") or {}
    theta = rope.get("rope_theta", config.get("rope_theta", 10000.0))
    tensors = dict(_tensors(folder))
    n_rows = tensors["model.embed_tokens.weight"].shape[0]
    tokens, types, merges, tj = _vocab(folder, n_rows)
    if len(tokens) != n_rows:
        raise ConfigError(f"{folder}: the tokenizer has {len(tokens)} tokens but the embedding {n_rows} rows")
    pre = pre_tokenizer_name(tj)

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name(folder.name)
    w.add_context_length(int(config.get("max_position_embeddings", 4096)))
    w.add_embedding_length(hidden)
    w.add_block_count(n_layers)
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(float(theta))
    w.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-5)))
    w.add_vocab_size(n_rows)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    special = _special_ids(folder, tj, config)
    for kind, add in (("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id), ("unk", w.add_unk_token_id),
                      ("pad", w.add_pad_token_id)):
        if kind in special:
            add(special[kind])
    w.add_add_bos_token(False)  # codeja encodes prompts with add_special_tokens=False in every backend
    template = _chat_template(folder)
    if template:
        w.add_chat_template(template)

    dtypes = {torch.bfloat16: gguf.GGMLQuantizationType.BF16, torch.float16: gguf.GGMLQuantizationType.F16,
              torch.float32: gguf.GGMLQuantizationType.F32}
    tied = config.get("tie_word_embeddings", False)
    for name, t in tensors.items():
        if name.startswith("model.layers."):
            idx, _, rest = name[len("model.layers."):].partition(".")
            if rest not in _LAYER_TENSORS:
                raise ConfigError(f"{folder}: GGUF export: unexpected tensor {name}")
            gname = f"blk.{idx}.{_LAYER_TENSORS[rest]}"
            if rest == "self_attn.q_proj.weight":
                t = _interleave_rope_rows(t, n_head)
            elif rest == "self_attn.k_proj.weight":
                t = _interleave_rope_rows(t, n_kv)
        elif name in _GLOBAL_TENSORS:
            if name == "lm_head.weight" and tied:
                continue
            gname = _GLOBAL_TENSORS[name]
        elif name.endswith("rotary_emb.inv_freq"):
            continue  # recomputed from rope_theta
        else:
            raise ConfigError(f"{folder}: GGUF export: unexpected tensor {name}")
        if t.dtype not in dtypes:
            raise ConfigError(f"{folder}: GGUF export: tensor {name} has dtype {t.dtype}")
        if t.ndim == 1:
            t = t.float()  # llama.cpp keeps norm weights in fp32; widening bf16/fp16 is exact
        qtype = dtypes[t.dtype]
        if qtype == gguf.GGMLQuantizationType.BF16:
            # numpy has no bfloat16: hand over the raw 16-bit patterns, with the GGUF type saying what they are
            data = t.contiguous().view(torch.int16).numpy().view(np.uint16)
            w.add_tensor(gname, data, raw_shape=list(t.shape), raw_dtype=qtype)
        else:
            w.add_tensor(gname, t.contiguous().numpy(), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return out


def cached_gguf(model: Any) -> Path:
    """The GGUF of a model argument: a ``.gguf`` file as it is; an HF folder exported once into
    ``$CODEJA_HOME/gguf/<fingerprint>.gguf`` (the fingerprint covers config and weights, so a retrained checkpoint
    gets a new file)."""
    ref = resolve_model(model)
    if ref.kind == "gguf":
        return Path(ref.path)
    if ref.path is None:
        raise ModelNotFoundError(f"{ref.name}: download the model first (GGUF export needs local files)")
    key = f"{model_fingerprint(ref)[:24]}-f{FORMAT}"
    out = codeja_home() / "gguf" / f"{Path(ref.path).name}-{key}.gguf"
    if not out.is_file():
        note(f"exporting {ref.path} to GGUF for llama.cpp (once): {out}")
        export_gguf(ref.path, out)
    return out
