"""LoRA adapters with peft for SFT and DPO: the peft config from codeja's :class:`~codeja.train.config.LoraConfig`,
the trainable-parameter count, and saving the result merged into the base weights or as the adapter alone (the
choice and why: the LoraConfig docstring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeja.train import common
from codeja.train.config import LoraConfig

ADAPTER = "adapter"


def peft_config(cfg: LoraConfig):
    """A ``peft.LoraConfig`` for the trainers' ``peft_config`` argument, or None when LoRA is off."""
    if not cfg.enabled:
        return None
    # heavy: peft (kept out of `codeja --help` and light imports)
    from peft import LoraConfig as PeftLoraConfig

    return PeftLoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=cfg.target_modules,
        modules_to_save=list(cfg.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )


def parameter_counts(model) -> dict[str, int]:
    """Trainable and total parameters of the model being trained (the adapter's share shows LoRA is on)."""
    if hasattr(model, "get_nb_trainable_parameters"):
        trainable, total = model.get_nb_trainable_parameters()
    else:
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable_parameters": int(trainable), "total_parameters": int(total)}


def save_final(trainer, tokenizer, output_dir: Path, cfg: LoraConfig) -> tuple[Path, dict[str, Any]]:
    """Write ``model/`` (and ``adapter/`` when merged); returns the model path and what was saved."""
    if not cfg.enabled:
        return common.save_final(trainer, tokenizer, output_dir), {}
    out = Path(output_dir)
    final = out / common.FINAL
    adapter = out / ADAPTER if cfg.merge else final
    trainer.save_model(str(adapter))  # a PeftModel saves its adapter only
    tokenizer.save_pretrained(str(adapter))
    if cfg.merge:
        merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
        merged.save_pretrained(str(final))
        tokenizer.save_pretrained(str(final))
    return final, {"lora_saved": "merged" if cfg.merge else "adapter", "adapter_path": str(adapter)}
