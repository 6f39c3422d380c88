"""sample -> filter -> score -> build: instruction formats, the pipeline's outputs, resume, CLI, and the tiny E2E
run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from codeja.backends.base import Backend, Generation
from codeja.cli import main
from codeja.config import load_config
from codeja.errors import ConfigError, InputError
from codeja.prefs.config import PrefsConfig
from codeja.prefs.pipeline import run_prefs
from codeja.prefs.records import read_instructions

HE = [
    {"id": "HE/add", "prompt": [{"role": "user", "content": "Write a Python function `add(a, b)` that returns the "
                                "sum of a and b. Answer with one code block."}],
     "tests": ["def check(candidate):\n    assert candidate(1, 2) == 3\n",
               "def check(candidate):\n    assert candidate(-1, 1) == 0\n"], "entry_point": "add",
     "language": "python"},
    {"id": "HE/big", "prompt": "Write a Python function `biggest(xs)` returning the largest element of a list.",
     "tests": ["assert biggest([1, 5, 2]) == 5", "assert biggest([-3]) == -3"], "entry_point": "biggest"},
    {"id": "HE/rev", "prompt": "Write a Python function `rev(s)` that reverses a string.",
     "tests": "assert rev('abc') == 'cba'", "entry_point": "rev"},
]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_instruction_formats(tmp_path):
    p = write_jsonl(tmp_path / "data.jsonl", [
        {"messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"},
                      {"role": "assistant", "content": "teacher answer"}], "meta": {"id": "m1", "language": "py"}},
        {"id": 7, "prompt": "plain", "tests": "assert True"},
        {"messages": [{"role": "user", "content": "no id"}], "meta": {}},
    ])
    a, b, c = read_instructions(p)
    assert a.id == "m1" and a.prompt == [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}]
    assert a.language == "python"
    assert b.id == 7 and b.prompt == [{"role": "user", "content": "plain"}] and b.tests == ["assert True"]
    assert c.id == "data:3"
    assert [i.id for i in read_instructions(p, limit=2)] == ["m1", 7]


@pytest.mark.parametrize("row,field", [
    ({"id": "x"}, "prompt"),
    ({"id": "x", "messages": [{"role": "assistant", "content": "only"}]}, "messages"),
    ({"id": "x", "prompt": "q", "tests": 3}, "tests"),
    ({"id": "x", "prompt": "q", "entry_point": ["f"]}, "entry_point"),
    ({"id": "x", "prompt": "q", "meta": "m"}, "meta"),
    ({"id": "x", "prompt": "q", "responses": [{"txt": "a"}]}, "responses[0]"),
])
def test_bad_instructions(tmp_path, row, field):
    p = write_jsonl(tmp_path / "i.jsonl", [{"id": "ok", "prompt": "q"}, row])
    with pytest.raises(InputError) as e:
        read_instructions(p)
    assert (e.value.line, e.value.field) == (2, field)
    write_jsonl(p, [{"id": "a", "prompt": "q"}, {"id": "a", "prompt": "r"}])
    with pytest.raises(InputError, match="duplicate id 'a'"):
        read_instructions(p)


def test_config_is_strict_and_defaults_validate(tmp_path):
    cfg = PrefsConfig()
    assert cfg.sample.n == 4 and cfg.build.strategy == "farthest"
    # failing responses stay in as rejected candidates; the build step gates who may be chosen
    assert "execution" not in cfg.filters.chain and cfg.build.chosen_min_pass_rate == 1.0
    assert (cfg.scorer.kind, cfg.scorer.execution.tie_break, cfg.build.allow_ties) == ("execution", "auto", False)
    bad = tmp_path / "c.yaml"
    bad.write_text(yaml.safe_dump({"stage": "prefs", "build": {"strategy": "farthest", "min_margn": 1}}))
    with pytest.raises(ConfigError, match=r"build.min_margn: unknown key \(did you mean 'min_margin'\?\)"):
        load_config(bad, PrefsConfig, stage="prefs")
    bad.write_text(yaml.safe_dump({"build": {"strategy": "best"}}))
    with pytest.raises(ConfigError, match="build.strategy"):
        load_config(bad, PrefsConfig)


class ScriptedBackend(Backend):
    """A stand-in policy for fast tests: sample j of a prompt is a fixed correct, half-correct, wrong or
    unparsable answer, chosen from the seed the backend interface hands over (so seeding is exercised)."""

    name = "scripted"
    calls = 0

    def complete(self, prompts, params):
        raise NotImplementedError

    def chat(self, conversations, params):
        type(self).calls += 1
        out = []
        for conv in conversations:
            text = conv[-1]["content"]
            fn = next(f for f in ("add", "biggest", "rev") if f"`{f}(" in text)
            bodies = {"add": ["return a + b", "return abs(a) + b", "return a - b"],
                      "biggest": ["return max(xs)", "return xs[0]", "return min(xs)"],
                      "rev": ["return s[::-1]", "return s", "return s[::-1]"]}[fn]
            args = {"add": "a, b", "biggest": "xs", "rev": "s"}[fn]
            gens = []
            for j in range(params.n):
                k = (params.seed + j) % 4
                code = f"def {fn}({args})\n    pass" if k == 3 else f"def {fn}({args}):\n    {bodies[k]}"
                gens.append(Generation(f"```python\n{code}\n```\n", 10, 12, "stop"))
            out.append(gens)
        return out

    def identity(self):
        return {"backend": self.name}


@pytest.fixture
def scripted(monkeypatch):
    import codeja.backends

    ScriptedBackend.calls = 0
    monkeypatch.setattr(codeja.backends, "get_backend", lambda model, backend="transformers", **kw: ScriptedBackend())
    return ScriptedBackend


def test_pipeline_with_execution_scoring(tmp_path, scripted):
    inst = write_jsonl(tmp_path / "inst.jsonl", HE)
    cfg = PrefsConfig(seed=0, sample={"instructions": str(inst), "n": 4, "batch_size": 2},
                      filters={"chain": ["empty", "parse", "duplicate"]},
                      scorer={"kind": "execution", "execution": {"timeout_s": 5, "workers": 2}},
                      build={"strategy": "farthest"})
    out = tmp_path / "out"
    stats = run_prefs(cfg, out, progress=False)
    assert stats["in"] == 3 == stats["pairs"] + stats["sft"] + stats["dropped"]
    assert scripted.calls == 2  # 3 instructions in calls of 2
    cands = read(out / "candidates" / "candidates.jsonl")
    assert [c["id"] for c in cands] == ["HE/add", "HE/big", "HE/rev"]
    for c in cands:
        assert c["scorer"]["kind"] == "execution" and len(c["responses"]) == 4
        for r in c["responses"]:
            assert set(r) >= {"text", "finish_reason", "passed_filters", "filter_reasons", "score"}
            assert (r["score"] is None) == (not r["passed_filters"])
    # the unparsable sample is filtered with its reason; scores are real pass rates
    reasons = [r["filter_reasons"] for c in cands for r in c["responses"] if not r["passed_filters"]]
    assert ["parse"] in reasons
    # score = pass rate + a tie-break term worth less than one test (0.5 / n_tests at most)
    alive = [(c, r) for c in cands for r in c["responses"] if r["passed_filters"]]
    assert {r["scores"]["execution"] for _, r in alive} <= {0.0, 0.5, 1.0}
    for c, r in alive:
        n_tests = len(c["tests"]) if isinstance(c["tests"], list) else 1
        assert 0.0 < r["scores"]["tie_break"] <= 1.0
        assert r["score"] == pytest.approx(r["scores"]["execution"] + 0.5 * r["scores"]["tie_break"] / n_tests)
    assert cands[0]["scorer"]["tie_break"]["kind"] == "quality"
    pairs = read(out / "pairs.jsonl")
    assert pairs and stats["zero_margin_pairs"] == 0
    for p in pairs:
        assert p["meta"]["chosen_score"] > p["meta"]["rejected_score"]
        assert p["meta"]["chosen_pass_rate"] == 1.0  # only a response passing every test is chosen
        assert p["meta"]["scorer"]["kind"] == "execution" and p["meta"]["strategy"] == "farthest"
    add = next(p for p in pairs if p["meta"]["id"] == "HE/add")
    assert "a + b" in add["chosen"][0]["content"] and add["meta"]["decided_by"] == "pass_rate"
    assert add["meta"]["rejected_pass_rate"] < 1.0
    for sub in ("sample", "candidates", "."):
        m = json.loads((out / sub / "manifest.json").read_text())
        assert m["status"] == "complete"
    assert json.loads((out / "manifest.json").read_text())["config"]["scorer"]["kind"] == "execution"
    assert (out / "report.html").exists() and (out / "margins.png").exists()
    # unchanged rerun: every step is skipped, the backend is not called again, same stats
    assert run_prefs(cfg, out, progress=False) == stats and scripted.calls == 2


def test_magpie_rows_without_tests_work_with_the_default_scorer(tmp_path, monkeypatch):
    """No tests: the default execution scorer ranks by its tie-break alone instead of raising."""
    import codeja.backends

    monkeypatch.setattr(codeja.backends, "get_backend", lambda *a, **k: pytest.fail("no model should load"))
    clean = "```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n```"
    unused = "```python\nimport os\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n```"
    long = ("```python\ndef mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n"
            "    return total / len(xs)\n```")
    rows = [{"messages": [{"role": "user", "content": "Pythonで平均を求める関数を書いてください。"},
                          {"role": "assistant", "content": "teacher"}],
             "meta": {"id": "magpie/0", "language": "python"},
             "responses": [{"text": f"平均です。\n{t}"} for t in (long, unused, clean)]}]
    cfg = PrefsConfig(sample={"instructions": str(write_jsonl(tmp_path / "m.jsonl", rows))})
    stats = run_prefs(cfg, tmp_path / "o", progress=False)
    assert stats["pairs"] == 1 and stats["zero_margin_pairs"] == 0
    pair = read(tmp_path / "o" / "pairs.jsonl")[0]
    # clean and short > clean and long > an unused import
    assert "sum(xs)" in pair["chosen"][0]["content"] and "import os" in pair["rejected"][0]["content"]
    assert pair["meta"]["decided_by"] == "score" and pair["meta"]["chosen_score"] > pair["meta"]["rejected_score"]
    scores = read(tmp_path / "o" / "candidates" / "candidates.jsonl")[0]["responses"]
    assert [r["scores"]["execution"] for r in scores] == [None, None, None]


def test_supplied_responses_with_input_scores_need_no_model(tmp_path, monkeypatch):
    import codeja.backends

    monkeypatch.setattr(codeja.backends, "get_backend", lambda *a, **k: pytest.fail("no model should load"))
    rows = [{"id": "s1", "prompt": "Pythonでリストを反転する方法は？",
             "responses": [{"text": "`xs[::-1]` を使います。", "score": 0.9},
                           {"text": "`reversed(xs)` を使います。", "score": 0.4},
                           {"text": "I'm sorry, but I can't help with that.", "score": 5.0}]}]
    cfg = PrefsConfig(sample={"instructions": str(write_jsonl(tmp_path / "i.jsonl", rows))},
                      scorer={"kind": "input"}, build={"strategy": "closest"})
    stats = run_prefs(cfg, tmp_path / "o", progress=False)
    assert (stats["pairs"], stats["responses"]["filtered_by_reason"]) == (1, {"refusal": 1})
    pair = read(tmp_path / "o" / "pairs.jsonl")[0]
    assert pair["meta"]["margin"] == pytest.approx(0.5) and "xs[::-1]" in pair["chosen"][0]["content"]


def test_cli_build_and_run(tmp_path, scripted, capsys):
    cands = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "a", "prompt": "q", "responses": [{"text": "x", "score": 1, "passed_filters": True},
                                                 {"text": "y", "score": 0, "passed_filters": True}]}])
    assert main(["prefs", "build", "--candidates", str(cands), "--strategy", "random", "--output",
                 str(tmp_path / "b"), "--seed", "3", "--min-margin", "0.5"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["pairs"] == 1
    assert main(["prefs", "build", "--candidates", str(tmp_path / "missing.jsonl"), "--strategy", "closest",
                 "--output", str(tmp_path / "b2")]) == 2
    assert "missing.jsonl: file not found" in capsys.readouterr().err
    assert main(["prefs", "build", "--candidates", str(cands), "--strategy", "best", "--output",
                 str(tmp_path / "b3")]) == 2
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"stage": "prefs", "sample": {"instructions": str(
        write_jsonl(tmp_path / "inst.jsonl", HE[:1]))}, "filters": {"chain": ["parse"]},
        "scorer": {"kind": "execution", "execution": {"timeout_s": 5}}}))
    assert main(["prefs", "run", str(cfg), "-o", str(tmp_path / "r"), "--set", "build.strategy=closest"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["in"] == 1 and out["pairs_file"].endswith("pairs.jsonl")
    assert main(["prefs", "sample", str(cfg), "-o", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "samples.jsonl").exists()
    # the two halves from the command line: candidates, then build with the new rules
    assert main(["prefs", "candidates", str(cfg), "-o", str(tmp_path / "c")]) == 0
    cands_file = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["candidates_file"]
    assert main(["prefs", "build", "--candidates", cands_file, "--strategy", "closest", "--output",
                 str(tmp_path / "b4"), "--allow-ties", "--chosen-min-pass-rate", "0.5", "--placeholder-rejected"]) == 0
    built = json.loads((tmp_path / "b4" / "stats.json").read_text())
    assert (built["allow_ties"], built["chosen_min_pass_rate"], built["placeholder_rejected"]["enabled"]) == (
        True, 0.5, True)
    assert main(["prefs", "run", str(cfg), "--set", "build.stratgy=closest"]) == 2


@pytest.mark.slow
def test_tiny_end_to_end_on_cpu(tmp_path, tiny_model_dir, tiny_reward_model_dir):
    """The issue's E2E: the bundled tiny model samples, a tiny random reward model and the sandbox score."""
    inst = write_jsonl(tmp_path / "inst.jsonl", HE)
    cfg = PrefsConfig(
        seed=0,
        sample={"instructions": str(inst), "model": str(tiny_model_dir), "n": 4, "temperature": 0.8,
                "max_new_tokens": 48, "batch_size": 3},
        filters={"chain": ["empty", "refusal", "language", "placeholder", "repetition", "duplicate"]},
        scorer={"kind": "weighted", "weights": {"execution": 1.0, "reward_model": 0.1},
                "reward_model": {"model": str(tiny_reward_model_dir)}, "execution": {"timeout_s": 5}},
        build={"strategy": "farthest"},
    )
    out = tmp_path / "out"
    stats = run_prefs(cfg, out, progress=False)
    assert stats["in"] == 3 == stats["pairs"] + stats["sft"] + stats["dropped"]
    assert stats["responses"]["total"] == 12
    cands = read(out / "candidates" / "candidates.jsonl")
    assert cands[0]["scorer"]["kind"] == "weighted"
    for c in cands:
        for r in c["responses"]:
            if r["passed_filters"]:
                assert set(r["scores"]) == {"execution", "reward_model", "total"}
                assert 0.0 <= r["scores"]["execution"] <= 1.0
                assert r["score"] == pytest.approx(r["scores"]["execution"] + 0.1 * r["scores"]["reward_model"])
    for p in read(out / "pairs.jsonl"):
        assert p["meta"]["margin"] >= 0 and p["chosen"][0]["role"] == "assistant"
    assert "farthest (written)" in (out / "report.md").read_text()
    # an unchanged rerun resumes nothing and redoes nothing: every step is skipped
    assert run_prefs(cfg, out, progress=False) == stats


def test_rejected_pick_variants_sample_and_score_once(tmp_path, scripted):
    """The ablation's layout: variants that differ only in pair building share one prefs.candidates stage."""
    from codeja.pipeline.runner import load_recipe, run_recipe

    recipe = {
        "stage": "recipe", "name": "pick", "seed": 0,
        "stages": [
            {"name": "candidates", "kind": "prefs.candidates",
             "config": {"seed": "${seed}", "sample": {"instructions": str(write_jsonl(tmp_path / "i.jsonl", HE)),
                                                      "n": 4, "batch_size": 8},
                        "scorer": {"kind": "execution", "execution": {"timeout_s": 5, "workers": 2}}}},
            {"name": "pairs", "kind": "prefs.pairs",
             "config": {"candidates": "${candidates.candidates_file}", "seed": "${seed}"}},
        ],
        "variants": {s: [f"pairs.build.strategy={s}"] for s in ("closest", "farthest", "random")},
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    logs: list[str] = []
    res = run_recipe(load_recipe(tmp_path / "r.yaml"), tmp_path / "run", log=logs.append)
    run = tmp_path / "run"
    assert scripted.calls == 1  # one backend call (3 instructions, batch 8) for all three variants
    assert [p.action for p in res["plans"]["closest"]] == ["run", "run"]
    for v in ("farthest", "random"):
        assert [p.action for p in res["plans"][v]] == ["reused", "run"]
        link = run / v / "candidates"
        assert link.is_symlink() and link.resolve() == run / "closest" / "candidates"
        state = json.loads((run / v / "pipeline.json").read_text())
        assert state["stages"]["candidates"]["reused_from"] == str(run / "closest" / "candidates")
    assert not (run / "closest" / "candidates").is_symlink()
    assert sum("identical to" in m and "reused" in m for m in logs) == 2
    # three pair sets from the same scored candidates
    picked = {}
    for v in ("closest", "farthest", "random"):
        pairs = read(run / v / "pairs" / "pairs.jsonl")
        assert pairs and all(p["meta"]["chosen_score"] > p["meta"]["rejected_score"] for p in pairs)
        assert {p["meta"]["strategy"] for p in pairs} == {v}
        picked[v] = {p["meta"]["id"]: p["rejected"][0]["content"] for p in pairs}
        assert list(json.loads((run / v / "pairs" / "manifest.json").read_text())["inputs"]) == [
            str(run / "closest" / "candidates" / "candidates" / "candidates.jsonl")]
    assert picked["closest"]["HE/add"] != picked["farthest"]["HE/add"]  # 0.5 vs 0.0 pass rate
