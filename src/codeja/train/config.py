"""Configs for the three training phases: ``CPTConfig`` (continued pretraining with FIM), ``SFTConfig`` and
``DPOConfig``.

The names clash with TRL's ``SFTConfig`` / ``DPOConfig`` on purpose (they are the codeja stage configs listed in
``codeja.pipeline.stages.STAGES``); inside the trainers TRL's classes are imported as ``TRLSFTConfig`` /
``TRLDPOConfig``. Every field has a default that runs on a CPU with the bundled tiny model, so
``codeja train sft --data x.jsonl --output out`` works without a file.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from codeja.config import StrictModel
from codeja.fim.config import FIMConfig
from codeja.hub_datasets import HubOptions

Precision = Literal["auto", "bf16", "fp16", "fp32"]


class OptimConfig(StrictModel):
    """Optimiser and schedule: AdamW with linear warmup then cosine (or constant / linear) decay."""

    learning_rate: float = Field(2e-5, gt=0, description="Peak learning rate reached after warmup.")
    min_lr_ratio: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Cosine floor as a fraction of the peak rate (cosine schedule only; 0 decays to zero).",
    )
    scheduler: Literal["cosine", "linear", "constant"] = Field("cosine", description="Decay after warmup.")
    warmup_ratio: float = Field(
        0.05, ge=0, lt=1, description="Fraction of max_steps spent warming up linearly."
    )
    weight_decay: float = Field(0.1, ge=0, description="AdamW decoupled weight decay.")
    adam_beta1: float = Field(0.9, gt=0, lt=1, description="AdamW beta1.")
    adam_beta2: float = Field(
        0.95, gt=0, lt=1, description="AdamW beta2 (0.95 is the usual LLM-pretraining value)."
    )
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm; 0 disables clipping.")


class TrainBase(StrictModel):
    """Fields every training phase shares: model, data, batch shape, schedule, precision, logging, checkpoints."""

    model: str = Field(
        "tiny",
        description="Model to start from: 'tiny' (the bundled SmolLM2-135M), a local HF "
        "folder, or a hub id (downloaded only when named).",
    )
    data: str = Field(
        "",
        description="Training data: an indexed-dataset prefix (cpt), a messages JSONL (sft) or a "
        "pairs JSONL (dpo).",
    )
    max_steps: int = Field(100, ge=1, description="Optimizer steps to run.")
    per_device_batch_size: int = Field(2, ge=1, description="Sequences per device per micro-step.")
    grad_accum: int = Field(1, ge=1, description="Micro-steps accumulated per optimizer step.")
    optim: OptimConfig = Field(
        default_factory=OptimConfig, description="Optimiser and learning-rate schedule."
    )
    precision: Precision = Field(
        "auto",
        description="'auto' = bf16 autocast when the device supports it (CUDA "
        "bf16, or a CPU with avx512_bf16/AMX), else fp32. Master weights stay fp32.",
    )
    activation_checkpointing: bool = Field(
        False, description="Recompute activations in backward to save memory."
    )
    seed: int = Field(0, description="Seed for model init of new tokens, dropout and data order.")
    logging_steps: int = Field(1, ge=1, description="Log loss / lr / tokens per second every N steps.")
    save_steps: int = Field(
        0,
        ge=0,
        description="Write a resumable checkpoint (weights, optimizer, scheduler, RNG, "
        "data position) every N steps; 0 = none, only the final model/.",
    )
    save_total_limit: int = Field(2, ge=1, description="Keep at most this many intermediate checkpoints.")
    resume: bool = Field(
        True,
        description="Resume from the newest checkpoint of an interrupted run with the same "
        "config and inputs (optimizer, scheduler, RNG and data position).",
    )
    report_to: list[Literal["tensorboard", "wandb"]] = Field(
        default_factory=list, description="Experiment trackers to log to; none unless asked."
    )
    dataloader_num_workers: int = Field(
        0, ge=0, description="DataLoader worker processes (0 = in the main one)."
    )
    accelerate_config: str | None = Field(
        None,
        description="An accelerate config (recipes/accelerate/fsdp.yaml, deepspeed_zero3.yaml) for multi-GPU FSDP / "
        "ZeRO-3: the stage then re-launches itself under `accelerate launch` (codeja.train.launch).",
    )


class ValidationConfig(StrictModel):
    """Held-out loss for cpt, measured on the same held-out documents twice: left-to-right only and FIM only."""

    docs: int = Field(
        8,
        ge=0,
        description="Documents held out from the END of the corpus (0 = none). They are "
        "never trained on and are evaluated packed with fim_rate 0 (L2R) and fim_rate 1 (FIM).",
    )
    eval_steps: int = Field(0, ge=0, description="Evaluate every N steps (0 = once at the end).")
    eval_on_start: bool = Field(False, description="Also evaluate before the first step (the starting model's held-out "
                                "losses, step 0 of the curves).")
    fim_mode: Literal["context", "document"] | None = Field(
        None, description="Level of the FIM view (default: the training mode; context when training has FIM off). "
        "Fix it to compare runs of different modes on the same held-out FIM examples.")
    batch_size: int = Field(4, ge=1, description="Eval batch size.")


class MegatronConfig(StrictModel):
    """Megatron-LM launch for ``codeja train cpt --engine megatron`` (defaults: Llama-3.1-8B, 4 nodes x 8 GPUs)."""

    megatron_lm_dir: str = Field(
        "/opt/Megatron-LM", description="Checkout of NVIDIA/Megatron-LM holding pretrain_gpt.py."
    )
    nnodes: int = Field(4, ge=1, description="Nodes (torchrun --nnodes).")
    nproc_per_node: int = Field(8, ge=1, description="GPUs per node (torchrun --nproc-per-node).")
    node_rank: str = Field(
        "${NODE_RANK}", description="This node's rank; an env reference filled by the scheduler."
    )
    master_addr: str = Field("${MASTER_ADDR}", description="Rendezvous host.")
    master_port: int = Field(29500, description="Rendezvous port.")
    tensor_parallel: int = Field(2, ge=1, description="--tensor-model-parallel-size.")
    pipeline_parallel: int = Field(1, ge=1, description="--pipeline-model-parallel-size.")
    context_parallel: int = Field(1, ge=1, description="--context-parallel-size.")
    sequence_parallel: bool = Field(True, description="--sequence-parallel (needs tensor_parallel > 1).")
    micro_batch_size: int = Field(1, ge=1, description="--micro-batch-size per GPU.")
    global_batch_size: int = Field(
        512, ge=1, description="--global-batch-size (sequences per optimizer step)."
    )
    # architecture (Llama-3.1-8B)
    num_layers: int = Field(32, ge=1, description="Transformer layers.")
    hidden_size: int = Field(4096, ge=1, description="Hidden size.")
    ffn_hidden_size: int = Field(14336, ge=1, description="SwiGLU inner size.")
    num_attention_heads: int = Field(32, ge=1, description="Attention heads.")
    num_query_groups: int = Field(8, ge=1, description="GQA key/value heads.")
    max_position_embeddings: int = Field(131072, ge=1, description="Positions the model supports.")
    rotary_base: int = Field(500000, ge=1, description="RoPE theta.")
    norm_epsilon: float = Field(1e-5, gt=0, description="RMSNorm epsilon.")
    untie_embeddings: bool = Field(
        True, description="Separate input and output embeddings (Llama-3.1-8B: yes)."
    )
    tokenizer: str = Field(
        "meta-llama/Llama-3.1-8B", description="HF tokenizer (with FIM sentinels) for --tokenizer-model."
    )
    load: str = Field(
        "checkpoints/llama31-8b-mcore",
        description="Megatron checkpoint to start from (converted from HF, see docs/megatron.md).",
    )
    save: str = Field("checkpoints/llama31-8b-cpt", description="Where Megatron writes checkpoints.")
    save_interval: int = Field(1000, ge=1, description="--save-interval.")
    eval_interval: int = Field(1000, ge=1, description="--eval-interval.")
    eval_iters: int = Field(20, ge=0, description="--eval-iters.")
    split: str = Field("998,1,1", description="--split train,valid,test weights.")
    min_lr: float = Field(3e-6, ge=0, description="--min-lr for the cosine floor.")
    rope_scaling_factor: float | None = Field(
        8.0,
        description="Llama-3.x RoPE scaling (--use-rope-scaling "
        "--rope-scaling-factor); None for models without it.",
    )
    ckpt_format: str = Field("torch_dist", description="--ckpt-format of saved checkpoints.")
    provider: str = Field(
        "codeja.fim.megatron:fim_dataset_provider",
        description="MODULE:FUNCTION of the "
        "dataset provider plugged into pretrain_gpt.py (codeja's FIM datasets).",
    )
    extra_args: list[str] = Field(
        default_factory=list, description="Further pretrain_gpt.py arguments, verbatim."
    )

    @model_validator(mode="after")
    def _check_parallelism(self) -> MegatronConfig:
        world = self.nnodes * self.nproc_per_node
        model_parallel = self.tensor_parallel * self.pipeline_parallel * self.context_parallel
        if world % model_parallel:
            raise ValueError(
                f"tensor*pipeline*context parallel = {model_parallel} does not divide the "
                f"{world} GPUs (nnodes*nproc_per_node)"
            )
        dp = world // model_parallel
        if self.global_batch_size % (self.micro_batch_size * dp):
            raise ValueError(
                f"global_batch_size {self.global_batch_size} is not a multiple of "
                f"micro_batch_size*data_parallel = {self.micro_batch_size * dp}"
            )
        if self.num_layers % self.pipeline_parallel:
            raise ValueError(
                f"num_layers {self.num_layers} not divisible by pipeline_parallel {self.pipeline_parallel}"
            )
        if self.num_attention_heads % self.tensor_parallel or self.num_query_groups % self.tensor_parallel:
            raise ValueError("attention heads and query groups must be divisible by tensor_parallel")
        if self.sequence_parallel and self.tensor_parallel == 1:
            raise ValueError("sequence_parallel needs tensor_parallel > 1")
        return self

    @property
    def data_parallel(self) -> int:
        return (
            self.nnodes
            * self.nproc_per_node
            // (self.tensor_parallel * self.pipeline_parallel * self.context_parallel)
        )


# FIM fields one run shares across its sources: the sample length, the random seed and the sentinel tokens
SHARED_FIM_FIELDS = ("seq_len", "seed", "sentinels")


class DataSource(StrictModel):
    """One tokenized corpus of a CPT data mixture (``data: [{name, prefix, weight}, ...]``)."""

    name: str = Field(description="Short name, used in logs, the manifest and overrides (cpt.data.<name>.weight=0).")
    prefix: str = Field(description="Indexed-dataset prefix written by `codeja tokenize` (PREFIX.bin / PREFIX.idx).")
    weight: float | None = Field(
        None, ge=0,
        description="Share of the training samples drawn from this source, normalised over the sources (0 leaves "
        "it out). Every source of a mixture gives weight, or every source gives tokens.",
    )
    tokens: int | None = Field(
        None, ge=0,
        description="Target training tokens from this source instead of a weight: the shares are tokens / total, "
        "and the total must equal the tokens the run trains on (max_steps x tokens per step) within one step.",
    )
    fim: dict[str, Any] = Field(
        default_factory=dict,
        description="FIM settings that differ for this source, applied over the run's fim section (e.g. "
        "{mode: off} for prose, {fim_rate: 0.9} for code). seq_len, seed and sentinels are the run's.",
    )

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", v):
            raise ValueError("use letters, digits, '_' or '-', starting with a letter")
        return v

    @model_validator(mode="after")
    def _one_amount(self) -> DataSource:
        if self.weight is not None and self.tokens is not None:
            raise ValueError(f"source '{self.name}': give weight or tokens, not both")
        shared = sorted(set(self.fim) & set(SHARED_FIM_FIELDS))
        if shared:
            raise ValueError(f"source '{self.name}': fim.{shared[0]} is set once for the run (in fim), not per source")
        return self


class CPTConfig(TrainBase):
    """Continued pretraining on indexed datasets (``codeja tokenize`` output) with FIM applied at load time."""

    data: Annotated[
        Annotated[str, Tag("prefix")] | Annotated[list[DataSource], Tag("sources")],
        Discriminator(lambda v: "sources" if isinstance(v, list) else "prefix"),  # one branch's errors, not both
    ] = Field(
        "",
        description="An indexed-dataset prefix written by `codeja tokenize`, or a mixture: a list of sources "
        "{name, prefix, weight | tokens, fim} blended like Megatron's --data-path w1 p1 w2 p2 (same meaning on "
        "both engines; see docs/megatron.md).",
    )
    fim: FIMConfig = Field(
        default_factory=lambda: FIMConfig(seq_len=512),
        description="FIM transform (mode, "
        "rates, seq_len, sentinels); fim.seq_len is the training sequence length (CPU default 512).",
    )
    validation: ValidationConfig = Field(
        default_factory=ValidationConfig, description="Held-out L2R / FIM loss."
    )
    limit_train_samples: int = Field(
        0,
        ge=0,
        description="Train on only the first N (non-held-out) samples of each source "
        "(0 = all); for overfitting checks and smoke tests.",
    )
    engine: Literal["hf", "megatron"] = Field(
        "hf",
        description="'hf' trains here with transformers' Trainer; "
        "'megatron' launches Megatron-LM's pretrain_gpt.py.",
    )
    megatron: MegatronConfig = Field(
        default_factory=MegatronConfig, description="Megatron-LM launch settings."
    )
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(learning_rate=1e-4),
        description="Optimiser and schedule (cpt default peak lr 1e-4).",
    )

    @model_validator(mode="after")
    def _check_sources(self) -> CPTConfig:
        if isinstance(self.data, str):
            return self
        if not self.data:
            raise ValueError("data: an empty list of sources")
        for kind in ("name", "prefix"):
            seen = [getattr(src, kind) for src in self.data]
            dup = next((x for x in seen if seen.count(x) > 1), None)
            if dup is not None:
                raise ValueError(f"data: two sources have the {kind} '{dup}'")
        if len(self.data) > 1:
            kinds = {("weight" if src.weight is not None else "tokens" if src.tokens is not None else None)
                     for src in self.data}
            if None in kinds:
                bare = next(src.name for src in self.data if src.weight is None and src.tokens is None)
                raise ValueError(f"data: source '{bare}' has neither weight nor tokens")
            if len(kinds) > 1:
                raise ValueError("data: mix of weight and tokens; give every source a weight, or every source tokens")
            if not any((src.weight or src.tokens or 0) > 0 for src in self.data):
                raise ValueError("data: every source has weight 0")
        for src in self.data:
            self.source_fim(src)  # raises on a bad per-source FIM setting
        return self

    @property
    def sources(self) -> list[DataSource]:
        """The mixture as a list of sources (a single prefix is one source named after it, weight 1)."""
        if isinstance(self.data, str):
            name = re.sub(r"[^A-Za-z0-9_-]", "_", PurePath(self.data).name) or "data"
            return [DataSource(name=name if name[0].isalpha() else f"d{name}", prefix=self.data, weight=1.0)]
        return list(self.data)

    def source_fim(self, src: DataSource) -> FIMConfig:
        """The FIM settings of one source: the run's ``fim`` with the source's overrides."""
        if not src.fim:
            return self.fim
        try:
            return FIMConfig.model_validate({**self.fim.model_dump(), **src.fim})
        except ValueError as e:  # pydantic's ValidationError: name the source and the key
            errs = getattr(e, "errors", list)()
            first = errs[0] if errs else {"loc": (), "msg": str(e)}
            key = ".".join(str(x) for x in first.get("loc", ()))
            raise ValueError(f"data: source '{src.name}': fim.{key}: {first.get('msg')}") from None


# ---------------------------------------------------------------------------------------------------------------
# SFT and DPO: users' data (TRL formats, Hub datasets), LoRA, epochs


class LoraConfig(StrictModel):
    """LoRA adapters (peft) for SFT and DPO: low-rank matrices are trained, the base weights stay frozen.

    Saving (``merge``): by default the adapters are merged into the base weights, so ``model/`` is a plain
    transformers checkpoint that every later stage (DPO, prefs, eval, a llama.cpp conversion) loads as it loads any
    model; the adapter alone is kept beside it in ``adapter/``. With ``merge: false``, ``model/`` holds only the
    adapter (``adapter_config.json`` + weights, naming its base model), which transformers loads when peft is
    installed and the base model is still where it was. DPO with LoRA needs no reference copy: the reference is the
    policy with its adapters switched off (unless ``ref_model`` names one).
    """

    enabled: bool = Field(False, description="Train LoRA adapters instead of all weights.")
    r: int = Field(16, ge=1, description="Rank of the adapter matrices.")
    alpha: float = Field(32, gt=0, description="Scale: the update is multiplied by alpha / r.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter's input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Modules that get adapters: 'all-linear' (every linear layer but the output "
        "head) or names such as [q_proj, k_proj, v_proj, o_proj].")
    modules_to_save: list[str] = Field(
        default_factory=list, description="Modules trained in full and saved with the adapter (e.g. "
        "[embed_tokens, lm_head] when the tokenizer gained tokens that must be learnt).")
    merge: bool = Field(True, description="Merge the adapters into model/ (true) or save only the adapter there.")


class FineTuneBase(TrainBase):
    """What SFT and DPO share: data from files or the Hub with a column mapping, LoRA, and epochs or steps."""

    data: str = Field(
        "",
        description="Training data: a JSONL(.gz) file, a Hub dataset id owner/name[@revision], a save_to_disk "
        "folder, a folder of data files, or a .parquet / .json / .csv file (formats: codeja.train.data).",
    )
    hub: HubOptions = Field(
        default_factory=HubOptions,
        description="How a dataset (hub id or folder) is read: config, split, revision, data_dir, data_files.",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Rename the data's fields to TRL's before reading, e.g. {question: prompt, answer: completion}.",
    )
    max_steps: int | None = Field(
        None, ge=1, description="Optimizer steps (default 100 unless num_train_epochs is set; set one, not both)."
    )
    num_train_epochs: float | None = Field(
        None, gt=0, description="Passes over the data (fractions allowed); instead of max_steps."
    )
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA adapters via peft (off by default).")

    @model_validator(mode="before")
    @classmethod
    def _default_steps(cls, data):
        if isinstance(data, dict) and data.get("max_steps") is None and data.get("num_train_epochs") is None:
            data = {**data, "max_steps": 100}
        return data

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> FineTuneBase:
        if self.max_steps is not None and self.num_train_epochs is not None:
            raise ValueError(
                f"max_steps ({self.max_steps}) and num_train_epochs ({self.num_train_epochs}) are mutually "
                "exclusive: set one (max_steps: null to train by epochs)"
            )
        return self


Role = Literal["system", "user", "assistant"]


class SFTConfig(FineTuneBase):
    """Supervised fine-tuning with TRL's SFTTrainer on messages, prompt/completion, text, ShareGPT or Alpaca data."""

    data_format: Literal["auto", "messages", "sharegpt", "prompt-completion", "alpaca", "text"] = Field(
        "auto", description="Row format (codeja.train.data); auto detects it from each row's fields."
    )

    extra_data: list[str] = Field(default_factory=list, description="More data (files or datasets, same format) "
                                  "trained on with data (e.g. the preference stage's sft.jsonl of lone survivors).")
    max_length: int = Field(
        1024, ge=8, description="Longest tokenized conversation; longer ones are handled by overlong."
    )
    overlong: Literal["drop", "truncate", "error"] = Field(
        "drop", description="Conversations over max_length: drop and count them, truncate the end, or stop."
    )
    assistant_only_loss: bool = Field(
        True,
        description="Conversational data: train only on assistant turns (needs a chat template "
        "with {% generation %} markers; codeja supplies ChatML when missing). Standard data trains on the "
        "completion (prompt-completion) or every token (text).",
    )
    chat_template: str | None = Field(
        None,
        description="Path of a Jinja chat template to use instead of the "
        "model's (default: the model's, or codeja's ChatML with generation markers "
        "when assistant_only_loss needs them).",
    )
    packing: bool = Field(False, description="Pack several conversations per sequence (TRL BFD packing).")
    bad_rows: Literal["error", "skip"] = Field(
        "error",
        description="A malformed row stops the run ('error') or is "
        "quarantined to bad_rows.jsonl and counted ('skip').",
    )
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(learning_rate=2e-5, weight_decay=0.0),
        description="Optimiser and schedule (sft default peak lr 2e-5).",
    )


class DPOConfig(FineTuneBase):
    """Preference optimisation with TRL's DPOTrainer on pairs: prompt / chosen / rejected (explicit prompt) or
    chosen / rejected (implicit prompt), conversational or standard."""

    beta: float = Field(0.1, gt=0, description="KL strength: how far the policy may move from the reference.")
    loss_type: list[str] = Field(
        default_factory=lambda: ["sigmoid"],
        description="TRL loss terms, e.g. "
        "['sigmoid'] (DPO) or ['sigmoid', 'sft'] (DPO plus an SFT term on chosen).",
    )
    loss_weights: list[float] | None = Field(
        None, description="One weight per loss_type entry (None = all 1)."
    )
    ref_model: str | None = Field(
        None, description="Reference model; None = a frozen copy of the starting policy."
    )
    precompute_ref_log_probs: bool = Field(
        False,
        description="Compute reference log-probs once before training "
        "(saves memory: the reference model is then not kept).",
    )
    max_length: int = Field(1024, ge=8, description="Longest prompt+response in tokens.")
    overlong: Literal["drop", "truncate", "error"] = Field(
        "drop",
        description="Pairs over max_length: drop and "
        "count (default; code is never cut silently), "
        "truncate the end (counted), or stop with an error.",
    )
    bad_rows: Literal["error", "skip"] = Field(
        "error", description="A malformed row stops the run or is quarantined to bad_rows.jsonl and counted."
    )
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(learning_rate=1e-6, weight_decay=0.0),
        description="Optimiser and schedule (dpo default peak lr 1e-6).",
    )

    @model_validator(mode="after")
    def _check_loss(self) -> DPOConfig:
        known = {
            "sigmoid",
            "hinge",
            "ipo",
            "exo_pair",
            "nca_pair",
            "robust",
            "bco_pair",
            "sppo_hard",
            "aot",
            "aot_unpaired",
            "apo_zero",
            "apo_down",
            "discopop",
            "sft",
            "sigmoid_norm",
        }
        bad = [t for t in self.loss_type if t not in known]
        if bad or not self.loss_type:
            raise ValueError(f"loss_type {bad or '[]'}: expected one or more of {sorted(known)}")
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss_type):
            raise ValueError(
                f"loss_weights has {len(self.loss_weights)} entries for {len(self.loss_type)} loss types"
            )
        return self
