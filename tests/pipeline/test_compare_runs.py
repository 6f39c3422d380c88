"""scripts/compare_runs.py: two run folders of one recipe are compared on their outputs, not their bookkeeping."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_runs.py"
spec = importlib.util.spec_from_file_location("compare_runs", SCRIPT)
compare_runs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_runs)


def fake_run(root: Path, *, loss: float = 1.5, wall: float = 10.0, extra: bool = False) -> Path:
    (root / "cpt" / "model").mkdir(parents=True)
    (root / "cpt" / "model" / "model.safetensors").write_bytes(b"\x00weights")
    (root / "cpt" / "metrics.jsonl").write_text(
        json.dumps({"step": 1, "loss": loss, "train_s": wall}) + "\n"
        + json.dumps({"step": 2, "loss": loss - 0.1, "tokens_per_s": 100 / wall}) + "\n")
    (root / "cpt" / "result.json").write_text(json.dumps(
        {"model_path": str(root.resolve() / "cpt" / "model"), "final_loss": loss, "wall_s": wall,
         "finished_at": f"2026-11-30T10:{wall:02.0f}:00"}))
    (root / "cpt" / "manifest.json").write_text(json.dumps({"host": str(wall)}))
    (root / "cpt" / "logs").mkdir()
    (root / "cpt" / "logs" / "stats.json").write_text(json.dumps({"time": wall}))
    (root / "pipeline.json").write_text(json.dumps({"wall": wall}))
    if extra:
        (root / "cpt" / "extra.txt").write_text("x")
    return root


def test_runs_that_differ_only_in_timings_paths_and_bookkeeping_are_identical(tmp_path):
    a, b = fake_run(tmp_path / "a"), fake_run(tmp_path / "b", wall=33.0)
    same, diffs = compare_runs.compare(a, b)
    assert diffs == [] and same == 3  # weights, metrics (losses), result (final loss, path normalised)


def test_a_different_loss_or_a_missing_file_is_reported(tmp_path):
    a, b = fake_run(tmp_path / "a"), fake_run(tmp_path / "b", loss=1.4, extra=True)
    _, diffs = compare_runs.compare(a, b)
    assert diffs == ["cpt/extra.txt: only in " + str(b), "cpt/metrics.jsonl: differs", "cpt/result.json: differs"]


def test_cli_exit_status_and_bad_folder(tmp_path):
    a, b = fake_run(tmp_path / "a"), fake_run(tmp_path / "b")
    ok = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("3 files identical, 0 different")
    (b / "cpt" / "model" / "model.safetensors").write_bytes(b"\x01weights")
    bad = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True)
    assert bad.returncode == 1 and "cpt/model/model.safetensors: differs" in bad.stdout
    missing = subprocess.run([sys.executable, str(SCRIPT), str(a), str(tmp_path / "nope")], capture_output=True,
                             text=True)
    assert missing.returncode == 2 and "nope: not a folder" in missing.stderr
