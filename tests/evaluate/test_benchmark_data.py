"""The benchmark data shipped in the package, and the three ways a loader gets rows: packaged, file, hub.

Offline: the hub path is tested for its parsing, pin resolution and error messages, and (with
``datasets.load_dataset`` replaced by an in-memory dataset) for what it does with the rows it gets.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from codeja.errors import InputError
from codeja.evaluate.benchmarks import benchmark_names, get_benchmark
from codeja.evaluate.benchmarks.loading import HubDefault, parse_hub, rows_sha256
from codeja.paths import BENCHMARK_DATA, benchmark_file
from codeja.runs import sha256_file

ROOT = Path(__file__).resolve().parents[2]
HUB_ONLY = {"canitedit", "canitedit-descriptive", "canitedit-lazy"}


def test_packaged_files_match_their_provenance_hashes(benchmark_data):
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "vendor_benchmarks.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    prov = json.loads((benchmark_data / "PROVENANCE.json").read_text(encoding="utf-8"))
    upstream = [f for f in prov["files"] if not prov["sources"][f["source"]].get("derived_by")]
    assert len(upstream) == 39 and f"{len(prov['files'])}/{len(prov['files'])} files verified" in out.stdout
    for f in prov["files"]:  # every file names its upstream (or deriving script) and its source's licence ships
        src = prov["sources"][f["source"]]
        assert f["upstream"].startswith(f"{src['repo']}@{src['commit']}:" if f in upstream else "derived by scripts/")
        assert (benchmark_data / src["license_file"]).is_file()


def test_the_package_data_globs_carry_every_data_file_into_a_wheel():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = setuptools["package-data"]["codeja"]
    package = BENCHMARK_DATA.parent.parent  # src/codeja: globs are relative to it
    files = [p.relative_to(package).as_posix() for p in BENCHMARK_DATA.rglob("*") if p.is_file()]
    missed = [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert files and not missed


def test_no_runtime_code_reads_a_folder_beside_the_checkout():
    needles = ("../shared", "shared_data(", "CODEJA_SHARED")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py")
                 if any(n in p.read_text(encoding="utf-8") for n in needles)]
    assert offenders == []


@pytest.mark.parametrize("name", sorted(set(benchmark_names()) - HUB_ONLY))
def test_every_registered_benchmark_loads_from_the_package(name):
    bench = get_benchmark(name)
    assert bench.tasks and bench.source.sha256 and len(bench.source.sha256) == 64
    # the data hash is recorded in the manifest's benchmark identity
    assert bench.describe()["source"]["sha256"] == bench.source.sha256


def test_hub_only_benchmark_says_how_to_get_its_data():
    with pytest.raises(InputError, match=r"hub only.*'hub:'.*--data"):
        get_benchmark("canitedit")


def test_decontamination_index_reads_the_packaged_copies():
    from codeja.curate.decont import benchmark_texts

    counts = {}
    for bench, _, _ in benchmark_texts(["jhumaneval", "multipl-e", "humanevalpack"]):
        counts[bench] = counts.get(bench, 0) + 1
    assert counts["jhumaneval"] == 164 and counts["humanevalpack"] == 6 * 164
    assert counts["multipl-e"] == sum(len(p.read_text(encoding="utf-8").splitlines()) for p in
                                      (BENCHMARK_DATA / "multipl-e_via_deepseek-coder").glob("*.jsonl"))


# -- local files, the way users pass them --------------------------------------------------------------------

def _rows(rel: str) -> list[dict]:
    p = benchmark_file(rel)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


@pytest.mark.parametrize("name,rel", [
    ("jhumaneval", "jhumaneval/jhuman-eval.jsonl.gz"),
    ("humaneval-infilling-random-span-light",
     "humaneval-infilling/HumanEval-RandomSpanInfillingLight.jsonl.gz"),
    ("humanevalfix-rust", "humanevalpack/rust/data/humanevalpack.jsonl"),
    ("multiple-sh", "multipl-e_via_deepseek-coder/humaneval-sh.jsonl"),
])
def test_a_local_jsonl_or_parquet_copy_loads_the_same_tasks(tmp_path, name, rel):
    import datasets

    packaged = get_benchmark(name)
    plain = tmp_path / "data.jsonl"
    plain.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows(rel)), encoding="utf-8")
    parquet = tmp_path / "data.parquet"
    datasets.Dataset.from_list(_rows(rel)).to_parquet(str(parquet))  # what a user saving the hub copy writes
    for path in (plain, parquet):
        local = get_benchmark(name, str(path))
        assert [t.task_id for t in local.tasks] == [t.task_id for t in packaged.tasks]
        assert [t.prompt for t in local.tasks] == [t.prompt for t in packaged.tasks]
        assert local.source.path == str(path) and local.source.sha256 == sha256_file(path)


def test_niilc_loads_a_local_xml_and_a_question_answers_table(tmp_path):
    xml = tmp_path / "test.xml"
    xml.write_bytes(benchmark_file("niilc/NIILC-ECQA2015_test.xml").read_bytes())
    assert len(get_benchmark("niilc", str(xml)).tasks) == 198
    table = tmp_path / "niilc.jsonl"
    table.write_text('{"id": "q1", "question": "日本の首都は？", "answers": ["東京"]}\n'
                     '{"question": "二つ", "answers": "A,B"}\n{"question": "不明", "answers": "-"}\n',
                     encoding="utf-8")
    bench = get_benchmark("niilc", str(table))
    assert [(t.task_id, t.answers) for t in bench.tasks] == [("NIILC/q1", ("東京",)), ("NIILC/2", ("A", "B"))]
    assert bench.tasks[0].prompt.endswith("質問：日本の首都は？\n答え：") and bench.options["shots"] == 4


def test_bad_local_files_name_the_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0", "prompt": "x", "entry_point": "f", "test": "t"}\n{not json\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: invalid JSON"):
        get_benchmark("humaneval", str(bad))
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"task_id": "HumanEval/0", "prompt": "x", "test": "t"}\n')
    with pytest.raises(InputError, match=r"missing.jsonl:1, field 'entry_point': missing"):
        get_benchmark("humaneval", str(missing))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match=r"broken.parquet: not a readable Parquet file"):
        get_benchmark("humanevalfix-python", str(broken))
    with pytest.raises(InputError, match=r"nowhere.jsonl: file not found"):
        get_benchmark("jhumaneval", str(tmp_path / "nowhere.jsonl"))


# -- hub:ID@REVISION -----------------------------------------------------------------------------------------

PINNED = HubDefault("org/data", "abc123", config="python")
UNPINNED = HubDefault("org/data", None)


@pytest.mark.parametrize("spec,expected", [
    ("hub:", ("org/data", "abc123", "python")),
    ("hub:org/data", ("org/data", "abc123", "python")),
    ("hub:org/data@def456", ("org/data", "def456", "python")),
    ("hub:@v1.0", ("org/data", "v1.0", "python")),
    ("hub: other/ds @ 0123abcd ", ("other/ds", "0123abcd", None)),  # another dataset: no default config
])
def test_hub_specs_resolve_against_the_pinned_default(spec, expected):
    ref = parse_hub(spec, PINNED, benchmark="b")
    assert (ref.id, ref.revision, ref.config) == expected and ref.split == "test"


@pytest.mark.parametrize("spec,default,message", [
    ("hub:other/ds", PINNED, r"b: name the revision of other/ds: hub:other/ds@<commit sha>"),
    ("hub:", UNPINNED, r"codeja pins no revision of org/data .*hub:org/data@<commit sha>.*packaged copy"),
    ("hub:", HubDefault(None, None), r"no hub dataset is known .*hub:<owner/name>@<revision>"),
    ("hub:a/b@c@d", PINNED, r"more than one '@'"),
    ("hub:org/data@", PINNED, r"empty revision after '@'"),
    ("hub:org/data@a b", PINNED, r"no whitespace"),
    ("hub:not a/valid id", PINNED, r"'not a/valid id' is not a Hugging Face dataset id"),
    ("org/data@abc", PINNED, r"not a hub spec"),
])
def test_bad_hub_specs_get_one_line_errors(spec, default, message):
    with pytest.raises(InputError, match=message):
        parse_hub(spec, default, benchmark="b")


def test_every_loader_routes_hub_specs_with_its_own_pin(monkeypatch):
    """What each benchmark asks the hub for (datasets.load_dataset replaced: no download)."""
    import datasets

    calls = []

    def fake_load(hub_id, config=None, *, split, revision):
        calls.append((hub_id, config, split, revision))
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    cases = {
        "humaneval": ("openai/openai_humaneval", None, "test", "7dce6050a7d6d172f3cc5c32aa97f52fa1a2e544"),
        "humanevalfix-go": ("bigcode/humanevalpack", "go", "test",
                            "9a41762f73a8cb23bb5811b73d5aab164efcf378"),
        "canitedit": ("nuprl/CanItEdit", None, "test", "3c07f38b1f9385f3214fcea94d4664c79df0d36a"),
    }
    for name, call in cases.items():
        with pytest.raises(InputError, match=r"could not load hub:.*offline\. Leave --data out"):
            get_benchmark(name, "hub:")
        assert calls[-1] == call
    with pytest.raises(InputError):
        get_benchmark("humaneval-infilling-multi", "hub:loubnabnl/humaneval_infilling@0a1b2c")
    assert calls[-1] == ("loubnabnl/humaneval_infilling", "HumanEval-MultiLineInfilling", "test", "0a1b2c")
    for name in ("jhumaneval", "humaneval-infilling", "niilc"):  # nothing verified to pin: the user names it
        with pytest.raises(InputError, match="pins no revision|no hub dataset is known"):
            get_benchmark(name, "hub:")


def test_hub_rows_become_tasks_with_a_content_hash(monkeypatch):
    import datasets

    rows = _rows("humanevalpack/python/data/humanevalpack.jsonl")[:3]
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda hub_id, config=None, *, split, revision: datasets.Dataset.from_list(rows))
    bench = get_benchmark("humanevalsynthesize-python", "hub:bigcode/humanevalpack@9a41762")
    assert [t.task_id for t in bench.tasks] == ["Python/0", "Python/1", "Python/2"]
    src = bench.describe()["source"]
    assert src == {"hub_id": "bigcode/humanevalpack", "revision": "9a41762", "config": "python", "path": None,
                   "sha256": rows_sha256(rows)}
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda *a, **k: datasets.Dataset.from_list([{"task_id": "x"}]))
    with pytest.raises(InputError, match=r"humanevalpack@9a41762 \(config python\):1, field 'prompt'"):
        get_benchmark("humanevalsynthesize-python", "hub:bigcode/humanevalpack@9a41762")


def test_offline_hub_load_is_one_clear_error():
    """The real datasets library with HF_DATASETS_OFFLINE=1 (conftest): no download, one message."""
    with pytest.raises(InputError, match=r"could not load hub:openai/openai_humaneval@7dce6050.*packaged"):
        get_benchmark("humaneval", "hub:")
