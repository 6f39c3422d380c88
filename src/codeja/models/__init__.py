"""Models: resolving model arguments, the bundled tiny model, tiny random models, loading helpers.

Importing this package is cheap: torch and transformers are imported inside the functions that need them.
"""

from codeja.models.loading import (
    cpu_bf16_supported,
    load_causal_lm,
    load_config,
    load_tokenizer,
    model_fingerprint,
    model_info,
)
from codeja.models.resolve import ModelRef, resolve_model
from codeja.models.tiny import (
    FIM_TOKENS,
    TINY_NAME,
    add_fim_tokens,
    bundled_gguf,
    make_tiny_random_model,
    make_tiny_reward_model,
    prepare_tiny,
    tiny_model_dir,
)

__all__ = [
    "FIM_TOKENS",
    "TINY_NAME",
    "ModelRef",
    "add_fim_tokens",
    "bundled_gguf",
    "cpu_bf16_supported",
    "load_causal_lm",
    "load_config",
    "load_tokenizer",
    "make_tiny_random_model",
    "make_tiny_reward_model",
    "model_fingerprint",
    "model_info",
    "prepare_tiny",
    "resolve_model",
    "tiny_model_dir",
]
