"""`codeja run --dry-run` checks what each stage needs; a real run stops before its first stage on errors."""

from __future__ import annotations

from pathlib import Path

from codeja.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_gpu_recipe_dry_run_checks_things(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)  # the recipe names recipes/accelerate/fsdp.yaml relative to the checkout
    code = main(["run", "recipes/gpu-node.yaml", "--dry-run", "--run-dir", str(tmp_path / "run")])
    out = capsys.readouterr()
    lines = out.out.splitlines()
    findings = [ln.split(None, 2) for ln in lines[lines.index("# preflight (what each stage needs)") + 1:]]
    levels = {f[1] for f in findings}
    assert "pending" in levels and ("error" in levels) == (code == 2)
    # on a machine without the data, the models or a GPU, each is named, with its stage
    text = out.out
    assert "curate" in text and "/data/codeja/the-stack-v2/python" in text
    assert "eval         ok       benchmark humaneval: data present" in text
    assert "from stage cpt" in text
    if code == 2:
        assert "preflight:" in out.err and "Traceback" not in out.err


def test_tiny_recipe_dry_run_is_clean(capsys, tmp_path):
    assert main(["run", str(REPO / "recipes" / "tiny.yaml"), "--dry-run", "--run-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "preflight: no problems found" in out and " error " not in out


def test_a_real_run_stops_before_the_first_stage(capsys, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "stage: recipe\nname: broken\nstages:\n"
        "  - {name: sft, kind: train.sft, config: {data: " + str(tmp_path / "missing.jsonl") + "}}\n"
        "  - {name: eval, kind: eval, config: {models: ['${sft.model_path}'], benchmarks: [humaneval],"
        " backend: openai}}\n", encoding="utf-8")
    assert main(["run", str(recipe), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "missing.jsonl: file not found" in err and "needs backend_options.base_url" in err
    assert not (tmp_path / "run" / "sft").exists()  # nothing ran


def test_an_unknown_backend_is_a_config_error_naming_the_key(capsys, tmp_path):
    # backend names come from codeja.backends.BACKENDS and are checked when the recipe is read
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stage: recipe\nname: broken\nstages:\n"
                      "  - {name: eval, kind: eval, config: {models: [tiny], backend: vlm}}\n",
                      encoding="utf-8")
    assert main(["run", str(recipe), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "stages.eval.config: backend: unknown backend 'vlm' (did you mean 'vllm'?)" in err
    assert not (tmp_path / "run").exists()


def test_data_with_the_wrong_fields_is_named(tmp_path, capsys):
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"prompt": "p", "answer": "a"}\n', encoding="utf-8")
    assert main(["train", "dpo", "--data", str(data), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{data}:1" in err and "chosen" in err and "Traceback" not in err
