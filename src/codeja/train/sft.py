"""Supervised fine-tuning with TRL's SFTTrainer on users' data in TRL's formats (``codeja.train.data``: messages,
prompt/completion, text, ShareGPT, Alpaca; JSONL files or ``datasets``), full weights or LoRA adapters, by steps or
epochs. Loss: assistant turns only for conversational data, the completion for prompt/completion, every token for
text.

Assistant-only loss needs a chat template with ``{% generation %}`` markers. Order of preference: the config's
``chat_template`` file; the model's own template if it has the markers; TRL's patched version of it when TRL ships
one; codeja's ChatML template (``templates/chatml_generation.jinja``) when the tokenizer speaks ChatML. The template
used is saved with the final checkpoint, so inference renders prompts exactly as training did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeja.errors import ConfigError
from codeja.runs import stage_run
from codeja.train import common, data
from codeja.train.config import SFTConfig
from codeja.train.launch import maybe_relaunch

TEMPLATES = Path(__file__).parent / "templates"
CHATML = TEMPLATES / "chatml_generation.jinja"


def training_chat_template(tokenizer, template_path: str | None, need_markers: bool) -> tuple[str, str]:
    """Return (template, where it came from) for training; raise ConfigError when no usable one exists."""
    # heavy: trl (kept out of `codeja --help` and light imports)
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if template_path:
        p = Path(template_path)
        if not p.is_file():
            raise ConfigError(f"chat_template: {p}: file not found")
        text = p.read_text(encoding="utf-8")
        if need_markers and not has_generation_markers(text):
            raise ConfigError(
                f"chat_template: {p}: no {{% generation %}} markers, needed for assistant_only_loss"
            )
        return text, str(p)
    own = tokenizer.chat_template
    if own and (not need_markers or has_generation_markers(own)):
        return own, "model"
    if own:
        try:
            patched = get_training_chat_template(tokenizer)
        except ValueError:
            patched = None
        if patched:
            return patched, "trl-patched"
    vocab = tokenizer.get_vocab()
    if "<|im_start|>" in vocab and "<|im_end|>" in vocab:
        return CHATML.read_text(encoding="utf-8"), "codeja-chatml"
    raise ConfigError(
        "the model's chat template has no {% generation %} markers and the tokenizer has no ChatML "
        "tokens; pass chat_template: PATH (a Jinja template with generation markers) or set "
        "assistant_only_loss: false"
    )


def train_sft(cfg: SFTConfig, output_dir: str | Path, *, callbacks: list | None = None) -> dict[str, Any]:
    """SFT; returns a summary (final loss, steps, tokens/s, row accounting, model path) and writes the run folder."""
    if (launched := maybe_relaunch("sft", cfg, output_dir)) is not None:
        return launched
    out = Path(output_dir)
    refs = [cfg.data, *cfg.extra_data]
    loaded = data.load_sft(refs, cfg.bad_rows, data_format=cfg.data_format, hub=cfg.hub, columns=cfg.columns)
    inputs = data.input_fingerprints(loaded, refs, out)
    with stage_run(out, "train.sft", cfg, inputs=inputs, seeds={"seed": cfg.seed}) as run:
        if run.skipped:
            return run.manifest["summary"]
        from trl import SFTConfig as TRLSFTConfig
        from trl import SFTTrainer

        precision = common.resolve_precision(cfg.precision)
        tokenizer = common.load_tokenizer(cfg.model)
        conversational = loaded.conversational
        assistant_only = cfg.assistant_only_loss and conversational
        if conversational:
            template, source = training_chat_template(tokenizer, cfg.chat_template, assistant_only)
            tokenizer.chat_template = template
        else:
            source = "unused (standard data)"
        lengths_report = data.apply_length_policy(
            loaded, data.row_lengths(tokenizer, loaded), cfg.max_length, cfg.overlong, what="row", path=cfg.data
        )
        loss_on = ("assistant turns" if assistant_only else
                   "completion" if loaded.format == "prompt-completion" else "all tokens")
        counts = {**loaded.counts, **lengths_report, "rows_trained": len(loaded.rows), "data_format": loaded.format,
                  "conversational": conversational, "loss_on": loss_on}
        data.write_bad_rows(out, loaded.bad)
        run.record(precision=precision, chat_template=source, data_counts=counts, data_sources=loaded.sources)

        model = common.load_model(cfg.model, tokenizer)
        args = TRLSFTConfig(
            **common.training_kwargs(cfg, out, precision),
            gradient_checkpointing=cfg.activation_checkpointing,  # TRL defaults this to True; keep ours
            max_length=cfg.max_length,
            truncation_mode="keep_start",
            packing=cfg.packing,
            assistant_only_loss=assistant_only,
            dataset_num_proc=None,
        )
        trainer, resume, final, saved = common.fit_trl(
            SFTTrainer, cfg, run, out, model=model, args=args, rows=loaded.rows, tokenizer=tokenizer,
            callbacks=callbacks, plot_title=f"sft: {Path(cfg.model).name}",
        )
        summary = common.summarize(
            out, trainer, {"precision": precision, "chat_template": source, **counts, **saved}
        )
        summary["model_path"] = str(final)
        run.record(summary=summary, resumed_from=resume)
        return summary
