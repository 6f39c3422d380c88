"""`codeja train ...` from flags alone, from a config file, and its errors (exit 2, one paragraph)."""

from __future__ import annotations

import json

from codeja.cli import main


def test_cpt_quick_flags(tiny_random_model_dir, code_prefix, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "cpt"
    rc = main(
        [
            "train",
            "cpt",
            "--model",
            str(tiny_random_model_dir),
            "--data",
            code_prefix,
            "--output",
            str(out),
            "--max-steps",
            "2",
            "--seq-len",
            "64",
            "--set",
            "validation.docs=0",
            "--set",
            "per_device_batch_size=1",
            "--json",
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["tokens_per_step"] == 64
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["fim"]["seq_len"] == 64 and man["config"]["max_steps"] == 2
    AutoModelForCausalLM.from_pretrained(out / "model")


def test_sft_from_config_file_with_overrides(tiny_random_model_dir, messages_jsonl, tmp_path, capsys):
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(
        f"stage: train.sft\nmodel: {tiny_random_model_dir}\ndata: {messages_jsonl}\nmax_steps: 5\n"
        "per_device_batch_size: 4\nmax_length: 128\n"
    )
    rc = main(["train", "sft", str(cfg), "--max-steps", "1", "-o", str(tmp_path / "sft")])
    assert rc == 0
    assert "final_loss" in capsys.readouterr().out
    assert json.loads((tmp_path / "sft" / "manifest.json").read_text())["summary"]["steps"] == 1


def test_cli_errors_are_one_paragraph(tmp_path, capsys):
    cfg = tmp_path / "dpo.yaml"
    cfg.write_text("stage: train.dpo\nbeta: 0.1\nbetta: 0.2\n")
    assert main(["train", "dpo", str(cfg), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "betta: unknown key (did you mean 'beta'?)" in err and "Traceback" not in err
    assert main(["train", "dpo", "--data", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o")]) == 2
    assert "missing.jsonl: file not found" in capsys.readouterr().err
    assert main(["train", "sft", "--set", "cpt.seq_len=5", "-o", str(tmp_path / "o")]) == 2
    assert main(["train", "cpt", "--dry-run", "-o", str(tmp_path / "o")]) == 2  # no data: nothing to plan
    assert "data: give an indexed-dataset prefix" in capsys.readouterr().err
