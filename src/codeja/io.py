"""Reading and writing JSONL the same way everywhere: clear errors naming file, line and field.

``iter_jsonl(path)`` yields ``(line_number, record)``. A malformed line (invalid UTF-8, bad JSON, not an object)
raises :class:`~codeja.errors.InputError` naming the file and line, unless ``bad`` is a list: then a
:class:`BadLine` is appended to it and reading goes on, so a stage can quarantine and count bad rows.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeja.errors import InputError


@dataclass
class BadLine:
    path: str
    line: int
    reason: str
    raw: str  # the line as text (undecodable bytes replaced), cut to 1,000 characters

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "reason": self.reason, "raw": self.raw}


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None, str]:
    """One JSONL line: ``(record, None, text)``, or ``(None, why it is malformed, text)``.

    For readers that keep each raw line (``iter_jsonl`` for everyone else); ``text`` has undecodable bytes
    replaced.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"invalid UTF-8 at byte {e.start}", raw.decode("utf-8", "replace")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"invalid JSON: {e.msg} at column {e.colno}", text
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}", text
    return obj, None, text


def iter_jsonl(path: str | Path, bad: list[BadLine] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", path=str(p))
    with _open_binary(p) as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            obj, reason, text = parse_line(raw)
            if reason is not None:
                if bad is None:
                    raise InputError(reason, path=str(p), line=lineno)
                bad.append(BadLine(str(p), lineno, reason, text.rstrip("\n")[:1000]))
                continue
            yield lineno, obj


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [obj for _, obj in iter_jsonl(path)]


def require(obj: dict[str, Any], field: str, typ: type | tuple[type, ...], *, path: str | Path, line: int) -> Any:
    """Return ``obj[field]`` if present and of type ``typ``; else an InputError naming file, line and field."""
    if field not in obj:
        raise InputError("missing", path=str(path), line=line, field=field)
    value = obj[field]
    if not isinstance(value, typ):
        names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
        raise InputError(f"expected {names}, got {type(value).__name__}", path=str(path), line=line, field=field)
    return value


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically; returns the count."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, p)
    return n
