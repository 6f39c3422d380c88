"""JHumanEval-Infilling: the derivation script, the shipped data and its provenance, the benchmark's prompts and
stops (from the model's own FIM convention), and its canonical middles through the sandbox."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeja.evaluate.benchmarks import benchmark_names, get_benchmark
from codeja.evaluate.config import GenerationConfig
from codeja.evaluate.generate import generate_samples
from codeja.fim.prompt import build_fim_prompt, fim_stop_tokens
from codeja.paths import BENCHMARK_DATA

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "derive_jhumaneval_infilling.py"
VARIANTS = {"single": "jhumaneval-infilling", "multi": "jhumaneval-infilling-multi",
            "random-span": "jhumaneval-infilling-random-span",
            "random-span-light": "jhumaneval-infilling-random-span-light"}
KEPT = {"single": 1028, "multi": 5800, "random-span": 1630, "random-span-light": 163}  # of 1033, 5815, 1640, 164


def _derive_module():
    spec = importlib.util.spec_from_file_location("derive_jhumaneval_infilling", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


derive = _derive_module()


def _gz_rows(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def _write_gz(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


# -- the derivation -------------------------------------------------------------------------------------------------

def test_deriving_the_first_tasks_of_every_variant_gives_the_shipped_rows():
    kept, report = derive.derive(BENCHMARK_DATA, run=False, limit=15)
    english = {v: {r["task_id"]: r for r in _gz_rows(BENCHMARK_DATA / "humaneval-infilling" / up)}
               for v, (up, _) in derive.VARIANTS.items()}
    japanese = {r["task_id"]: r for r in _gz_rows(BENCHMARK_DATA / "jhumaneval" / "jhuman-eval.jsonl.gz")}
    for variant, rows in kept.items():
        shipped = {r["task_id"]: r for r in _gz_rows(BENCHMARK_DATA / "jhumaneval-infilling"
                                                     / derive.VARIANTS[variant][1])}
        assert rows and report["variants"][variant]["upstream_tasks"] == 15
        for r in rows:
            assert {k: r[k] for k in derive.FIELDS} == shipped[r["task_id"]]
            en = english[variant][r["task_id"]]  # same id, middle, suffix, tests, entry point as the English task
            assert (r["canonical_solution"], r["suffix"], r["test"], r["entry_point"]) == \
                (en["canonical_solution"], en["suffix"], en["test"], en["entry_point"])
            ja_prompt = japanese[r["jhumaneval_task_id"]]["prompt"]
            assert r["prompt"].startswith(ja_prompt.rstrip("\n"))
            assert any("\u3040" <= c <= "\u9fff" for c in r["prompt"])
            assert not r["prompt"].startswith(en["prompt"])


def test_the_hole_starting_on_the_prompts_last_newline_maps_too():
    """random-span-light HumanEval/13: the prefix ends with the docstring's closing quotes, no newline."""
    row = get_benchmark("jhumaneval-infilling-random-span-light").task("RandomSpanInfillingLight/HumanEval/13/1")
    assert row.prompt.endswith('    """') and row.canonical.startswith("\n    while b:")


def _fake_source(tmp_path: Path) -> Path:
    """A source folder: JHumanEval with problems broken in every way the script checks, and single-line infilling
    tasks of those problems, one cut inside the prompt and one with a wrong middle."""
    src = tmp_path / "src"
    ja = _gz_rows(BENCHMARK_DATA / "jhumaneval" / "jhuman-eval.jsonl.gz")[:8]
    ja[0]["prompt"] = ja[0]["prompt"].replace("threshold: float", "threshold: int")  # code differs
    ja[2]["prompt"] = ja[2]["prompt"].replace('"""', "'''", 1)  # unterminated: not Python
    ja[3]["test"] += "\n"  # tests differ
    ja[4]["entry_point"] = "other"
    del ja[1]  # no Japanese problem
    _write_gz(src / "jhumaneval" / "jhuman-eval.jsonl.gz", ja)
    infill = _gz_rows(BENCHMARK_DATA / "humaneval-infilling" / "HumanEval-SingleLineInfilling.jsonl.gz")
    pick = {n: next(r for r in infill if r["task_id"].split("/")[2] == str(n)) for n in range(8)}
    cut = dict(pick[5])  # the hole reaches into the prompt
    cut["prompt"], cut["canonical_solution"] = cut["prompt"][:40], cut["prompt"][40:] + cut["canonical_solution"]
    wrong = dict(pick[6], canonical_solution=pick[6]["canonical_solution"].replace("return", "return not", 1)
                 if "return" in pick[6]["canonical_solution"] else "    raise ValueError\n")
    rows = [pick[0], pick[1], pick[2], pick[3], pick[4], cut, wrong, pick[7]]
    for v, (upstream, _) in derive.VARIANTS.items():
        _write_gz(src / "humaneval-infilling" / upstream, rows if v == "single" else rows[-1:])
    return src


def test_tasks_that_do_not_map_are_excluded_with_their_reason(tmp_path):
    kept, report = derive.derive(_fake_source(tmp_path), run=True)
    reasons = {tid.split("/")[2]: why.split(":")[0]
               for tid, why in report["variants"]["single"]["excluded_tasks"].items()}
    assert reasons == {"0": "japanese-prompt-code-differs", "1": "no-jhumaneval-problem",
                       "2": "japanese-prompt-not-python", "3": "tests-differ", "4": "entry-point-differs",
                       "5": "prompt-not-at-head-of-prefix", "6": "canonical-fails"}
    assert "the English task fails too" in report["variants"]["single"]["excluded_tasks"][
        next(t for t in report["variants"]["single"]["excluded_tasks"] if t.split("/")[2] == "6")]
    assert [r["task_id"].split("/")[2] for r in kept["single"]] == ["7"]
    v = report["variants"]["single"]
    assert (v["upstream_tasks"], v["kept"], v["excluded"]) == (8, 1, 7)
    assert report["inputs"]["jhumaneval"]["sha256"] == hashlib.sha256(
        (tmp_path / "src" / "jhumaneval" / "jhuman-eval.jsonl.gz").read_bytes()).hexdigest()


def test_write_is_deterministic_and_registers_the_files_in_provenance(tmp_path):
    dest = tmp_path / "data"
    dest.mkdir()
    shutil.copy(BENCHMARK_DATA / "PROVENANCE.json", dest / "PROVENANCE.json")
    kept, report = derive.derive(BENCHMARK_DATA, run=False, limit=5, variants=("single",))
    derive.write(kept, report, dest)
    first = (dest / "jhumaneval-infilling" / "JHumanEval-SingleLineInfilling.jsonl.gz").read_bytes()
    derive.write(kept, report, dest)
    assert (dest / "jhumaneval-infilling" / "JHumanEval-SingleLineInfilling.jsonl.gz").read_bytes() == first
    prov = json.loads((dest / "PROVENANCE.json").read_text(encoding="utf-8"))
    mine = [f for f in prov["files"] if f["source"] == "jhumaneval-infilling"]
    assert {f["path"] for f in mine} == {"jhumaneval-infilling/JHumanEval-SingleLineInfilling.jsonl.gz",
                                         "jhumaneval-infilling/DERIVATION.json", "jhumaneval-infilling/LICENSE.txt"}
    for f in mine:
        assert f["sha256"] == hashlib.sha256((dest / f["path"]).read_bytes()).hexdigest()
    assert len(prov["files"]) == len({f["path"] for f in prov["files"]})  # rewriting replaced, not appended


def test_check_mode_confirms_the_shipped_files():
    out = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "shipped rows equal a fresh derivation" in out.stdout


# -- the shipped data ----------------------------------------------------------------------------------------------

def test_shipped_counts_provenance_and_licence(benchmark_data):
    rep = json.loads((benchmark_data / "jhumaneval-infilling" / "DERIVATION.json").read_text(encoding="utf-8"))
    for variant, name in VARIANTS.items():
        v = rep["variants"][variant]
        assert v["kept"] == KEPT[variant] == len(get_benchmark(name).tasks) and v["sandbox_checked"]
        assert v["kept"] + v["excluded"] == v["upstream_tasks"]
        # the one problem that does not map: JHumanEval/64's prompt is not Python
        assert {t.split("/")[2] for t in v["excluded_tasks"]} == {"64"}
        assert set(v["excluded_by_reason"]) == {"japanese-prompt-not-python"}
    prov = json.loads((benchmark_data / "PROVENANCE.json").read_text(encoding="utf-8"))
    src = prov["sources"]["jhumaneval-infilling"]
    assert src["derived_by"] == "scripts/derive_jhumaneval_infilling.py" and src["license"].startswith("MIT")
    files = [f for f in prov["files"] if f["source"] == "jhumaneval-infilling"]
    assert len(files) == 6 and (benchmark_data / src["license_file"]).is_file()
    for f in files:
        assert hashlib.sha256((benchmark_data / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    licence = (benchmark_data / src["license_file"]).read_text(encoding="utf-8")
    assert "openai/human-eval-infilling" in licence and "KuramitsuLab/jhuman-eval" in licence


def test_registered_names_and_task_for_task_ids():
    assert set(VARIANTS.values()) <= set(benchmark_names())
    for name in VARIANTS.values():
        ja = get_benchmark(name)
        en = get_benchmark(name[1:])
        assert ja.name == name and ja.source.sha256 and ja.describe()["source"]["hub_id"] is None
        en_ids = {t.task_id for t in en.tasks}
        assert {t.task_id for t in ja.tasks} <= en_ids  # the English benchmark's ids, nothing new
        t = ja.tasks[0]
        assert (t.canonical, t.suffix, t.test) == (en.task(t.task_id).canonical, en.task(t.task_id).suffix,
                                                    en.task(t.task_id).test)
    with pytest.raises(Exception, match="unknown benchmark 'jhumaneval-infilling-bogus' .did you mean"):
        get_benchmark("jhumaneval-infilling-bogus")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(VARIANTS.values()))
def test_canonical_middles_pass_in_the_sandbox_for_every_kept_task(name):
    """Through `eval selfcheck`'s check (program assembly, sanitizer none, the sandbox): every kept task passes."""
    from codeja.evaluate.selfcheck import check_benchmark

    res = check_benchmark(name)
    assert res.check == "reference" and res.ok, res.exceptions
    assert res.passed == res.total == len(get_benchmark(name).tasks) and not res.exceptions


# -- prompts and stops from the model's FIM convention -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["psm", "spm"])
@pytest.mark.parametrize("convention", ["starcoder", "qwen2.5-coder", "codellama", "llama3-reserved"])
def test_prompts_and_stops_come_from_the_models_fim_tokens(tmp_path, convention, mode, recording_backend):
    from test_infill_stops import make_tokenizer  # tests/evaluate: a small tokenizer per registry convention

    tok = make_tokenizer(convention, tmp_path)
    bench = get_benchmark("jhumaneval-infilling", limit=3)
    backend = recording_backend
    rows = generate_samples(backend, bench, GenerationConfig(), mode="completion", fim_mode=mode, tokenizer=tok)
    stops = fim_stop_tokens(tok)
    assert backend.calls and all(stop == stops for _, stop in backend.calls)
    end = {"starcoder": "<|endoftext|>", "qwen2.5-coder": "<|endoftext|>", "codellama": " <EOT>",
           "llama3-reserved": "<|end_of_text|>"}[convention]
    assert end in stops
    sent = [p for ps, _ in backend.calls for p in ps]
    assert sent == [build_fim_prompt(tok, t.prompt, t.suffix, mode=mode) for t in bench.tasks]
    first = sent[0]
    pre, suf = bench.tasks[0].prompt, bench.tasks[0].suffix
    assert (first.index(pre) < first.index(suf)) == (mode == "psm")  # SPM puts the suffix first
    assert [r["completion"] for r in rows] == ["    pass\n"] * 3
