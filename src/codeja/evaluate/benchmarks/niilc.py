"""NIILC QA (mynlp/niilc-qa): Japanese encyclopaedic questions, scored by string match, not execution.

Processing follows llm-jp-eval 1.3.0: answers joined with ``,``, questions whose answer is ``-`` dropped (198 test
questions remain), input ``質問：{text}``. Swallow runs it 4-shot; the shots here are the first four usable dev
questions, fixed, so every model sees the same prompt.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import Benchmark, Task, source_for
from codeja.paths import shared_data

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


class NIILC(Benchmark):
    name = "niilc"
    kind = "qa"
    language = "ja"
    stop = ("\n\n", "\n質問")
    bigcode_stop = stop

    @classmethod
    def load(cls, path: str | None = None, limit: int | None = None, shots: int = 4, **_):
        base = shared_data() / "benchmarks" / "niilc"
        p = Path(path) if path else base / "NIILC-ECQA2015_test.xml"
        dev = base / "NIILC-ECQA2015_dev.xml"
        examples = read_niilc(dev)[:shots] if shots and dev.exists() else []
        head = INSTRUCTION + "\n\n" + "".join(f"質問：{q}\n答え：{','.join(a)}\n\n" for _, q, a in examples)
        tasks = [Task(task_id=f"NIILC/{qid}", prompt=f"{head}質問：{q}\n答え：", language="ja", answers=tuple(a),
                      instruction=f"{INSTRUCTION}\n\n質問：{q}", canonical=",".join(a), canonical_is_program=True)
                 for qid, q, a in read_niilc(p)]
        return cls(tasks, source_for(p, "mynlp/niilc-qa"), limit=limit, options={"shots": len(examples)})
