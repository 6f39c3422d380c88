"""``codeja train cpt --engine megatron``: the torchrun command for Megatron-LM's pretrain_gpt.py, with codeja's
FIM dataset provider plugged in through :mod:`codeja.train.megatron_pretrain`.

The same CPTConfig drives both engines: ``data`` (an indexed-dataset prefix, or a mixture of sources, emitted as
Megatron's own ``--data-path w1 p1 w2 p2 ...``), ``fim`` (written to ``fim.yaml`` and handed to the provider through
``CODEJA_FIM_CONFIG``; per-source FIM settings as a FIMBlendConfig keyed by prefix), ``max_steps`` (train
iterations), ``optim`` (peak lr, warmup, cosine, AdamW betas, clipping) and ``seed``; the ``megatron`` section adds
parallelism, the architecture and
checkpoint paths. ``--dry-run`` prints the command, the data plan (samples, tokens and epochs per source) and the
resolved config, and writes ``command.sh``.
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeja.config import dump_yaml
from codeja.errors import CodejaError, ConfigError
from codeja.fim.config import FIMBlendConfig, FIMConfig
from codeja.runs import write_manifest
from codeja.train.config import CPTConfig

ENTRY = Path(__file__).with_name("megatron_pretrain.py")

# Every flag we emit, all of them pretrain_gpt.py arguments (megatron/training/arguments.py, NVIDIA Megatron-LM
# core_r0.12+). Tests check the command against this list so a typo cannot reach a cluster.
PRETRAIN_GPT_FLAGS = frozenset(
    """
--tensor-model-parallel-size --pipeline-model-parallel-size --context-parallel-size --sequence-parallel
--use-distributed-optimizer --num-layers --hidden-size --ffn-hidden-size --num-attention-heads
--group-query-attention --num-query-groups --seq-length --max-position-embeddings --position-embedding-type
--rotary-base --use-rope-scaling --rope-scaling-factor --normalization --norm-epsilon --swiglu
--untie-embeddings-and-output-weights --disable-bias-linear --attention-dropout --hidden-dropout
--make-vocab-size-divisible-by --micro-batch-size --global-batch-size --train-iters --lr --min-lr --lr-decay-style
--lr-warmup-iters --lr-decay-iters --weight-decay --adam-beta1 --adam-beta2 --clip-grad --bf16 --tokenizer-type
--tokenizer-model --data-path --split --load --save --finetune --ckpt-format --save-interval --eval-interval
--eval-iters --log-interval --log-throughput --tensorboard-dir --wandb-project --seed
""".split()
)


@dataclass
class MegatronLaunch:
    env: dict[str, str]
    argv: list[str]

    def shell(self) -> str:
        """The command as a copy-pasteable shell line, one flag per line."""
        env = " ".join(f"{k}={_q(v)}" for k, v in self.env.items())
        parts, i = [], 0
        while i < len(self.argv):  # keep each flag with its values on one line (--data-path w1 p1 w2 p2)
            item, j = self.argv[i], i + 1
            while item.startswith("--") and j < len(self.argv) and not self.argv[j].startswith("--"):
                j += 1
            parts.append(" ".join(_q(x) for x in self.argv[i:j]))
            i = j
        return (env + " \\\n  " if env else "") + " \\\n  ".join(parts)


def _q(v: str) -> str:
    # leave ${VAR} references expandable by the shell on each node
    return f'"{v}"' if v.startswith("${") else shlex.quote(v)


def _num(x: float) -> str:
    return f"{x:g}"


def data_path_args(cfg: CPTConfig) -> list[str]:
    """The values of ``--data-path``: the prefix, or Megatron's blend ``w1 p1 w2 p2 ...`` with the normalised
    weights of the sources (a source of weight 0 is left out, as on the transformers engine)."""
    # heavy: codeja.train.mixture (torch) (kept out of `codeja --help` and light imports)
    from codeja.train.mixture import normalised_weights

    if isinstance(cfg.data, str):
        if not cfg.data:
            raise ConfigError("data: an indexed-dataset prefix is needed for the Megatron data path")
        return [cfg.data]
    live = [(w, src) for w, src in zip(normalised_weights(cfg), cfg.sources) if w > 0]
    if len(live) == 1:
        return [live[0][1].prefix]
    return [x for w, src in live for x in (f"{w:.12g}", src.prefix)]


def fim_settings(cfg: CPTConfig) -> FIMConfig | FIMBlendConfig:
    """What ``fim.yaml`` holds for the provider: the run's FIMConfig, or a FIMBlendConfig when sources differ."""
    per = {src.prefix: cfg.source_fim(src) for src in cfg.sources}
    for src in cfg.sources:
        if per[src.prefix].mode == "document":
            raise ConfigError(f"data: source '{src.name}': fim.mode=document is not supported on the Megatron engine "
                              "(use context or off)")
    if cfg.fim.mode == "document":
        raise ConfigError("fim.mode=document is not supported on the Megatron engine (use context or off)")
    if all(f == cfg.fim for f in per.values()):
        return cfg.fim
    return FIMBlendConfig(default=cfg.fim, by_prefix=per)


def build_command(cfg: CPTConfig, output_dir: str | Path) -> MegatronLaunch:
    m, o = cfg.megatron, cfg.optim
    data_path = data_path_args(cfg)
    fim_settings(cfg)  # refuses what FIMGPTDataset cannot do before anything reaches a cluster
    warmup = int(math.ceil(o.warmup_ratio * cfg.max_steps))
    out = Path(output_dir)
    torchrun = [
        "torchrun",
        "--nnodes",
        str(m.nnodes),
        "--nproc-per-node",
        str(m.nproc_per_node),
        "--node-rank",
        m.node_rank,
        "--master-addr",
        m.master_addr,
        "--master-port",
        str(m.master_port),
    ]
    entry = [str(ENTRY), "--provider", m.provider, str(Path(m.megatron_lm_dir) / "pretrain_gpt.py")]
    a: list[str] = [
        "--tensor-model-parallel-size",
        str(m.tensor_parallel),
        "--pipeline-model-parallel-size",
        str(m.pipeline_parallel),
        "--context-parallel-size",
        str(m.context_parallel),
        *(["--sequence-parallel"] if m.sequence_parallel else []),
        "--use-distributed-optimizer",
        # architecture
        "--num-layers",
        str(m.num_layers),
        "--hidden-size",
        str(m.hidden_size),
        "--ffn-hidden-size",
        str(m.ffn_hidden_size),
        "--num-attention-heads",
        str(m.num_attention_heads),
        *(
            ["--group-query-attention", "--num-query-groups", str(m.num_query_groups)]
            if m.num_query_groups != m.num_attention_heads
            else []
        ),
        "--seq-length",
        str(cfg.fim.seq_len),
        "--max-position-embeddings",
        str(m.max_position_embeddings),
        "--position-embedding-type",
        "rope",
        "--rotary-base",
        str(m.rotary_base),
        *(
            ["--use-rope-scaling", "--rope-scaling-factor", _num(m.rope_scaling_factor)]
            if m.rope_scaling_factor
            else []
        ),
        "--normalization",
        "RMSNorm",
        "--norm-epsilon",
        _num(m.norm_epsilon),
        "--swiglu",
        *(["--untie-embeddings-and-output-weights"] if m.untie_embeddings else []),
        "--disable-bias-linear",
        "--attention-dropout",
        "0",
        "--hidden-dropout",
        "0",
        "--make-vocab-size-divisible-by",
        "128",
        # batch and schedule
        "--micro-batch-size",
        str(m.micro_batch_size),
        "--global-batch-size",
        str(m.global_batch_size),
        "--train-iters",
        str(cfg.max_steps),
        "--lr",
        _num(o.learning_rate),
        "--min-lr",
        _num(m.min_lr),
        "--lr-decay-style",
        {"cosine": "cosine", "linear": "linear", "constant": "constant"}[o.scheduler],
        "--lr-warmup-iters",
        str(warmup),
        "--lr-decay-iters",
        str(cfg.max_steps),
        "--weight-decay",
        _num(o.weight_decay),
        "--adam-beta1",
        _num(o.adam_beta1),
        "--adam-beta2",
        _num(o.adam_beta2),
        "--clip-grad",
        _num(o.max_grad_norm),
        "--bf16",
        # data: the provider reads fim.yaml (CODEJA_FIM_CONFIG); --data-path/--split feed Megatron's own config
        "--tokenizer-type",
        "HuggingFaceTokenizer",
        "--tokenizer-model",
        m.tokenizer,
        "--data-path",
        *data_path,
        "--split",
        m.split,
        "--seed",
        str(cfg.seed),
        # checkpoints: --finetune loads weights only (iteration, optimizer reset) the first time; a restart with an
        # existing --save checkpoint resumes it instead
        *_load_args(m),
        "--save",
        m.save,
        "--ckpt-format",
        m.ckpt_format,
        "--save-interval",
        str(m.save_interval),
        "--eval-interval",
        str(m.eval_interval),
        "--eval-iters",
        str(m.eval_iters),
        "--log-interval",
        str(cfg.logging_steps),
        "--log-throughput",
        *(["--tensorboard-dir", str(out / "tensorboard")] if "tensorboard" in cfg.report_to else []),
        *(["--wandb-project", "codeja"] if "wandb" in cfg.report_to else []),
        *m.extra_args,
    ]
    env = {"CODEJA_FIM_CONFIG": str(out / "fim.yaml"), "CUDA_DEVICE_MAX_CONNECTIONS": "1"}
    return MegatronLaunch(env=env, argv=torchrun + entry + a)


def _load_args(m) -> list[str]:
    if (Path(m.save) / "latest_checkpointed_iteration.txt").is_file():
        return ["--load", m.save]
    return ["--load", m.load, "--finetune"]


def run_megatron(cfg: CPTConfig, output_dir: str | Path, *, dry_run: bool = False) -> dict[str, Any]:
    """Write fim.yaml, command.sh and a manifest; run the command unless ``dry_run``. Returns a summary."""
    from codeja.train.mixture import plan_mixture

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    launch = build_command(cfg, out)
    plan = plan_mixture(cfg, engine="megatron", require_data=False)  # the data may live on the cluster only
    (out / "fim.yaml").write_text(dump_yaml(fim_settings(cfg)), encoding="utf-8")
    script = out / "command.sh"
    script.write_text(
        "#!/usr/bin/env bash\n# codeja train cpt --engine megatron (run on every node)\nset -euo "
        "pipefail\n" + launch.shell() + "\n",
        encoding="utf-8",
    )
    m = cfg.megatron
    summary = {
        "engine": "megatron",
        "dry_run": dry_run,
        "command": launch.shell(),
        "command_sh": str(script),
        "world_size": m.nnodes * m.nproc_per_node,
        "data_parallel": m.data_parallel,
        "tokens_per_step": m.global_batch_size * cfg.fim.seq_len,
        "data_path": data_path_args(cfg),
        "data_plan": plan.as_dict(),
        "data_plan_table": plan.table(),
    }
    write_manifest(out, "train.cpt", cfg, status="dry_run" if dry_run else "launched", summary=summary)
    if dry_run:
        return summary
    pretrain = Path(m.megatron_lm_dir) / "pretrain_gpt.py"
    if not pretrain.is_file():
        raise ConfigError(
            f"megatron.megatron_lm_dir: {pretrain} not found; clone NVIDIA/Megatron-LM and point "
            "megatron_lm_dir at it"
        )
    argv = [os.path.expandvars(x) for x in launch.argv]  # ${NODE_RANK}, ${MASTER_ADDR} from the scheduler
    unset = sorted({x for x in argv if "${" in x})
    if unset:
        raise ConfigError(
            f"environment variables not set on this node: {', '.join(unset)} (export them, or set "
            "megatron.node_rank / megatron.master_addr)"
        )
    rc = subprocess.run(argv, env={**os.environ, **launch.env}).returncode
    if rc:
        raise CodejaError(f"Megatron-LM exited with status {rc}; the command is in {script}")
    summary["returncode"] = rc
    write_manifest(out, "train.cpt", cfg, status="complete", summary=summary)
    return summary
