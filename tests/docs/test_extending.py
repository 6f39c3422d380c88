"""docs/extending.md's examples run as written: each section's code blocks are read from the document."""

from __future__ import annotations

import json
import textwrap

import pytest
from doc_blocks import REPO, fenced_blocks

DOC = REPO / "docs" / "extending.md"


def section_blocks(heading: str) -> list[tuple[str, str]]:
    """(language, dedented text) of each fenced block under ``## <heading>``, up to the next ``## ``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {heading}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [(b.lang, textwrap.dedent(b.text)) for b in fenced_blocks(DOC) if start < b.line <= end]


def test_a_new_stage(tmp_path, monkeypatch):
    from codeja.config import dump_yaml
    from codeja.errors import ConfigError
    from codeja.pipeline.recipe import load_any
    from codeja.pipeline.runner import load_recipe, run_recipe
    from codeja.pipeline.stages import STAGES, Stage

    (lang1, module), (lang2, line), (lang3, recipe) = section_blocks("A new stage")
    assert (lang1, lang2, lang3) == ("python", "python", "yaml")
    ns: dict = {}
    exec(compile(module, str(DOC), "exec"), ns)
    stage = eval(line.strip().rstrip(","), {"Stage": Stage, **ns})  # the line added to STAGES
    monkeypatch.setitem(STAGES, stage.kind, stage)

    path = tmp_path / "lengths.yaml"
    path.write_text(recipe, encoding="utf-8")
    run_dir = tmp_path / "run"
    run_recipe(load_recipe(path), run_dir, log=lambda m: None)
    sample = REPO / "src" / "codeja" / "curate" / "resources" / "ja_web_sample.jsonl"
    texts = [json.loads(x)["text"] for x in sample.read_text(encoding="utf-8").splitlines() if x.strip()]
    stats = json.loads((run_dir / "lengths" / "stats.json").read_text())
    assert stats["docs"] == len(texts) > 0 and stats["chars"] == sum(map(len, texts))
    assert json.loads((run_dir / "lengths" / "result.json").read_text()) == stats
    state = json.loads((run_dir / "pipeline.json").read_text())["stages"]["lengths"]
    assert state["status"] == "complete" and state["kind"] == "lengths"
    assert "Document lengths (lengths)" in (run_dir / "report.md").read_text(encoding="utf-8")  # its title

    logs: list[str] = []
    run_recipe(load_recipe(path), run_dir, log=logs.append)  # unchanged: skipped, its result reused
    assert any("skip" in m for m in logs), logs

    # config validation knows the kind: a stage file, and a wrong key inside a recipe
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(f"stage: lengths\ninput: {sample}\n", encoding="utf-8")
    kind, cfg = load_any(cfg_file)
    assert kind == "lengths" and "field: text" in dump_yaml(cfg)
    path.write_text(recipe.replace("{input:", "{inptu:"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"stages\.lengths\.config.*inptu"):
        load_recipe(path)
