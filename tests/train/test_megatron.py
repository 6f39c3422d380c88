"""The Megatron-LM launcher: the 4x8 Llama-3.1-8B recipe prints a complete, consistent command, and the torchrun
entry really runs a pretrain_gpt.py with codeja's provider swapped in."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from codeja.config import load_config
from codeja.errors import ConfigError
from codeja.train.config import CPTConfig
from codeja.train.megatron import ENTRY, PRETRAIN_GPT_FLAGS, build_command

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "megatron" / "llama31-8b-cpt-4x8.yaml"


def _parse(argv: list[str]) -> tuple[dict, str, str, dict]:
    """Split the command into torchrun options, entry provider, pretrain_gpt.py path and Megatron flags."""
    assert argv[0] == "torchrun"
    i = argv.index(str(ENTRY))
    torchrun = dict(zip(argv[1:i:2], argv[2:i:2]))
    assert argv[i + 1] == "--provider"
    provider, script = argv[i + 2], argv[i + 3]
    flags: dict[str, list[str]] = {}
    key = None
    for tok in argv[i + 4 :]:
        if tok.startswith("--"):
            key = tok
            assert key not in flags, f"{key} given twice"
            flags[key] = []
        else:
            assert key is not None, f"value {tok!r} without a flag"
            flags[key].append(tok)
    return torchrun, provider, script, flags


def test_recipe_dry_run_command_is_complete_and_consistent(tmp_path):
    from codeja.cli import main

    cfg = load_config(RECIPE, CPTConfig, stage="train.cpt")
    launch = build_command(cfg, tmp_path)
    torchrun, provider, script, flags = _parse(launch.argv)
    unknown = sorted(set(flags) - PRETRAIN_GPT_FLAGS)
    assert not unknown, f"flags pretrain_gpt.py does not define: {unknown}"
    assert script.endswith("/pretrain_gpt.py")
    assert provider == "codeja.fim.megatron:fim_dataset_provider"
    nodes, per_node = int(torchrun["--nnodes"]), int(torchrun["--nproc-per-node"])
    assert nodes * per_node == 32
    tp = int(flags["--tensor-model-parallel-size"][0])
    pp = int(flags["--pipeline-model-parallel-size"][0])
    cp = int(flags["--context-parallel-size"][0])
    assert 32 % (tp * pp * cp) == 0 and tp <= per_node  # TP stays inside a node
    dp = 32 // (tp * pp * cp)
    mbs, gbs = int(flags["--micro-batch-size"][0]), int(flags["--global-batch-size"][0])
    assert gbs % (mbs * dp) == 0
    assert int(flags["--num-layers"][0]) % pp == 0
    assert int(flags["--num-attention-heads"][0]) % tp == 0 and int(flags["--num-query-groups"][0]) % tp == 0
    # Llama-3.1-8B shape, and our config carried through
    assert flags["--hidden-size"] == ["4096"] and flags["--ffn-hidden-size"] == ["14336"]
    assert flags["--seq-length"] == ["8192"] and flags["--train-iters"] == ["4800"]
    assert flags["--data-path"] == [cfg.data] and flags["--lr"] == ["3e-05"]
    assert "--finetune" in flags and flags["--load"] == [cfg.megatron.load]
    assert launch.env["CODEJA_FIM_CONFIG"].endswith("fim.yaml")

    # the CLI prints the same command and the resolved config
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codeja.cli",
            "train",
            "cpt",
            str(RECIPE),
            "--engine",
            "megatron",
            "--dry-run",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "torchrun" in proc.stdout and "pretrain_gpt.py" in proc.stdout and "seq_len: 8192" in proc.stdout
    printed = proc.stdout.split("# resolved config")[0].split("\n", 1)[1]
    words = shlex.split(printed.replace("\\\n", " "))
    assert words[0] == "CODEJA_FIM_CONFIG=" + str(out / "fim.yaml")
    assert (
        (out / "command.sh").is_file() and (out / "fim.yaml").is_file() and (out / "manifest.json").is_file()
    )
    assert (
        main(["train", "cpt", str(RECIPE), "--engine", "megatron", "--dry-run", "-o", str(tmp_path / "r2")])
        == 0
    )


@pytest.mark.parametrize(
    "override, msg",
    [
        (["megatron.tensor_parallel=3"], "does not divide"),
        (["megatron.global_batch_size=100"], "not a multiple"),
        (
            [
                "megatron.pipeline_parallel=3",
                "megatron.tensor_parallel=1",
                "megatron.sequence_parallel=false",
                "megatron.nproc_per_node=6",
            ],
            "num_layers 32 not divisible",
        ),
    ],
)
def test_inconsistent_parallelism_is_rejected(override, msg):
    with pytest.raises(ConfigError, match=msg):
        load_config(RECIPE, CPTConfig, override, stage="train.cpt")


def test_entry_runs_pretrain_gpt_with_our_provider(tmp_path):
    """A stand-in pretrain_gpt.py with the real file's shape: its __main__ block must see our provider and argv."""
    script = tmp_path / "pretrain_gpt.py"
    script.write_text(
        "import sys, json\n"
        "def train_valid_test_datasets_provider(n):\n    return 'megatron-builtin'\n"
        "def pretrain(provider):\n"
        "    print(json.dumps({'provider': provider.__module__ + ':' + provider.__name__,\n"
        "                      'distributed': getattr(provider, 'is_distributed', False), 'argv': sys.argv[1:]}))\n"
        "if __name__ == '__main__':\n"
        "    train_valid_test_datasets_provider.is_distributed = True\n"
        "    pretrain(train_valid_test_datasets_provider)\n"
    )
    (tmp_path / "myprov.py").write_text("def provide(n):\n    return 'codeja'\n")
    proc = subprocess.run(
        [sys.executable, str(ENTRY), "--provider", "myprov:provide", str(script), "--lr", "1e-4"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    import json

    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"provider": "myprov:provide", "distributed": True, "argv": ["--lr", "1e-4"]}


def test_run_without_megatron_checkout_is_a_clear_error(tmp_path):
    from codeja.train.megatron import run_megatron

    cfg = load_config(RECIPE, CPTConfig, [f"megatron.megatron_lm_dir={tmp_path / 'none'}"], stage="train.cpt")
    with pytest.raises(ConfigError, match="pretrain_gpt.py not found"):
        run_megatron(cfg, tmp_path / "out")


def test_run_needs_the_rendezvous_variables(tmp_path, monkeypatch):
    from codeja.train.megatron import run_megatron

    lm = tmp_path / "Megatron-LM"
    lm.mkdir()
    (lm / "pretrain_gpt.py").write_text("")
    monkeypatch.delenv("NODE_RANK", raising=False)
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    cfg = load_config(RECIPE, CPTConfig, [f"megatron.megatron_lm_dir={lm}"], stage="train.cpt")
    with pytest.raises(ConfigError, match=r"not set on this node: \$\{MASTER_ADDR\}, \$\{NODE_RANK\}"):
        run_megatron(cfg, tmp_path / "out")
