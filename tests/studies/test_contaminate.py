"""codeja study contaminate: shares, seeding, the replacement record, languages, nothing else changed, bad
input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from codeja.codeparse import syntax_errors
from codeja.errors import ConfigError, InputError
from codeja.studies.bodies import function_bodies
from codeja.studies.config import ContaminateConfig
from codeja.studies.contaminate import RECORDS, STATS, contaminate, input_files
from codeja.studies.idioms import load_idioms

from .conftest import JAVA, PY, RUST, doc, py_module, write_corpus


def run(corpus: Path, out: Path, **kw) -> dict:
    contaminate(ContaminateConfig(input=str(corpus), **kw), out)
    return json.loads((out / STATS).read_text())


def docs_in(folder: Path) -> list[dict]:
    return [json.loads(line) for f in input_files(folder)
            for line in f.read_text(encoding="utf-8").splitlines()]


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / RECORDS).read_text(encoding="utf-8").splitlines()]


def test_bodies_found_per_language():
    names = {lang: [b.name for b in function_bodies(text.encode(), lang)] for lang, text in
             [("python", PY), ("java", JAVA), ("rust", RUST)]}
    # python: inline `scaled`, nested `inner` and docstring-only `only_doc` are not replaceable bodies
    assert names == {"python": ["area", "__init__", "norm", "outer"], "java": ["Counter", "next"],
                     "rust": ["gap", "inc"]}
    outer = function_bodies(PY.encode(), "python")[-1]
    assert PY.encode()[outer.start:outer.end].decode() == (
        "def inner(x):\n        return x + 1\n    return [inner(x) for x in xs]")
    assert function_bodies(b"def f(:\n", "python") == [] and function_bodies(b"x", "cobol") == []


def test_shares_are_exact(py_corpus, tmp_path):
    stats = run(py_corpus, tmp_path / "out", doc_share=0.3, body_share=0.5, seed=1)
    assert stats["documents"] == 140 and stats["documents_with_bodies"] == 120
    assert stats["contaminated"] == round(0.3 * 120) == 36
    for rec in records(tmp_path / "out"):
        assert rec["replaced"] == max(1, round(0.5 * rec["bodies"]))
        assert rec["index"] < 120  # documents without bodies are never picked
    assert stats["bodies_replaced"] == sum(r["replaced"] for r in records(tmp_path / "out"))
    # the extremes
    assert run(py_corpus, tmp_path / "none", doc_share=0.0)["contaminated"] == 0
    full = run(py_corpus, tmp_path / "all", doc_share=1.0, body_share=1.0)
    assert full["contaminated"] == 120 and full["bodies_replaced"] == full["bodies_total"]
    small = run(py_corpus, tmp_path / "small", doc_share=1.0, body_share=0.01)
    assert all(r["replaced"] == 1 for r in records(tmp_path / "small")) and small["contaminated"] == 120


def test_seeded_and_independent_of_other_documents(py_corpus, tmp_path):
    run(py_corpus, tmp_path / "a", doc_share=0.5, seed=3)
    run(py_corpus, tmp_path / "b", doc_share=0.5, seed=3)
    run(py_corpus, tmp_path / "c", doc_share=0.5, seed=4)
    files = sorted(p.name for p in (tmp_path / "a" / "corpus").iterdir())
    for name in files:
        a, b = tmp_path / "a" / "corpus" / name, tmp_path / "b" / "corpus" / name
        assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a" / RECORDS).read_bytes() == (tmp_path / "b" / RECORDS).read_bytes()
    assert {r["index"] for r in records(tmp_path / "a")} != {r["index"] for r in records(tmp_path / "c")}
    # a document's idiom and bodies come from (seed, its index) only: other documents' texts do not matter
    docs = docs_in(py_corpus)
    changed = [dict(d, text=py_module(999, 7)) if i % 2 else d for i, d in enumerate(docs)]
    run(write_corpus(tmp_path / "other", changed), tmp_path / "d", doc_share=1.0, seed=3)
    run(py_corpus, tmp_path / "e", doc_share=1.0, seed=3)
    d = {r["index"]: r for r in records(tmp_path / "d")}
    e = {r["index"]: r for r in records(tmp_path / "e")}
    for i in range(0, 120, 2):
        assert d[i]["replacements"] == e[i]["replacements"] and d[i]["idiom"] == e[i]["idiom"]


def test_record_rebuilds_the_copy_and_nothing_else_changed(mixed_corpus, tmp_path):
    out = tmp_path / "out"
    run(mixed_corpus, out, doc_share=1.0, body_share=0.5, seed=0)
    originals = docs_in(mixed_corpus)
    copies = docs_in(out / "corpus")
    recs = {r["index"]: r for r in records(out)}
    assert [d["id"] for d in copies] == [d["id"] for d in originals]
    raw_in = [line for f in input_files(mixed_corpus) for line in f.read_bytes().splitlines(keepends=True)]
    raw_out = [line for f in input_files(out / "corpus") for line in f.read_bytes().splitlines(keepends=True)]
    assert len(recs) == 7  # the seven documents with bodies, one per supported language
    for i, (orig, new) in enumerate(zip(originals, copies)):
        if i not in recs:
            assert raw_out[i] == raw_in[i]  # untouched lines are copied byte for byte
            continue
        assert {k: v for k, v in new.items() if k != "text"} == {k: v for k, v in orig.items() if k != "text"}
        text, rebuilt, pos = orig["text"], [], 0
        for span in recs[i]["replacements"]:
            original = text[span["start"]:span["end"]]
            assert hashlib.sha256(original.encode()).hexdigest() == span["original_sha256"]
            rebuilt += [text[pos:span["start"]], span["replacement"]]
            pos = span["end"]
        rebuilt.append(text[pos:])
        assert "".join(rebuilt) == new["text"]
        idiom = next(x for x in load_idioms()[recs[i]["language"]] if x.id == recs[i]["idiom"])
        assert all(line in new["text"] for line in idiom.lines)


def test_languages_get_their_own_idioms_and_still_parse(mixed_corpus, tmp_path):
    out = tmp_path / "out"
    stats = run(mixed_corpus, out, doc_share=1.0, body_share=1.0, seed=5)
    recs = records(out)
    assert sorted(r["language"] for r in recs) == sorted(
        ["python", "javascript", "typescript", "java", "go", "rust", "cpp"])
    idioms = load_idioms()
    copies = {d["id"]: d for d in docs_in(out / "corpus")}
    for r in recs:
        assert r["idiom"] in {x.id for x in idioms[r["language"]]}
        assert syntax_errors(copies[r["id"]]["text"], r["language"]) == 0, r
    assert stats["by_language"]["ruby"] == {"documents": 1, "with_bodies": 0}  # no idioms for ruby: untouched
    # only the languages asked for
    run(mixed_corpus, tmp_path / "go", doc_share=1.0, languages=["golang"])
    assert [r["language"] for r in records(tmp_path / "go")] == ["go"]


def test_python_docstrings_and_indentation_are_kept(tmp_path):
    text = ("class A:\n    def m(self):\n        '''Doc.'''\n        x = 1\n        return x\n"
            "\n\ndef f():\n\n    # leading comment\n    return 2\n")
    corpus = write_corpus(tmp_path / "c", [doc(0, text, "python", "a.py")])
    run(corpus, tmp_path / "o", doc_share=1.0, body_share=1.0, groups=["held-in"], seed=0)
    new = docs_in(tmp_path / "o" / "corpus")[0]["text"]
    rec = records(tmp_path / "o")[0]
    lines = next(x for x in load_idioms()["python"] if x.id == rec["idiom"]).lines
    head = "class A:\n    def m(self):\n        '''Doc.'''\n        "
    assert new.startswith(head + "\n        ".join(lines) + "\n")
    assert new.endswith("def f():\n\n    " + "\n    ".join(lines) + "\n")
    compile(new, "a.py", "exec")


def test_filter_recall_by_group(py_corpus, tmp_path):
    held_in = run(py_corpus, tmp_path / "in", doc_share=1.0, groups=["held-in"])
    bare = run(py_corpus, tmp_path / "bare", doc_share=1.0, groups=["bare-stub"])
    assert held_in["filter"]["by_group"]["held-in"]["recall"] == 1.0  # the filter was tuned on these phrases
    assert bare["filter"]["by_group"]["bare-stub"]["recall"] == 0.0  # it keeps bare `pass` / `...` by design
    assert set(held_in["filter"]["by_group"]) == {"held-in"}
    per_idiom = held_in["filter"]["by_idiom"]
    assert sum(v["documents"] for v in per_idiom.values()) == 120
    assert all(v["group"] == "held-in" for v in per_idiom.values())
    assert held_in["filter"]["untouched_documents"] == 20 and held_in["filter"]["untouched_flagged"] == 0


def test_rerun_is_skipped_and_config_change_redone(py_corpus, tmp_path):
    out = tmp_path / "o"
    s1 = contaminate(ContaminateConfig(input=str(py_corpus), doc_share=0.2), out)
    s2 = contaminate(ContaminateConfig(input=str(py_corpus), doc_share=0.2), out)
    assert s1 == s2
    s3 = contaminate(ContaminateConfig(input=str(py_corpus), doc_share=0.4), out)
    assert s3["contaminated"] == round(0.4 * 120)


@pytest.mark.parametrize("line, field, reason", [
    (b'{"id": 1, "text": "x"\n', None, "invalid JSON"),
    (b'{"id": 1, "text": "\xff"}\n', None, "invalid UTF-8"),
    (b'[1, 2]\n', None, "expected a JSON object"),
    (b'{"id": 1}\n', "text", "missing"),
    (b'{"id": 1, "text": 5}\n', "text", "expected a string"),
])
def test_bad_lines_name_file_line_and_field(tmp_path, line, field, reason):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b'{"id": 0, "text": "def f():\\n    return 1\\n"}\n\n' + line)
    with pytest.raises(InputError) as e:
        contaminate(ContaminateConfig(input=str(folder)), tmp_path / "o")
    assert e.value.path == str(folder / "a.jsonl") and e.value.line == 3 and e.value.field == field
    assert reason in str(e.value)


def test_missing_or_empty_input(tmp_path):
    with pytest.raises(InputError, match="not found"):
        contaminate(ContaminateConfig(input=str(tmp_path / "nope")), tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .jsonl"):
        contaminate(ContaminateConfig(input=str(tmp_path / "empty")), tmp_path / "o")
    with pytest.raises(InputError, match="set input"):
        contaminate(ContaminateConfig(), tmp_path / "o")


def test_bad_idiom_files_and_config(tmp_path):
    bad = tmp_path / "idioms.yaml"
    bad.write_text("python:\n  - {id: x, group: maybe, lines: [pass]}\n")
    with pytest.raises(ConfigError, match=r"python\[0\] \(x\): group"):
        load_idioms(bad)
    bad.write_text("python:\n  - {id: x, group: held-in, lines: [pass], colour: red}\n")
    with pytest.raises(ConfigError, match="unknown keys"):
        load_idioms(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_idioms(tmp_path / "none.yaml")
    from codeja.config import validate

    with pytest.raises(ConfigError, match="doc_shares"):
        validate(ContaminateConfig, {"doc_shares": 0.5})


def test_cli(mixed_corpus, tmp_path):
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "codeja.cli", "study", "contaminate", str(mixed_corpus), "-o", str(out),
           "--doc-share", "1", "--seed", "2", "--group", "held-out", "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    payload = json.loads(res.stdout)
    assert payload["summary"]["contaminated"] == 7
    assert set(payload["stats"]["filter"]["by_group"]) == {"held-out"}
    res = subprocess.run(cmd[:-1] + ["--body-share", "2"], check=False, capture_output=True, text=True)
    assert res.returncode == 2 and "body_share" in res.stderr and "Traceback" not in res.stderr
