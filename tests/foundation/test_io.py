"""JSONL reading: errors name file, line and field; with `bad=` lines are quarantined and counted."""

from __future__ import annotations

import gzip

import pytest

from codeja.errors import InputError
from codeja.io import iter_jsonl, read_jsonl, require, write_jsonl


def _write(tmp_path, data: bytes, name="in.jsonl"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_roundtrip_unicode_and_blank_lines(tmp_path):
    p = tmp_path / "o.jsonl"
    rows = [{"id": 1, "text": "日本語のテキスト"}, {"id": 2, "text": "x" * 1_000_000}, {"id": 3, "text": ""}]
    assert write_jsonl(p, rows) == 3
    p.write_bytes(p.read_bytes() + b"\n   \n")  # trailing blank lines are not records
    assert read_jsonl(p) == rows
    assert [n for n, _ in iter_jsonl(p)] == [1, 2, 3]


def test_gzip(tmp_path):
    p = tmp_path / "in.jsonl.gz"
    with gzip.open(p, "wb") as f:
        f.write(b'{"a": 1}\n{"a": 2}\n')
    assert [o["a"] for _, o in iter_jsonl(p)] == [1, 2]


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b'{"a": 1}\n{"a": \n', 2, "invalid JSON"),
        (b'{"a": 1}\n\n{"a": "\xff\xfe"}\n', 3, "invalid UTF-8 at byte"),
        (b'[1, 2]\n', 1, "expected a JSON object, got list"),
        (b'{"a": 1}\n"just a string"\n', 2, "expected a JSON object, got str"),
    ],
)
def test_bad_lines_raise_with_file_and_line(tmp_path, data, line, reason):
    p = _write(tmp_path, data)
    with pytest.raises(InputError) as e:
        list(iter_jsonl(p))
    assert e.value.path == str(p) and e.value.line == line and reason in str(e.value)
    assert str(e.value).startswith(f"{p}:{line}: ")
    assert e.value.exit_code == 2


def test_bad_lines_quarantined_when_asked(tmp_path):
    p = _write(tmp_path, b'{"a": 1}\nnot json\n{"a": "\xc3"}\n[]\n{"a": 5}\n')
    bad = []
    good = list(iter_jsonl(p, bad=bad))
    assert [o["a"] for _, o in good] == [1, 5]
    assert [(b.line, b.reason.split(":")[0]) for b in bad] == [
        (2, "invalid JSON"), (3, "invalid UTF-8 at byte 7"), (4, "expected a JSON object, got list")]
    assert bad[0].as_dict()["raw"] == "not json" and bad[1].path == str(p)
    assert len(good) + len(bad) == 5  # accounting: nothing vanishes


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        list(iter_jsonl(tmp_path / "nope.jsonl"))


def test_require_names_field(tmp_path):
    obj = {"text": 3, "id": "x"}
    assert require(obj, "id", str, path="f.jsonl", line=4) == "x"
    with pytest.raises(InputError, match=r"^f\.jsonl:4, field 'messages': missing$"):
        require(obj, "messages", list, path="f.jsonl", line=4)
    with pytest.raises(InputError, match=r"field 'text': expected str, got int"):
        require(obj, "text", str, path="f.jsonl", line=4)
    with pytest.raises(InputError, match=r"expected str or list, got int"):
        require(obj, "text", (str, list), path="f.jsonl", line=4)
