"""accelerate relaunch for multi-GPU training: the command, the config round trip, no relaunch inside a launch."""

from pathlib import Path

import pytest

from codeja.config import config_hash, load_config
from codeja.errors import ConfigError
from codeja.train.config import SFTConfig
from codeja.train.launch import accelerate_command, maybe_relaunch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("acc", ["fsdp.yaml", "deepspeed_zero3.yaml"])
def test_accelerate_command_and_config_round_trip(tmp_path, acc):
    cfg = SFTConfig(model="tiny", data="x.jsonl", max_steps=3,
                    accelerate_config=str(ROOT / "recipes" / "accelerate" / acc))
    cmd = accelerate_command("sft", cfg, tmp_path / "out")
    assert cmd[1:4] == ["launch", "--config_file", cfg.accelerate_config]
    assert cmd[4:8] == ["-m", "codeja.cli", "train", "sft"]
    assert cmd[-3:] == ["--output", str(tmp_path / "out"), "--json"]
    again = load_config(cmd[8], SFTConfig, stage="train.sft")
    assert config_hash(again) == config_hash(cfg)


def test_missing_accelerate_config_is_a_config_error(tmp_path):
    cfg = SFTConfig(accelerate_config=str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="accelerate_config: file not found"):
        accelerate_command("sft", cfg, tmp_path)


def test_no_relaunch_without_config_or_inside_a_launch(tmp_path, monkeypatch):
    assert maybe_relaunch("sft", SFTConfig(), tmp_path) is None
    monkeypatch.setenv("LOCAL_RANK", "0")
    cfg = SFTConfig(accelerate_config=str(ROOT / "recipes" / "accelerate" / "fsdp.yaml"))
    assert maybe_relaunch("sft", cfg, tmp_path) is None
