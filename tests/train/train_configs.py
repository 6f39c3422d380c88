"""Small, fast trainer configs for the tests: 3 steps of batch 2 at a high learning rate, no warm-up."""

from __future__ import annotations

from typing import Any


def small_config(cls, model, data, **kw: Any):
    """``cls`` (CPTConfig, SFTConfig, DPOConfig) for ``model`` on ``data``; ``kw`` overrides or adds fields."""
    base = {
        "model": str(model),
        "data": data if isinstance(data, (list, dict)) else str(data),
        "max_steps": 3,
        "per_device_batch_size": 2,
        "optim": {"learning_rate": 1e-3, "warmup_ratio": 0.0},
    }
    return cls.model_validate({**base, **kw})
