"""NIILC QA (mynlp/niilc-qa): Japanese encyclopaedic questions, scored by string match, not execution.

Processing follows llm-jp-eval 1.3.0: answers joined with ``,``, questions whose answer is ``-`` dropped (198 test
questions remain), input ``質問：{text}``. Swallow runs it 4-shot; the shots here are the first four usable dev
questions of the packaged dev file, fixed, so every model sees the same prompt.

Data: the packaged XML (mynlp/niilc-qa), a local XML file in that schema, or a table (JSONL / Parquet /
``hub:ID@REVISION``; no hub copy is known to codeja, so the id and revision are the user's) with one question
per row: ``question`` (text) and ``answers`` (a list, or one string joined with ``,``), optionally ``id``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import Benchmark, Source, Task, source_for
from codeja.evaluate.benchmarks.loading import HubDefault, load_records
from codeja.paths import benchmark_file
from codeja.runs import sha256_file

INSTRUCTION = ("質問に対する答えを出力してください。回答の他には何も含めないことを厳守してください。"
               "答えが複数の場合、コンマ（,）で繋げてください。")


def read_niilc(path: Path) -> list[tuple[str, str, list[str]]]:
    """(id, question, answers) per usable question; malformed XML is an InputError naming the file."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise InputError(f"not a readable NIILC XML file: {e}", path=str(path)) from None
    out = []
    for q in root.iter("question"):
        text = (q.findtext("text") or "").strip()
        answers = [a.text.strip() for a in q.iter("answer") if a.text and a.text.strip()]
        if not text or not answers or answers == ["-"]:
            continue
        out.append((q.get("id", str(len(out))), text, answers))
    if not out:
        raise InputError("no questions with answers", path=str(path))
    return out


def _table_questions(path: str) -> tuple[list[tuple[str, str, list[str]]], Source]:
    """(id, question, answers) from a JSONL / Parquet / hub table of ``question`` and ``answers`` rows."""
    rows, source = load_records(path, benchmark="niilc", hub=HubDefault(None, None),
                                required=("question", "answers"), default_file=None)
    out = []
    for i, r in enumerate(rows, 1):
        answers = r["answers"].split(",") if isinstance(r["answers"], str) else list(r["answers"])
        answers = [a.strip() for a in answers if isinstance(a, str) and a.strip()]
        if not str(r["question"]).strip() or not answers or answers == ["-"]:
            continue
        out.append((str(r.get("id", i)), str(r["question"]).strip(), answers))
    if not out:
        raise InputError("no questions with answers", path=str(path))
    return out, source


class NIILC(Benchmark):
    name = "niilc"
    kind = "qa"
    language = "ja"
    stop = ("\n\n", "\n質問")
    bigcode_stop = stop

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, shots: int = 4, **_):
        if path is None or (not str(path).startswith("hub:") and Path(path).suffix == ".xml"):
            p = Path(path) if path else benchmark_file("niilc/NIILC-ECQA2015_test.xml")
            questions, source = read_niilc(p), source_for(p, "mynlp/niilc-qa")
        else:
            questions, source = _table_questions(str(path))
        dev = benchmark_file("niilc/NIILC-ECQA2015_dev.xml")
        examples = read_niilc(dev)[:shots] if shots else []
        head = INSTRUCTION + "\n\n" + "".join(f"質問：{q}\n答え：{','.join(a)}\n\n" for _, q, a in examples)
        tasks = [Task(task_id=f"NIILC/{qid}", prompt=f"{head}質問：{q}\n答え：", language="ja", answers=tuple(a),
                      instruction=f"{INSTRUCTION}\n\n質問：{q}", canonical=",".join(a), canonical_is_program=True)
                 for qid, q, a in questions]
        # the shots are part of every prompt: their file's hash is compared between runs like the test data's
        options = {"shots": len(examples), "shots_sha256": sha256_file(dev) if examples else None}
        return cls(tasks, source, limit=limit, options=options)
