"""Users' corpus layouts through curate -> tokenize (-> CPT for The Stack v2): field mappings, content joined by id,
per-language folders, Hugging Face datasets, and a wrong mapping caught before the run as one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus_layouts import fineweb2_rows, make_fineweb2, make_llm_jp, make_source_folder, make_stack_v2, make_swallow

from codeja.config import load_config
from codeja.curate.config import CurateConfig
from codeja.curate.pipeline import run_curate
from codeja.errors import ConfigError, InputError

FAST = ["executor.start_method=fork", "executor.tasks=1", "dedup.enabled=false", "decont.enabled=false",
        "progress=false"]
NO_LANGID = ["language_id.enabled=false"]  # building lingua's detector costs seconds; one test keeps it


def _curate(tmp_path: Path, sources: str, extra: list[str] | None = None, out: str = "out") -> tuple[dict, Path]:
    f = tmp_path / f"{out}.yaml"
    f.write_text(f"sources:\n{sources}", encoding="utf-8")
    cfg = load_config(f, CurateConfig, FAST + (extra or []), stage="curate")
    return run_curate(cfg, tmp_path / out), tmp_path / out


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.rglob("*.jsonl")) for line in f.read_text("utf-8").splitlines()
            if line]


@pytest.fixture(scope="module")
def tokenizer(tiny_random_model_dir):
    from codeja.fim.tokenize import load_fim_tokenizer

    return load_fim_tokenizer(str(tiny_random_model_dir))


def _tokenize(kept: Path, tokenizer, prefix: Path) -> dict:
    """`codeja tokenize` on a curate run's kept/ folder (the tokenizer loaded once per module)."""
    from codeja.fim.config import TokenizeConfig
    from codeja.fim.tokenize import tokenize_corpus

    cfg = TokenizeConfig(input=str(kept), model=tokenizer.name_or_path)
    return tokenize_corpus(cfg, prefix, tokenizer=tokenizer, progress=False)


# ---------------------------------------------------------------------------------------------------------------
# The Stack v2


def test_stack_v2_ids_only_is_one_clear_error_before_the_run(tmp_path):
    """The issue's report: ids-only Parquet used to quarantine every row, then crash in datatrove."""
    make_stack_v2(tmp_path / "s2")
    for mapping in ("", ", layout: stack-v2"):
        with pytest.raises(InputError) as e:
            _curate(tmp_path, f"  - {{name: stack, kind: parquet, path: {tmp_path / 's2/data'}{mapping}}}\n")
        msg = str(e.value)
        assert e.value.path.endswith("data/Go/train-00000-of-00001.parquet")
        assert "no text field 'content'" in msg and "fields: blob_id, directory_id, path" in msg
        assert "content: {path: FOLDER}" in msg
        assert not (tmp_path / "out" / "quarantine").exists()  # nothing ran


def test_stack_v2_cli_error_is_one_line(tmp_path, capsys):
    from codeja.cli import main

    make_stack_v2(tmp_path / "s2")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"stage: curate\nsources: [{{name: stack, kind: parquet, path: {tmp_path / 's2/data'}}}]\n")
    assert main(["curate", "run", str(cfg), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no text field 'content'" in err and "Traceback" not in err


@pytest.mark.slow
def test_stack_v2_blobs_per_language_folders_curate_tokenize_cpt(tmp_path, tiny_random_model_dir, tokenizer):
    from codeja.train.config import CPTConfig
    from codeja.train.cpt import train_cpt

    ids = make_stack_v2(tmp_path / "s2")
    src = (f"  - {{name: stack, kind: parquet, path: {tmp_path / 's2/data'}, layout: stack-v2, subsets: [Python],"
           f" content: {{path: {tmp_path / 's2/blobs'}, file_template: '{{blob_id}}.gz'}}}}\n")
    stats, out = _curate(tmp_path, src)
    assert stats["balanced"] and stats["in"] == len(ids["python"]) + 1  # the Go folder is not read
    q = [r["metadata"]["quarantine"] for r in _rows(out / "quarantine")]
    assert len(q) == 1 and q[0]["line"] == 7 and q[0]["file"] == "Python/train-00000-of-00001.parquet"
    assert q[0]["reason"] == f"missing content file: {ids['missing']}.gz (No such file or directory)"
    assert stats["quarantined"]["reasons"] == {"missing content file": 1}
    kept = {r["id"]: r for r in _rows(out / "kept")}
    assert set(kept) <= set(ids["python"]) and len(kept) >= 4
    first = kept.get(ids["python"][0])
    assert first is not None and "Fran\u00e7ois" in first["text"]  # Latin-1 blob decoded with src_encoding
    meta = first["metadata"]
    assert meta["language"] == "python" and meta["repo"] == "org0/repo0" and meta["path"] == "/src/mod0.py"
    assert meta["license"] == ["mit"] and meta["license_type"] == "permissive"

    tok = _tokenize(out / "kept", tokenizer, tmp_path / "tok" / "stack")
    assert tok["docs"] == len(kept) and tok["tokens"] > 500

    cfg = CPTConfig.model_validate({"model": str(tiny_random_model_dir), "data": str(tmp_path / "tok" / "stack"),
                                    "max_steps": 2, "per_device_batch_size": 2, "fim": {"seq_len": 64},
                                    "validation": {"docs": 0}, "optim": {"warmup_ratio": 0.0}})
    s = train_cpt(cfg, tmp_path / "cpt")
    assert s["steps"] == 2 and s["final_loss"] > 0


def test_stack_v2_all_languages_and_content_from_a_table(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from corpus_layouts import GO_FILE, python_files

    ids = make_stack_v2(tmp_path / "s2")
    texts = dict(zip(ids["python"], python_files(len(ids["python"]))))
    texts[ids["go"][0]] = GO_FILE
    # a content table: blob_id + content, in another order and with rows nobody asks for
    table = {"blob_id": list(reversed(texts)) + ["0" * 40], "content": list(reversed(texts.values())) + ["x = 1\n"]}
    pq.write_table(pa.table(table), tmp_path / "contents.parquet")
    src = (f"  - {{name: stack, kind: parquet, path: {tmp_path / 's2/data'}, layout: stack-v2,"
           f" content: {{kind: parquet, path: {tmp_path / 'contents.parquet'}}}}}\n")
    stats, out = _curate(tmp_path, src, ["executor.tasks=2", "executor.workers=2"])
    assert stats["balanced"] and stats["in"] == len(texts) + 1
    q = [r["metadata"]["quarantine"]["reason"] for r in _rows(out / "quarantine")]
    assert q == [f"no content row: blob_id={ids['missing']} not in {tmp_path / 'contents.parquet'}"]
    kept = {r["id"]: r["metadata"]["language"] for r in _rows(out / "kept")}
    assert kept.get(ids["go"][0]) == "go" and "python" in kept.values()


def test_content_files_that_cannot_be_read_are_quarantined_with_reasons(tmp_path):
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "blobs" / "py").mkdir(parents=True)
    (tmp_path / "blobs" / "py" / "a").write_bytes(b"x = '\xff'\n" * 5)  # not UTF-8
    (tmp_path / "blobs" / "py" / "b").write_bytes(gzip.compress(b"x = 1\n" * 5))
    (tmp_path / "blobs" / "py" / "c").write_bytes(b"x = 2\n" * 5)
    pq.write_table(pa.table({"blob_id": ["a", "b", "c"], "language": ["py", "py", None],
                             "src_encoding": ["UTF-8", "x-no-such-charset", "UTF-8"]}), tmp_path / "ids.parquet")
    src = (f"  - {{name: s, kind: parquet, path: {tmp_path / 'ids.parquet'}, layout: stack-v2,"
           f" content: {{path: {tmp_path / 'blobs'}, file_template: '{{language}}/{{blob_id}}'}}}}\n")
    stats, _ = _curate(tmp_path, src)
    assert stats["in"] == 3 and stats["kept"]["docs"] + stats["removed_total"] == 0
    assert stats["quarantined"]["reasons"] == {"undecodable content": 1, "unknown encoding": 1,
                                               "missing content file": 1}  # row 3: 'None/c'


def test_code_in_another_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from corpus_layouts import python_files

    pq.write_table(pa.table({"sha": ["a", "b"], "code": python_files(2, 40), "filepath": ["a.py", "b.py"]}),
                   tmp_path / "t.parquet")
    src = (f"  - {{name: c, kind: parquet, path: {tmp_path / 't.parquet'}, text_field: code, id_field: sha,"
           " path_field: filepath}\n")
    stats, out = _curate(tmp_path, src)
    assert stats["in"] == 2 and stats["quarantined"]["docs"] == 0
    assert {r["metadata"]["path"] for r in _rows(out / "kept") + _rows(out / "removed")} == {"a.py", "b.py"}


# ---------------------------------------------------------------------------------------------------------------
# Japanese web text


def test_llm_jp_corpus_jsonl_gz(tmp_path, tokenizer):
    root = make_llm_jp(tmp_path / "llm-jp-corpus")
    stats, out = _curate(tmp_path, f"  - {{name: llmjp, kind: jsonl, path: {root}, layout: llm-jp}}\n", NO_LANGID)
    kept = _rows(out / "kept")
    assert stats["in"] == 5 and len(kept) == 5, stats
    r = kept[0]
    assert r["id"] == "llmjp:ja/ja_cc/level0/CC-MAIN-2023-23.jsonl.gz:1"  # the corpus has no ids
    assert r["metadata"]["url"] == "https://example.jp/0" and r["metadata"]["source"] == "llmjp"  # codeja's wins
    assert r["metadata"]["domain"] == "text"
    assert _tokenize(out / "kept", tokenizer, tmp_path / "tok" / "llmjp")["docs"] == 5


def test_swallow_corpus_jsonl(tmp_path, tokenizer):
    path = make_swallow(tmp_path / "swallow")
    stats, out = _curate(tmp_path, f"  - {{name: swallow, kind: webtext, path: {path}, layout: swallow}}\n", NO_LANGID)
    kept = _rows(out / "kept")
    assert stats["in"] == 5 and len(kept) == 5
    meta = kept[0]["metadata"]
    assert meta["url"] == "https://swallow.example/0" and meta["title"] == "記事0" and "nanigo" not in meta
    assert _tokenize(out / "kept", tokenizer, tmp_path / "tok" / "swallow")["docs"] == 5


def test_fineweb2_jpn_parquet(tmp_path, tokenizer):
    root = make_fineweb2(tmp_path / "fineweb-2")
    src = f"  - {{name: fw2, kind: parquet, path: {root / 'data'}, subsets: [jpn_Jpan], layout: fineweb2}}\n"
    stats, out = _curate(tmp_path, src)
    kept = _rows(out / "kept")
    assert stats["in"] == 5 and len(kept) == 5
    r = kept[0]
    assert r["id"] == "<urn:uuid:0000-0>" and r["metadata"]["file"] == "jpn_Jpan/train/000_00000.parquet"
    assert r["metadata"]["url"] == "https://fw.example/0" and r["metadata"]["dump"] == "CC-MAIN-2024-10"
    assert r["metadata"]["language"] == "ja"  # codeja's language ID, not FineWeb-2's "jpn"
    assert _tokenize(out / "kept", tokenizer, tmp_path / "tok" / "fw2")["docs"] == 5


# ---------------------------------------------------------------------------------------------------------------
# local files, Hugging Face datasets


def test_local_source_folder(tmp_path, tokenizer):
    root = make_source_folder(tmp_path / "checkout")
    stats, out = _curate(tmp_path, f"  - {{name: repo, kind: files, path: {root}}}\n")
    assert stats["in"] == 5 and stats["balanced"]  # .git/ is not read
    q = _rows(out / "quarantine")
    assert [x["metadata"]["quarantine"]["file"] for x in q] == ["pkg/blob.py"]
    assert "invalid UTF-8" in q[0]["metadata"]["quarantine"]["reason"]
    kept = _rows(out / "kept")
    assert {r["metadata"]["language"] for r in kept} == {"python", "go"}
    assert _tokenize(out / "kept", tokenizer, tmp_path / "tok" / "repo")["docs"] == len(kept)


def test_hf_saved_dataset_split_between_tasks(tmp_path, tokenizer):
    import datasets

    rows = fineweb2_rows(6)
    rows[3]["text"] = None  # row 4 is bad: quarantined with its row number over the whole split
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "saved"))
    src = f"  - {{name: fw2, kind: hf, path: {tmp_path / 'saved'}, layout: fineweb2}}\n"
    stats, out = _curate(tmp_path, src, ["executor.tasks=2", "executor.workers=1", *NO_LANGID])
    assert stats["in"] == 6 and stats["balanced"]
    q = _rows(out / "quarantine")[0]["metadata"]["quarantine"]
    assert (q["file"], q["line"]) == (f"{tmp_path / 'saved'}:train", 4) and "expected a string" in q["reason"]
    kept = _rows(out / "kept")
    assert sorted(r["id"] for r in kept) == sorted(r["id"] for i, r in enumerate(rows) if i != 3)
    assert _tokenize(out / "kept", tokenizer, tmp_path / "tok" / "hf")["docs"] == 5
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(k.endswith("fw2.hub.json") for k in manifest["inputs"])


def test_hf_folder_of_data_files_and_limit(tmp_path):
    root = make_fineweb2(tmp_path / "fineweb-2")
    src = (f"  - {{name: fw2, kind: hf, path: {root}, layout: fineweb2, limit: 3,"
           " hub: {data_dir: data/jpn_Jpan}}\n")
    stats, out = _curate(tmp_path, src, NO_LANGID)
    assert stats["in"] == 3 and len(_rows(out / "kept")) == 3
    streamed, out2 = _curate(tmp_path, src.replace("data_dir:", "streaming: true, data_dir:"), NO_LANGID, out="s")
    assert streamed["in"] == 3 and _rows(out2 / "kept") == _rows(out / "kept")


def test_hub_id_is_pinned_to_a_commit(tmp_path, monkeypatch):
    """A hub id with a branch is resolved to its commit once (the Hub API, stubbed here), the commit is what
    datasets.load_dataset gets in every task and what the manifest records."""
    import datasets
    import huggingface_hub

    from codeja import hub_datasets

    sha = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    asked, calls = [], []

    class FakeApi:
        def dataset_info(self, repo_id, revision=None):
            asked.append((repo_id, revision))
            return type("Info", (), {"sha": sha})()

    def fake_load_dataset(path, name=None, **kw):
        calls.append((path, name, kw))
        return datasets.Dataset.from_list(fineweb2_rows(2))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    hub_datasets._hub_commit.cache_clear()
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ref = hub_datasets.parse_ref("someorg/jp-web@v1.0")
    assert (ref.kind, ref.path, ref.opts.revision) == ("hub", "someorg/jp-web", "v1.0")
    src = "  - {name: web, kind: hf, path: someorg/jp-web@v1.0, layout: fineweb2, hub: {config: jpn_Jpan}}\n"
    stats, out = _curate(tmp_path, src, NO_LANGID)
    assert stats["in"] == 2
    assert asked == [("someorg/jp-web", "v1.0")]  # once: the check, the manifest and the tasks share it
    assert calls and all(c[0] == "someorg/jp-web" and c[1] == "jpn_Jpan" and c[2]["revision"] == sha for c in calls)
    pinned = json.loads((out / "work" / "inputs" / "web.hub.json").read_text())
    assert pinned["commit"] == sha and pinned["pinned_by"] == "hub" and pinned["revision"] == "v1.0"
    # offline, datasets reads its latest cached copy: recorded as unpinned
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_datasets.pin_revision(hub_datasets.parse_ref("someorg/other")).describe()["pinned_by"] == "unpinned"


def test_hub_id_offline_not_cached_is_a_clear_error(tmp_path):
    src = "  - {name: web, kind: hf, path: nosuchorg/nosuchdata, domain: text}\n"
    with pytest.raises(InputError, match="not in the local cache and the Hub cannot be reached"):
        _curate(tmp_path, src)


# ---------------------------------------------------------------------------------------------------------------
# mapping errors


def test_mapping_errors_name_file_field_and_what_exists(tmp_path):
    root = make_fineweb2(tmp_path / "fw")
    data = root / "data"
    with pytest.raises(InputError, match=r"no field 'doc_id' \(id_field\); fields: text, id, dump") as e:
        _curate(tmp_path, f"  - {{name: a, kind: parquet, path: {data}, layout: fineweb2, id_field: doc_id}}\n")
    assert e.value.path.endswith("jpn_Jpan/train/000_00000.parquet")
    with pytest.raises(InputError, match=r"no field 'lang_id' \(keep_fields\[lang_id\]\)"):
        _curate(tmp_path, f"  - {{name: a, kind: parquet, path: {data}, layout: fineweb2, keep_fields: [lang_id]}}\n")
    with pytest.raises(InputError, match="no text field 'body'.*text_field: text"):
        _curate(tmp_path, f"  - {{name: a, kind: parquet, path: {data}, domain: text, text_field: body}}\n")
    with pytest.raises(InputError, match="no sub-folder 'kor_Hang'.*folders here: jpn_Jpan"):
        _curate(tmp_path, f"  - {{name: a, kind: parquet, path: {data}, subsets: [kor_Hang]}}\n")
    with pytest.raises(InputError, match=r"no files match '\*\*/\*.jsonl\*'"):
        _curate(tmp_path, f"  - {{name: a, kind: jsonl, path: {data}}}\n")
    with pytest.raises(ConfigError, match="kind: hf needs domain"):
        _curate(tmp_path, f"  - {{name: a, kind: hf, path: {root}}}\n")
    with pytest.raises(ConfigError, match="hub: applies to kind: hf"):
        _curate(tmp_path, f"  - {{name: a, kind: parquet, path: {data}, hub: {{split: test}}}}\n")
    with pytest.raises(ConfigError, match="layout"):
        _curate(tmp_path, f"  - {{name: a, kind: parquet, path: {data}, layout: the-pile}}\n")


def test_nothing_left_for_dedup_is_not_a_crash(tmp_path):
    """Every row quarantined (the field exists, the texts are empty): dedup has nothing to read and is skipped; the
    run ends with its accounting instead of datatrove's 'No files found' traceback."""
    path = tmp_path / "empty.jsonl"
    path.write_text("".join(json.dumps({"id": i, "content": " "}) + "\n" for i in range(3)), encoding="utf-8")
    stats, _ = _curate(tmp_path, f"  - {{name: e, kind: jsonl, path: {path}}}\n", ["dedup.enabled=true"])
    assert stats["in"] == 3 and stats["quarantined"]["docs"] == 3 and stats["kept"]["docs"] == 0
    assert stats["balanced"] and stats["quarantined"]["reasons"] == {"field 'content'": 3}
