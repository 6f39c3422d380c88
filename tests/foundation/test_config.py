"""Configs: strict validation, clear errors (file, key path, suggestion), overrides, hashing, CLI exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codeja.cli import main
from codeja.config import ConfigError, apply_overrides, config_hash, load_config, read_yaml
from codeja.pipeline.recipe import load_any
from codeja.pipeline.stages import STAGES, Stage

TOY_MODULE = textwrap.dedent('''
    from pydantic import Field
    from codeja.config import StrictModel

    class Optim(StrictModel):
        learning_rate: float = Field(1e-5, description="peak learning rate")
        warmup_steps: int = Field(10, description="linear warm-up steps")

    class ToyConfig(StrictModel):
        name: str = Field("toy", description="a name")
        seed: int = Field(0, description="seed")
        optim: Optim = Field(default_factory=Optim, description="optimiser")
        tags: list[str] = Field(default_factory=list, description="labels")
''')


@pytest.fixture()
def toy(tmp_path, monkeypatch):
    """A throwaway stage 'toy' whose schema this test controls (other stages' schemas evolve independently)."""
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    (mod_dir / "codeja_toy_config.py").write_text(TOY_MODULE)
    monkeypatch.syspath_prepend(str(mod_dir))
    import importlib

    toy_config = importlib.import_module("codeja_toy_config").ToyConfig
    monkeypatch.setitem(STAGES, "toy", Stage("toy", toy_config, run=lambda cfg, out: {}))  # never run here
    return toy_config


def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_defaults_and_file_and_overrides(tmp_path, toy):
    cfg = load_config(None, toy)
    assert cfg.optim.learning_rate == 1e-5 and cfg.name == "toy"
    p = write(tmp_path, "stage: toy\nname: a\noptim:\n  warmup_steps: 3\n")
    cfg = load_config(p, toy, ["optim.learning_rate=3e-4", "tags=[x, y]", "seed=7"], stage="toy")
    assert (cfg.name, cfg.seed, cfg.optim.warmup_steps, cfg.optim.learning_rate, cfg.tags) == ("a", 7, 3, 3e-4,
                                                                                                ["x", "y"])


def test_unknown_key_names_file_path_and_suggestion(tmp_path, toy):
    p = write(tmp_path, "optim:\n  learning_rat: 0.1\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, toy)
    msg = str(e.value)
    assert str(p) in msg and "optim.learning_rat" in msg and "did you mean 'learning_rate'" in msg
    assert e.value.exit_code == 2


def test_unknown_top_level_key_suggests(tmp_path, toy):
    with pytest.raises(ConfigError, match=r"sed: unknown key \(did you mean 'seed'\?\)"):
        load_config(write(tmp_path, "sed: 1\n"), toy)


def test_wrong_type_names_key_and_value(tmp_path, toy):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "optim:\n  warmup_steps: many\n"), toy)
    assert "optim.warmup_steps" in str(e.value) and "'many'" in str(e.value)


def test_missing_file_and_bad_yaml_and_non_mapping(tmp_path, toy):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", toy)
    bad = write(tmp_path, "a: [1, 2\nb: 3\n", "bad.yaml")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        read_yaml(bad)
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        read_yaml(write(tmp_path, "- 1\n- 2\n", "list.yaml"))
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        read_yaml(latin)


def test_stage_mismatch_and_missing_stage(tmp_path, toy):
    with pytest.raises(ConfigError, match="is a 'curate' config, expected 'toy'"):
        load_config(write(tmp_path, "stage: curate\n"), toy, stage="toy")
    with pytest.raises(ConfigError, match="stage: missing"):
        load_any(write(tmp_path, "name: x\n"))
    with pytest.raises(ConfigError, match="unknown stage 'toyy' \\(did you mean 'toy'\\?\\)"):
        load_any(write(tmp_path, "stage: toyy\n"))


def test_bad_override_syntax(toy):
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["no_equals_sign"])
    with pytest.raises(ConfigError, match="'name' is a value, not a section"):
        apply_overrides({"name": "x"}, ["name.sub=1"])


def test_hash_is_stable_and_sensitive(toy):
    a, b = toy(), toy(seed=0)
    assert config_hash(a) == config_hash(b) == config_hash(a.model_dump(mode="json"))
    assert config_hash(toy(seed=1)) != config_hash(a)
    assert len(config_hash(a)) == 64


def test_cli_validate_prints_resolved_json(tmp_path, toy, capsys):
    p = write(tmp_path, "stage: toy\nseed: 3\n")
    assert main(["config", "validate", str(p), "--set", "optim.warmup_steps=5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stage"] == "toy" and out["config"]["seed"] == 3 and out["config"]["optim"]["warmup_steps"] == 5
    assert out["config_hash"] == config_hash(toy(seed=3, optim={"warmup_steps": 5}))


def test_cli_bad_config_exits_2_with_one_paragraph(tmp_path, toy, capsys):
    p = write(tmp_path, "stage: toy\noptim:\n  learning_rat: 1\n")
    assert main(["config", "validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(p) in err and "learning_rat" in err and "Traceback" not in err
    assert main(["config", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_entry_point_subprocess_exit_code(tmp_path):
    """The installed `codeja` script: a real stage config with an unknown key -> exit 2, no traceback."""
    p = write(tmp_path, "stage: curate\nthis_key_does_not_exist: 1\n")
    exe = Path(sys.executable).with_name("codeja")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "codeja.cli"]
    r = subprocess.run([*cmd, "config", "validate", str(p)], check=False, capture_output=True, text=True,
                       timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 2, r.stderr
    assert str(p) in r.stderr and "this_key_does_not_exist" in r.stderr and "Traceback" not in r.stderr
