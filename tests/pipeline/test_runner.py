"""The recipe runner: validation, references, skip/resume, --from/--until, variants, kill-and-rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from codeja.errors import CodejaError, ConfigError
from codeja.pipeline.runner import load_recipe, run_recipe

RECIPE = {
    "stage": "recipe",
    "name": "toy",
    "vars": {"greeting": "こんにちは"},
    "stages": [
        {"name": "a", "kind": "toy", "config": {"text": "${vars.greeting}", "parts": 3}},
        {"name": "b", "kind": "toy", "config": {"text": "b", "upstream": "${a.file}", "parts": 2}},
        {"name": "c", "kind": "toy", "config": {"text": "c", "upstream": "${b}/all.txt"}},
    ],
}


def write(tmp_path: Path, recipe: dict, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return p


def test_run_resolves_references_and_skips_when_unchanged(tmp_path, toy_kind):
    rec = load_recipe(write(tmp_path, RECIPE))
    logs: list[str] = []
    res = run_recipe(rec, tmp_path / "run", log=logs.append)
    assert [p.action for p in res["plans"]["main"]] == ["run", "run", "run"]
    a_file = (tmp_path / "run" / "a" / "all.txt").read_text()
    assert len(a_file) == 3 * 64
    # b folded a's output in through ${a.file}
    b_cfg = json.loads((tmp_path / "run" / "b" / "manifest.json").read_text())["config"]
    assert b_cfg["upstream"] == str(tmp_path / "run" / "a" / "all.txt")
    assert Path(res["report"]).is_file()
    # second run: everything up to date
    res2 = run_recipe(rec, tmp_path / "run", log=logs.append)
    assert [p.action for p in res2["plans"]["main"]] == ["skip", "skip", "skip"]


def test_change_upstream_reruns_downstream_only(tmp_path, toy_kind):
    run_recipe(load_recipe(write(tmp_path, RECIPE)), tmp_path / "run", log=lambda m: None)
    plan = run_recipe(load_recipe(write(tmp_path, RECIPE), ["stages.1.config.parts=3"]), tmp_path / "run",
                      dry_run=True, log=lambda m: None)["plans"]["main"]
    assert [p.action for p in plan] == ["skip", "run", "run"]


def test_from_until(tmp_path, toy_kind):
    rec = load_recipe(write(tmp_path, RECIPE))
    plans = run_recipe(rec, tmp_path / "run", until_stage="a", log=lambda m: None)["plans"]["main"]
    assert [p.action for p in plans] == ["run", "outside --from/--until", "outside --from/--until"]
    assert not (tmp_path / "run" / "b").exists()
    plans = run_recipe(rec, tmp_path / "run", from_stage="b", log=lambda m: None)["plans"]["main"]
    assert [p.action for p in plans] == ["outside --from/--until", "run", "run"]
    with pytest.raises(ConfigError, match="--from zz: no such stage"):
        run_recipe(rec, tmp_path / "run", from_stage="zz", log=lambda m: None)


def test_from_needs_upstream_results(tmp_path, toy_kind):
    rec = load_recipe(write(tmp_path, RECIPE))
    with pytest.raises(CodejaError, match="stage 'a' has no result yet"):
        run_recipe(rec, tmp_path / "run", from_stage="b", log=lambda m: None)


@pytest.mark.parametrize("mutate,match", [
    (lambda r: r["stages"][1]["config"].update(upstream="${zz.file}"), r"\$\{zz.file\} refers to no earlier stage"),
    (lambda r: r["stages"][0]["config"].update(txt="x"),
     r"stages.a.config: txt: unknown key \(did you mean 'text'\?\)"),
    (lambda r: r["stages"][0].update(kind="toys"), r"kind: unknown stage kind"),
    (lambda r: r["stages"][2].update(name="a"), r"duplicate stage name 'a'"),
    (lambda r: r["stages"][0]["config"].update(text="${vars.nope}"), r"no such key in vars"),
    (lambda r: r.update(stagez=[]), r"stagez: unknown key \(did you mean 'stages'\?\)"),
])
def test_bad_recipes_name_file_and_key(tmp_path, toy_kind, mutate, match):
    bad = json.loads(json.dumps(RECIPE))
    mutate(bad)
    path = write(tmp_path, bad)
    with pytest.raises(ConfigError, match=match) as e:
        load_recipe(path)
    assert str(path) in str(e.value)


def test_variants_run_side_by_side(tmp_path, toy_kind):
    r = json.loads(json.dumps(RECIPE))
    r["variants"] = {"short": ["a.parts=1"], "long": ["a.parts=5", "c.enabled=false"]}
    rec = load_recipe(write(tmp_path, r))
    res = run_recipe(rec, tmp_path / "run", log=lambda m: None)
    assert set(res["plans"]) == {"short", "long"}
    assert len((tmp_path / "run" / "short" / "a" / "all.txt").read_text()) == 64
    assert len((tmp_path / "run" / "long" / "a" / "all.txt").read_text()) == 5 * 64
    assert not (tmp_path / "run" / "long" / "c").exists()
    html = Path(res["report"]).read_text()
    assert "[short] Stages" in html and "[long] Stages" in html
    bad = json.loads(json.dumps(r))
    bad["variants"]["x"] = ["zz.parts=1"]
    with pytest.raises(ConfigError, match="variants.x: 'zz.parts=1'"):
        load_recipe(write(tmp_path, bad, "bad.yaml"))


def test_identical_stages_of_variants_are_computed_once(tmp_path, toy_kind):
    r = json.loads(json.dumps(RECIPE))
    r["variants"] = {"v1": ["b.parts=1"], "v2": ["b.parts=3"]}
    res = run_recipe(load_recipe(write(tmp_path, r)), tmp_path / "run", log=lambda m: None)
    assert [p.action for p in res["plans"]["v1"]] == ["run", "run", "run"]
    assert [p.action for p in res["plans"]["v2"]] == ["reused", "run", "run"]
    assert (tmp_path / "run" / "v2" / "a").is_symlink()
    assert ((tmp_path / "run" / "v2" / "a" / "all.txt").read_text()
            == (tmp_path / "run" / "v1" / "a" / "all.txt").read_text())
    # rerun: everything up to date, the link stays a link
    res = run_recipe(load_recipe(write(tmp_path, r)), tmp_path / "run", log=lambda m: None)
    assert {p.action for v in res["plans"].values() for p in v} == {"skip"}


def test_fingerprint_does_not_depend_on_the_run_directory(tmp_path, toy_kind):
    rec = load_recipe(write(tmp_path, RECIPE))
    run_recipe(rec, tmp_path / "one", log=lambda m: None)
    run_recipe(rec, tmp_path / "two", log=lambda m: None)
    one = json.loads((tmp_path / "one" / "pipeline.json").read_text())["stages"]
    two = json.loads((tmp_path / "two" / "pipeline.json").read_text())["stages"]
    assert {k: v["fingerprint"] for k, v in one.items()} == {k: v["fingerprint"] for k, v in two.items()}


def test_kill_mid_stage_and_rerun_gives_identical_outputs(tmp_path):
    """SIGKILL the runner in the middle of stage b, rerun: same files as an uninterrupted run."""
    r = json.loads(json.dumps(RECIPE))
    r["stages"][1]["config"].update(parts=6, sleep_s=0.4)
    recipe = write(tmp_path, r)
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})
        import toy_stage; toy_stage.register()
        from codeja.pipeline.runner import load_recipe, run_recipe
        run_recipe(load_recipe(sys.argv[1]), sys.argv[2], log=lambda m: print(m, flush=True))
    """)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def run(out: Path, kill_after_units: int | None = None) -> None:
        proc = subprocess.Popen([sys.executable, "-c", script, str(recipe), str(out)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if kill_after_units is None:
            assert proc.wait(timeout=120) == 0, proc.stdout.read()
            return
        deadline = time.time() + 60
        while time.time() < deadline:
            if len(list((out / "b").glob("part*.txt"))) >= kill_after_units:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    clean, killed = tmp_path / "clean", tmp_path / "killed"
    run(clean)
    run(killed, kill_after_units=2)
    state = json.loads((killed / "pipeline.json").read_text())
    assert state["stages"]["b"]["status"] == "running"
    assert not (killed / "c").exists()
    run(killed)
    state = json.loads((killed / "pipeline.json").read_text())
    assert all(s["status"] == "complete" for s in state["stages"].values())
    assert state["stages"]["b"]["result"]["resumed"] is True
    for f in ["a/all.txt", "b/all.txt", "c/all.txt"]:
        assert (clean / f).read_text() == (killed / f).read_text(), f


def test_preflight_checks_a_complete_stage_s_outputs_only_while_it_will_not_rerun(tmp_path, toy_kind):
    """A stage whose config changed reruns before its readers: its old outputs are pending, not checked."""
    from codeja.pipeline.preflight import preflight_recipe
    from codeja.pipeline.runner import Pipeline

    recipe = {**RECIPE, "stages": [RECIPE["stages"][0], {"name": "sft", "kind": "train.sft",
                                                          "config": {"model": "tiny", "data": "${a}/chats.jsonl"}}]}
    path = write(tmp_path, recipe)
    run_recipe(load_recipe(path), tmp_path / "run", until_stage="a", log=lambda m: None)
    (tmp_path / "run" / "a" / "chats.jsonl").write_text("", encoding="utf-8")  # what a's last run left

    def sft_findings(overrides=None):
        pipe = Pipeline(load_recipe(path, overrides), tmp_path / "run", log=lambda m: None)
        return [(f.level, f.message) for f in preflight_recipe(pipe) if f.stage == "sft" and "data" in f.message]

    assert [lv for lv, msg in sft_findings() if "empty file" in msg] == ["error"]
    assert [lv for lv, _ in sft_findings(["stages.a.config.parts=5"])] == ["pending"]
