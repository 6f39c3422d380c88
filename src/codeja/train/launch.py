"""Multi-GPU training through ``accelerate launch`` (FSDP or DeepSpeed ZeRO-3 configs in ``recipes/accelerate/``).

A training config with ``accelerate_config`` set is run by re-launching the same stage command under
``accelerate launch --config_file <file> -m codeja.cli train <kind> <resolved config> -o <dir>``. The launched
processes see ``LOCAL_RANK`` and train in place (no second relaunch); the summary is read back from the stage's
``manifest.json``. This keeps ``codeja run`` a single process that can drive an 8-GPU node.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from codeja.config import dump_yaml
from codeja.errors import CodejaError, ConfigError
from codeja.runs import MANIFEST, read_json


def inside_distributed_launch() -> bool:
    return "LOCAL_RANK" in os.environ or "ACCELERATE_PROCESS_INDEX" in os.environ


def accelerate_command(kind: str, cfg: Any, output_dir: str | Path) -> list[str]:
    """The command that runs stage ``kind`` (cpt, sft, dpo) under ``accelerate launch``; writes the config file."""
    if not Path(cfg.accelerate_config).is_file():
        raise ConfigError(f"accelerate_config: file not found: {cfg.accelerate_config}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / f"{kind}.launch.yaml"
    cfg_path.write_text(f"stage: train.{kind}\n" + dump_yaml(cfg), encoding="utf-8")
    launcher = shutil.which("accelerate") or str(Path(sys.executable).with_name("accelerate"))
    return [launcher, "launch", "--config_file", str(cfg.accelerate_config), "-m", "codeja.cli", "train", kind,
            str(cfg_path), "--output", str(out), "--json"]


def maybe_relaunch(kind: str, cfg: Any, output_dir: str | Path) -> dict[str, Any] | None:
    """Run the stage under accelerate when asked to and not already launched; None means 'train here'."""
    if not getattr(cfg, "accelerate_config", None) or inside_distributed_launch():
        return None
    cmd = accelerate_command(kind, cfg, output_dir)
    print("launching: " + " ".join(cmd), file=sys.stderr, flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        raise CodejaError(f"train {kind}: `accelerate launch` exited with {rc} (see its output above)")
    return read_json(Path(output_dir) / MANIFEST).get("summary", {})
