"""run_magpie end to end with a scripted backend (fast, exact): files, accounting, determinism, resume, CLI.

The scripted backend is a test double of the generation interface that writes a predictable user turn for the
steering prompt it is given, so every filter path and the report can be checked exactly. The real model runs in
test_e2e_tiny.py.
"""

import json
import re

import pytest
from synth_chat_templates import make_tokenizer

from codeja.backends.base import Backend, Generation
from codeja.config import load_config
from codeja.synth.config import MagpieConfig
from codeja.synth.magpie import plan_rows, run_magpie

SNIPPETS = {
    "python": "def add(a, b):\n    return a + b\n",
    "go": "package main\n\nfunc add(a, b int) int {\n\treturn a + b\n}\n",
    "rust": "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
}


class ScriptedBackend(Backend):
    name = "scripted"

    def __init__(self):
        self.calls = []

    def complete(self, prompts, params):
        self.calls.append(("complete", len(prompts)))
        out = []
        for i, p in enumerate(prompts):
            fence = re.search(r"```([a-z]+)", p)
            lang = fence.group(1) if fence else "python"
            uid = f"{params.seed % 9973}-{i}"
            if "日本語" in p:
                text = f"次の{lang}のコードのバグを修正してください（{uid}）。\n```{lang}\n{SNIPPETS[lang]}```"
            elif "SmolLM" in p:  # unsteered: the model's default system prompt
                text = f"How do I write a Python function that adds numbers? ({uid})"
            else:
                text = f"Please fix the bug in this {lang} code ({uid}):\n```{lang}\n{SNIPPETS[lang]}```"
            finish = "length" if i == 1 else "stop"  # one truncated instruction per batch
            out.append([Generation(text, 10, 20, finish, "<|im_end|>")])
        return out

    def chat(self, conversations, params):
        self.calls.append(("chat", len(conversations)))
        out = []
        for convo in conversations:
            user = convo[-1]["content"]
            lang = re.search(r"```([a-z]+)", user).group(1)
            code = SNIPPETS[lang] if "rust" not in user else "fn add(a: i32 -> i32 {\n"  # rust answers do not parse
            out.append([Generation(f"Here is the fix:\n```{lang}\n{code}```", 30, 20, "stop")])
        return out

    def identity(self):
        return {"backend": "scripted", "model": "scripted"}


def cfg(**kw):
    base = {"rows": 12, "baseline_rows": 6, "batch_size": 4,
                "steering": {"languages": {"python": 1, "go": 1, "rust": 1}, "task_types": {"fix": 1},
                          "instruction_langs": {"ja": 1, "en": 1}}}
    base.update(kw)
    return MagpieConfig.model_validate(base)


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer("smollm2")


def test_outputs_accounting_and_reasons(tmp_path, tok):
    out = tmp_path / "m"
    summary = run_magpie(cfg(), out, backend=ScriptedBackend(), tokenizer=tok)
    data = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    removed = [json.loads(line) for line in (out / "removed.jsonl").read_text().splitlines()]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["generated"] == 12 == len(data) + len(removed)
    assert stats["kept"] == len(data) and sum(stats["removed_by_reason"].values()) == len(removed)
    # every batch's second instruction was truncated; rust answers never parse
    assert stats["removed_by_reason"]["instruction_truncated"] == 3
    assert all(r["meta"]["language"] == "rust" for r in removed if r["reason"] == "code_does_not_parse")
    assert {r["meta"]["language"] for r in data} <= {"python", "go"} and data
    for r in data:
        assert [m["role"] for m in r["messages"]] == ["user", "assistant"]
        meta = r["meta"]
        assert {"language", "task_type", "instruction_lang", "system_prompt_key", "generation", "seeds"} <= set(meta)
        assert meta["system_prompt_key"] == f"fix.{meta['language']}.{meta['instruction_lang']}"
        assert meta["measured"]["language"] == meta["language"]
        assert meta["generation"]["instruction"]["temperature"] == 0.7
        assert "\n" in r["messages"][0]["content"]  # multi-line instructions with code survive
    for r in removed:
        assert r["reason"] and r["detail"] and r["reason"] in r["reasons"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["summary"]["kept"] == len(data)
    assert summary["kept"] == len(data)
    # the report: measured tables, the steering effect and the embedded plot
    md = (out / "report.md").read_text()
    assert "## Steering effect" in md and "Python share" in md and "| go |" in md
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    dist = stats["distributions"]
    assert dist["language"]["unsteered"] == {"python": 6}
    assert dist["instruction_lang"]["requested"] == {"en": 0.5, "ja": 0.5}
    # the baseline is unsteered: Magpie's own coding prompt (the default), and it is not in the data
    base = [json.loads(line) for line in (out / "baseline.jsonl").read_text().splitlines()]
    assert len(base) == 6 and all(b["meta"]["system_prompt_key"] == "magpie-coding" for b in base)


def test_deterministic_and_skip_and_resume(tmp_path, tok):
    a, b = tmp_path / "a", tmp_path / "b"
    run_magpie(cfg(), a, backend=ScriptedBackend(), tokenizer=tok)
    run_magpie(cfg(), b, backend=ScriptedBackend(), tokenizer=tok)
    for name in ("data.jsonl", "removed.jsonl", "report.md"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "report.png").read_bytes() == (b / "report.png").read_bytes()
    # unchanged rerun: skipped, no generation
    again = ScriptedBackend()
    run_magpie(cfg(), a, backend=again, tokenizer=tok)
    assert again.calls == []
    # interrupted run: finished batches are not regenerated
    m = json.loads((b / "manifest.json").read_text())
    m["status"] = "running"
    (b / "manifest.json").write_text(json.dumps(m))
    prog = json.loads((b / "progress.json").read_text())
    del prog["done"]["res-000000"]
    (b / "progress.json").write_text(json.dumps(prog))
    resumed = ScriptedBackend()
    run_magpie(cfg(), b, backend=resumed, tokenizer=tok)
    assert resumed.calls == [("chat", 4)]
    assert (a / "data.jsonl").read_bytes() == (b / "data.jsonl").read_bytes()


def test_dedup_and_language_mismatch_counted(tmp_path, tok):
    class Repeating(ScriptedBackend):
        def complete(self, prompts, params):
            return [[Generation("Please fix the bug in this go code:\n```go\n" + SNIPPETS["go"] + "```",
                                5, 5, "stop")] for _ in prompts]

    c = cfg(rows=5, baseline_rows=0, steering={"languages": {"go": 1}, "task_types": {"fix": 1},
                                               "instruction_langs": {"en": 1}})
    stats = run_magpie(c, tmp_path / "d", backend=Repeating(), tokenizer=tok)
    assert stats["kept"] == 1 and stats["removed_by_reason"] == {"exact_duplicate": 4}
    c = cfg(rows=3, baseline_rows=0, steering={"languages": {"go": 1}, "task_types": {"fix": 1},
                                               "instruction_langs": {"ja": 1}})
    stats = run_magpie(c, tmp_path / "e", backend=Repeating(), tokenizer=tok)
    assert stats["removed_by_reason"] == {"instruction_language_mismatch": 3}
    assert "## Steering effect" not in (tmp_path / "e" / "report.md").read_text()


def test_multi_turn(tmp_path, tok):
    c = cfg(rows=4, baseline_rows=0, turns=2, steering={"languages": {"python": 1}, "task_types": {"fix": 1},
                                                        "instruction_langs": {"en": 1}})
    run_magpie(c, tmp_path / "mt", backend=ScriptedBackend(), tokenizer=tok)
    data = [json.loads(line) for line in (tmp_path / "mt" / "data.jsonl").read_text().splitlines()]
    assert data and all([m["role"] for m in r["messages"]] == ["user", "assistant"] * 2 for r in data)


def test_unsteered_plan_and_cli_flags(tmp_path):
    from codeja.synth.cli import flag_overrides

    overrides = flag_overrides(model="tiny", rows=16, languages="go,rust", task_types="fix,explain",
                               instruction_lang="ja")
    c = load_config(None, MagpieConfig, overrides, stage="synth.magpie")
    assert c.rows == 16 and c.steering.languages == {"go": 1, "rust": 1}
    assert c.steering.task_types == {"fix": 1, "explain": 1} and c.steering.instruction_langs == {"ja": 1}
    rows, base = plan_rows(c)
    assert {r["spec"]["language"] for r in rows} <= {"go", "rust"} and base == []
    off = load_config(None, MagpieConfig, flag_overrides(unsteered=True), stage="synth.magpie")
    rows, _ = plan_rows(off)
    assert all(r["system_prompt"] is None and r["spec"]["system_prompt_key"] == "default" for r in rows)


def test_cli_bad_config_is_one_line_error(tmp_path, capsys):
    from codeja.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: synth.magpie\nsteering:\n  task_types: {fixx: 1}\n")
    assert main(["synth", "magpie", str(bad), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown task type 'fixx'" in err and "Traceback" not in err
