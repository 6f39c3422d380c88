"""Reading SFT and preference JSONL for training: validation with errors that name file, line and field,
quarantine of bad rows, and length accounting that never cuts code silently.

* SFT rows: ``{"messages": [{"role", "content"}, ...], ...}`` (extra keys such as ``meta`` are dropped).
* Pair rows (as written by ``codeja prefs``): ``{"prompt": [msgs], "chosen": [msgs], "rejected": [msgs], "meta": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeja.errors import InputError
from codeja.io import BadLine, iter_jsonl, require, write_jsonl

ROLES = ("system", "user", "assistant")


@dataclass
class Loaded:
    """Rows that passed validation (with their line numbers) and the bad ones, for the manifest's accounting."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the file each row came from (several for sft extra_data)
    bad: list[BadLine] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows_in": len(self.rows) + len(self.bad),
            "rows_valid": len(self.rows),
            "rows_bad": len(self.bad),
        }


def check_messages(
    msgs: Any, *, path: str, line: int, fld: str, need_assistant: bool
) -> list[dict[str, str]]:
    """Validate a message list; return it reduced to role/content. Raises InputError naming the exact field."""
    if not isinstance(msgs, list) or not msgs:
        got = "an empty list" if isinstance(msgs, list) else type(msgs).__name__
        raise InputError(f"expected a non-empty list of messages, got {got}", path=path, line=line, field=fld)
    out = []
    for i, m in enumerate(msgs):
        where = f"{fld}[{i}]"
        if not isinstance(m, dict):
            raise InputError(
                f"expected a message object, got {type(m).__name__}", path=path, line=line, field=where
            )
        role = require(m, "role", str, path=path, line=line) if "role" in m else None
        if role is None:
            raise InputError("missing", path=path, line=line, field=f"{where}.role")
        if role not in ROLES:
            raise InputError(
                f"unknown role '{role}' (expected one of {', '.join(ROLES)})",
                path=path,
                line=line,
                field=f"{where}.role",
            )
        content = m.get("content")
        if not isinstance(content, str):
            reason = "missing" if "content" not in m else f"expected str, got {type(content).__name__}"
            raise InputError(reason, path=path, line=line, field=f"{where}.content")
        out.append({"role": role, "content": content})
    if need_assistant and not any(m["role"] == "assistant" for m in out):
        raise InputError("no assistant message to train on", path=path, line=line, field=fld)
    return out


def _load(path: str | Path | list, policy: str, parse) -> Loaded:
    paths = [str(p) for p in path] if isinstance(path, (list, tuple)) else [str(path)]
    loaded = Loaded()
    bad = loaded.bad if policy == "skip" else None
    for p in paths:
        for lineno, obj in iter_jsonl(p, bad=bad):
            try:
                row = parse(obj, p, lineno)
            except InputError as e:
                if policy != "skip":
                    raise
                loaded.bad.append(BadLine(p, lineno, str(e), str(obj)[:1000]))
                continue
            loaded.rows.append(row)
            loaded.lines.append(lineno)
            loaded.files.append(p)
    if not loaded.rows:
        raise InputError(f"no usable rows ({len(loaded.bad)} bad)", path=", ".join(paths))
    return loaded


def load_messages(path: str | Path | list, policy: str = "error") -> Loaded:
    """SFT data: one conversation per line under ``messages`` (one file or several, concatenated in order)."""

    def parse(obj, p, line):
        if "messages" not in obj:
            raise InputError("missing", path=p, line=line, field="messages")
        return {
            "messages": check_messages(
                obj["messages"], path=p, line=line, fld="messages", need_assistant=True
            )
        }

    return _load(path, policy, parse)


def load_pairs(path: str | Path, policy: str = "error") -> Loaded:
    """DPO data: conversational prompt / chosen / rejected; ``meta`` and other keys are dropped."""

    def parse(obj, p, line):
        row = {}
        for key in ("prompt", "chosen", "rejected"):
            if key not in obj:
                raise InputError("missing", path=p, line=line, field=key)
            row[key] = check_messages(obj[key], path=p, line=line, fld=key, need_assistant=key != "prompt")
        for key in ("chosen", "rejected"):
            if row[key][-1]["role"] != "assistant":
                raise InputError(
                    "the last message must be the assistant's answer",
                    path=p,
                    line=line,
                    field=f"{key}[{len(row[key]) - 1}].role",
                )
        if row["prompt"][-1]["role"] == "assistant":
            raise InputError(
                "the prompt must end with a user (or system) turn",
                path=p,
                line=line,
                field=f"prompt[{len(row['prompt']) - 1}].role",
            )
        return row

    return _load(path, policy, parse)


def write_bad_rows(out_dir: Path, bad: list[BadLine]) -> Path | None:
    """Quarantine file for rows skipped under ``bad_rows: skip``."""
    if not bad:
        return None
    path = Path(out_dir) / "bad_rows.jsonl"
    write_jsonl(path, (b.as_dict() for b in bad))
    return path


def apply_length_policy(
    loaded: Loaded, lengths: list[int], max_length: int, policy: str, *, what: str, path: str
) -> dict[str, Any]:
    """Drop, keep-for-truncation or reject rows longer than ``max_length`` tokens; returns the accounting.

    Never silent: the counts (and the first offending lines) go into the manifest and the summary.
    """
    over = [i for i, n in enumerate(lengths) if n > max_length]
    report = {
        "max_length": max_length,
        "overlong": len(over),
        "overlong_policy": policy,
        "overlong_lines": [loaded.lines[i] for i in over[:20]],
        "longest": max(lengths) if lengths else 0,
    }
    if over and policy == "error":
        i = over[0]
        raise InputError(
            f"{what} is {lengths[i]} tokens, over max_length {max_length} ({len(over)} rows are); "
            "raise max_length, or set overlong: drop | truncate",
            path=loaded.files[i] if loaded.files else path,
            line=loaded.lines[i],
        )
    if over and policy == "drop":
        keep = set(range(len(lengths))) - set(over)
        loaded.rows = [r for i, r in enumerate(loaded.rows) if i in keep]
        loaded.lines = [n for i, n in enumerate(loaded.lines) if i in keep]
        loaded.files = [f for i, f in enumerate(loaded.files) if i in keep]
        if not loaded.rows:
            raise InputError(
                f"every row is over max_length {max_length} tokens (longest {max(lengths)})", path=path
            )
    report["dropped_overlong"] = len(over) if policy == "drop" else 0
    report["truncated"] = len(over) if policy == "truncate" else 0
    return report
