"""Run directories: manifest fields, skip when unchanged, resume after an interruption, restart on change."""

from __future__ import annotations

import json

import pytest

import codeja
from codeja.runs import hash_path, read_json, sha256_file, stage_run, write_json, write_manifest


class Interrupted(Exception):
    pass


def _process(out, cfg, inputs, units, *, fail_after=None, seen=None):
    """A toy stage: one output file per unit; optionally dies after `fail_after` units."""
    with stage_run(out, "toy", cfg, inputs=inputs, seeds={"seed": cfg["seed"]}) as run:
        if run.skipped:
            return run
        for k, unit in enumerate(units):
            if run.is_done(unit):
                continue
            if fail_after is not None and k >= fail_after:
                raise Interrupted(f"killed before {unit}")
            (out / f"{unit}.txt").write_text(unit)
            if seen is not None:
                seen.append(unit)
            run.mark_done(unit, rows=k)
        run.record(counts={"in": len(units), "kept": len(units)})
        return run


@pytest.fixture()
def inp(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"id": 1}\n')
    return p


def test_manifest_fields(tmp_path, inp):
    out = tmp_path / "out"
    _process(out, {"seed": 3, "x": 1}, [inp], ["a", "b"])
    m = read_json(out / "manifest.json")
    for key in ("stage", "codeja_version", "git_commit", "python", "packages", "host", "config", "config_hash",
                "seeds", "inputs", "started_at", "finished_at", "wall_s", "status", "counts"):
        assert key in m, key
    assert m["stage"] == "toy" and m["status"] == "complete" and m["codeja_version"] == codeja.__version__
    assert m["config"] == {"seed": 3, "x": 1} and m["seeds"] == {"seed": 3}
    assert m["inputs"] == {str(inp): sha256_file(inp)}
    assert "torch" in m["packages"] and m["host"]["cpus"] >= 1
    assert m["counts"] == {"in": 2, "kept": 2}


def test_skip_when_unchanged(tmp_path, inp):
    out = tmp_path / "out"
    _process(out, {"seed": 0}, [inp], ["a", "b"])
    seen = []
    run = _process(out, {"seed": 0}, [inp], ["a", "b"], seen=seen)
    assert run.skipped and seen == []


def test_resume_after_interruption(tmp_path, inp):
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        _process(out, {"seed": 0}, [inp], ["a", "b", "c"], fail_after=2)
    m = read_json(out / "manifest.json")
    assert m["status"] == "failed" and "killed before c" in m["error"]
    seen = []
    run = _process(out, {"seed": 0}, [inp], ["a", "b", "c"], seen=seen)
    assert not run.skipped and seen == ["c"]  # a and b were not redone
    m = read_json(out / "manifest.json")
    assert m["status"] == "complete" and m["resumed"]["units_done"] == 2
    assert run.unit_info("a") == {"rows": 0}


@pytest.mark.parametrize("change", ["config", "input"])
def test_restart_on_change(tmp_path, inp, change):
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        _process(out, {"seed": 0}, [inp], ["a", "b"], fail_after=1)
    if change == "input":
        inp.write_text('{"id": 2}\n')
    cfg = {"seed": 1} if change == "config" else {"seed": 0}
    seen = []
    run = _process(out, cfg, [inp], ["a", "b"], seen=seen)
    assert seen == ["a", "b"] and "resumed" not in run.manifest  # progress discarded: started afresh
    assert read_json(out / "manifest.json")["status"] == "complete"


def test_force_reruns_a_complete_stage(tmp_path, inp):
    out = tmp_path / "out"
    _process(out, {"seed": 0}, [inp], ["a"])
    with stage_run(out, "toy", {"seed": 0}, inputs=[inp], force=True) as run:
        assert not run.skipped and not run.is_done("a")


def test_hash_path_folder_and_missing(tmp_path):
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "f.txt").write_text("1")
    (d / ".hidden").write_text("ignored")
    h1 = hash_path(d)
    (d / ".hidden").write_text("changed")
    assert hash_path(d) == h1  # hidden files (temp files, locks) do not count
    (d / "sub" / "f.txt").write_text("2")
    assert hash_path(d) != h1
    assert hash_path(tmp_path / "nope") == "missing"


def test_write_json_atomic_and_write_manifest(tmp_path):
    write_json(tmp_path / "a" / "x.json", {"k": "日本語"})
    assert json.loads((tmp_path / "a" / "x.json").read_text(encoding="utf-8")) == {"k": "日本語"}
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]  # no temp file left behind
    m = write_manifest(tmp_path / "ev", "eval", {"limit": 5}, results="results.json")
    assert read_json(tmp_path / "ev" / "manifest.json") == json.loads(json.dumps(m, default=str))
    assert m["status"] == "complete" and m["results"] == "results.json"
