"""The issue's "must show": a 16-row steered run with the real tiny model on CPU, end to end, with the diversity
report and the unsteered-vs-steered comparison (same model). Token budgets are kept small for CI time."""

import json

import pytest

from codeja.synth.config import MagpieConfig
from codeja.synth.magpie import run_magpie


@pytest.mark.slow
def test_tiny_model_16_rows_with_report(tiny_model_dir, tmp_path):
    cfg = MagpieConfig.model_validate({
        "model": str(tiny_model_dir), "rows": 16, "baseline_rows": 16, "batch_size": 16, "seed": 3,
        "backend_options": {"batch_size": 16},
        "instruction": {"temperature": 0.7, "max_new_tokens": 64},
        "response": {"temperature": 0.0, "max_new_tokens": 96, "repetition_penalty": 1.1},
    })
    out = tmp_path / "magpie"
    summary = run_magpie(cfg, out)

    assert summary["generated"] == 16 and summary["baseline_generated"] == 16
    assert summary["kept"] + sum(summary["removed_by_reason"].values()) == 16
    data = [json.loads(x) for x in (out / "data.jsonl").read_text().splitlines()]
    removed = [json.loads(x) for x in (out / "removed.jsonl").read_text().splitlines()]
    assert len(data) + len(removed) == 16
    for r in data + removed:
        assert r["messages"][0]["role"] == "user" and r["messages"][0]["content"] is not None
        assert r["meta"]["system_prompt_key"] != "default"
        assert r["meta"]["model"]["backend"] == "transformers"
    for r in removed:
        assert r["reason"] in r["reasons"]
    # the model really wrote text from the pre-query: instructions are not empty and differ from each other
    texts = [r["messages"][0]["content"] for r in data + removed]
    assert sum(bool(t.strip()) for t in texts) >= 12 and len(set(texts)) >= 12

    md = (out / "report.md").read_text()
    assert "## Steering effect" in md and "## Programming language" in md and "## Task type" in md
    assert "data:image/png;base64," in (out / "report.html").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["rows"] == 16
    print("\n" + md)  # the figures, visible with -s
