"""The records this stage reads: instructions (what to answer) and candidates (answers with scores).

Both readers check every field they use and raise :class:`~codeja.errors.InputError` naming the file, line and
field (``data.jsonl:7, field 'responses[2].score': expected a number, got str``), so a bad row never surfaces as
a KeyError deep inside the builder.

Candidates (the input of ``codeja prefs build``), one instruction per line::

    {"id": "q1", "prompt": [{"role": "user", "content": "..."}],
     "responses": [{"text": "...", "score": 0.7, "passed_filters": true}, ...]}

``prompt`` may also be a plain string (one user turn). ``score`` may be null for a response that did not pass
the filters (filtered responses are usually not scored). Optional per response: ``execution.pass_rate`` (the
share of tests passed; gates who may be chosen), ``filter_reasons`` and ``filter_detail``. Unknown keys are kept
and carried into ``meta``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeja.codeparse import canonical_language
from codeja.errors import InputError
from codeja.io import BadLine, iter_jsonl, require

ROLES = ("system", "user", "assistant", "tool")


def parse_messages(value: Any, *, path: str, line: int, field_name: str) -> list[dict[str, str]]:
    """A list of ``{"role", "content"}`` (a bare string becomes one user turn); errors name the exact element."""
    if isinstance(value, str):
        if not value.strip():
            raise InputError("empty prompt", path=path, line=line, field=field_name)
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise InputError(f"expected a list of messages or a string, got {type(value).__name__}",
                         path=path, line=line, field=field_name)
    if not value:
        raise InputError("empty list of messages", path=path, line=line, field=field_name)
    out = []
    for i, msg in enumerate(value):
        where = f"{field_name}[{i}]"
        if not isinstance(msg, dict):
            raise InputError(f"expected a message object, got {type(msg).__name__}", path=path, line=line, field=where)
        role = msg.get("role")
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}", path=path, line=line,
                             field=f"{where}.role")
        content = msg.get("content")
        if not isinstance(content, str):
            raise InputError(f"expected a string, got {type(content).__name__}", path=path, line=line,
                             field=f"{where}.content")
        out.append({"role": role, "content": content})
    return out


def _parse_id(obj: dict, *, path: str, line: int) -> str | int:
    value = obj.get("id")
    if value is None:
        raise InputError("missing", path=path, line=line, field="id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"expected a string or an integer, got {type(value).__name__}", path=path, line=line,
                         field="id")
    return value


def _number(value: Any, *, path: str, line: int, field_name: str, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"expected a number, got {type(value).__name__}", path=path, line=line, field=field_name)
    if not math.isfinite(value):
        raise InputError(f"expected a finite number, got {value}", path=path, line=line, field=field_name)
    return float(value)


# ---------------------------------------------------------------------------------------------------------------
# instructions (input of sampling)


@dataclass
class Instruction:
    id: str | int
    prompt: list[dict[str, str]]
    line: int
    tests: list[str] | None = None  # each string is one test program fragment; pass rate = share that pass
    entry_point: str | None = None
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    responses: list[dict[str, Any]] | None = None  # supplied responses: sampling keeps them instead of generating
    path: str = ""  # the file the instruction came from (for error messages)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "prompt": self.prompt}
        for key in ("tests", "entry_point", "language", "responses"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.meta:
            d["meta"] = self.meta
        return d


def parse_tests(obj: dict, *, path: str, line: int) -> tuple[list[str] | None, str | None, str | None]:
    tests = obj.get("tests")
    if tests is not None:
        if isinstance(tests, str):
            tests = [tests]
        elif not (isinstance(tests, list) and all(isinstance(t, str) for t in tests)):
            raise InputError("expected a string or a list of strings", path=path, line=line, field="tests")
        tests = [t for t in tests if t.strip()] or None
    entry = obj.get("entry_point")
    if entry is not None and not isinstance(entry, str):
        raise InputError(f"expected a string, got {type(entry).__name__}", path=path, line=line, field="entry_point")
    lang = obj.get("language")
    if lang is not None and not isinstance(lang, str):
        raise InputError(f"expected a string, got {type(lang).__name__}", path=path, line=line, field="language")
    return tests, entry or None, canonical_language(lang) if lang else None


def parse_instruction(obj: dict[str, Any], *, path: str, line: int) -> Instruction:
    """One instruction row: ``id`` + ``prompt``, or a Magpie row (``messages`` + ``meta``)."""
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise InputError(f"expected an object, got {type(meta).__name__}", path=path, line=line, field="meta")
    if "prompt" in obj:
        prompt = parse_messages(obj["prompt"], path=path, line=line, field_name="prompt")
    elif "messages" in obj:
        messages = parse_messages(obj["messages"], path=path, line=line, field_name="messages")
        # A Magpie row carries the teacher's answer; the prompt is everything up to the last user turn.
        while messages and messages[-1]["role"] == "assistant":
            messages = messages[:-1]
        prompt = messages
    else:
        raise InputError("missing (need 'prompt', or 'messages' as in the Magpie stage's data.jsonl)",
                         path=path, line=line, field="prompt")
    if not prompt or prompt[-1]["role"] != "user":
        raise InputError("the prompt must end with a user turn", path=path, line=line,
                         field="prompt" if "prompt" in obj else "messages")
    if "id" in obj:
        iid = _parse_id(obj, path=path, line=line)
    elif isinstance(meta.get("id"), (str, int)) and not isinstance(meta.get("id"), bool):
        iid = meta["id"]
    else:
        iid = f"{Path(path).stem}:{line}"  # stable for a given file: the line number is the identity
    tests, entry, lang = parse_tests(obj, path=path, line=line)
    lang = lang or (canonical_language(meta["language"]) if isinstance(meta.get("language"), str) else None)
    responses = obj.get("responses")
    if responses is not None:
        if not isinstance(responses, list):
            raise InputError(f"expected a list, got {type(responses).__name__}", path=path, line=line,
                             field="responses")
        for i, r in enumerate(responses):
            if not isinstance(r, dict) or not isinstance(r.get("text"), str):
                raise InputError("expected an object with a string 'text'", path=path, line=line,
                                 field=f"responses[{i}]")
    return Instruction(iid, prompt, line, tests, entry, lang, meta, responses, path)


def read_instructions(path: str | Path, limit: int | None = None) -> list[Instruction]:
    """All instructions of a file (the first ``limit``); duplicate ids are an error naming both lines."""
    p = str(path)
    out: list[Instruction] = []
    seen: dict[str, int] = {}
    for line, obj in iter_jsonl(p):
        inst = parse_instruction(obj, path=p, line=line)
        key = str(inst.id)
        if key in seen:
            raise InputError(f"duplicate id {inst.id!r} (first on line {seen[key]})", path=p, line=line, field="id")
        seen[key] = line
        out.append(inst)
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise InputError("no instructions in the file", path=p)
    return out


# ---------------------------------------------------------------------------------------------------------------
# candidates (input of the builder)


@dataclass
class Response:
    index: int  # position in the instruction's response list: the tie-breaker
    text: str
    score: float | None
    passed: bool
    reasons: list[str] = field(default_factory=list)  # why it was filtered, when known
    pass_rate: float | None = None  # share of the instruction's tests passed, when they were run
    detail: str | None = None  # the filter's explanation (e.g. which placeholder pattern matched)


@dataclass
class Candidate:
    id: str | int
    prompt: list[dict[str, str]]
    responses: list[Response]
    line: int
    extra: dict[str, Any] = field(default_factory=dict)  # other top-level keys, carried into meta

    @property
    def survivors(self) -> list[Response]:
        return [r for r in self.responses if r.passed]


def parse_candidate(obj: dict[str, Any], *, path: str, line: int) -> Candidate:
    cid = _parse_id(obj, path=path, line=line)
    if "prompt" not in obj:
        raise InputError("missing", path=path, line=line, field="prompt")
    prompt = parse_messages(obj["prompt"], path=path, line=line, field_name="prompt")
    raw = require(obj, "responses", list, path=path, line=line)
    responses = []
    for i, r in enumerate(raw):
        where = f"responses[{i}]"
        if not isinstance(r, dict):
            raise InputError(f"expected an object, got {type(r).__name__}", path=path, line=line, field=where)
        if "text" not in r:
            raise InputError("missing", path=path, line=line, field=f"{where}.text")
        if not isinstance(r["text"], str):
            raise InputError(f"expected a string, got {type(r['text']).__name__}", path=path, line=line,
                             field=f"{where}.text")
        if "passed_filters" not in r:
            raise InputError("missing", path=path, line=line, field=f"{where}.passed_filters")
        if not isinstance(r["passed_filters"], bool):
            raise InputError(f"expected true or false, got {type(r['passed_filters']).__name__}", path=path,
                             line=line, field=f"{where}.passed_filters")
        passed = r["passed_filters"]
        if passed and "score" not in r:
            raise InputError("missing (every response that passed the filters needs a score)", path=path,
                             line=line, field=f"{where}.score")
        score = _number(r.get("score"), path=path, line=line, field_name=f"{where}.score", allow_none=not passed)
        reasons = r.get("filter_reasons") or []
        if not (isinstance(reasons, list) and all(isinstance(x, str) for x in reasons)):
            raise InputError("expected a list of strings", path=path, line=line, field=f"{where}.filter_reasons")
        execution = r.get("execution")
        pass_rate = None
        if execution is not None:
            if not isinstance(execution, dict):
                raise InputError(f"expected an object, got {type(execution).__name__}", path=path, line=line,
                                 field=f"{where}.execution")
            pass_rate = _number(execution.get("pass_rate"), path=path, line=line,
                                field_name=f"{where}.execution.pass_rate", allow_none=False)
        detail = r.get("filter_detail")
        responses.append(Response(i, r["text"], score, passed, list(reasons), pass_rate,
                                  detail if isinstance(detail, str) else None))
    extra = {k: v for k, v in obj.items() if k not in ("id", "prompt", "responses")}
    return Candidate(cid, prompt, responses, line, extra)


def read_candidates(path: str | Path, bad: list[BadLine] | None = None) -> Iterator[Candidate]:
    """Candidates in file order. Malformed lines raise, or with ``bad`` are collected there and skipped."""
    p = str(path)
    seen: dict[str, int] = {}
    for line, obj in iter_jsonl(p, bad=bad):
        try:
            cand = parse_candidate(obj, path=p, line=line)
            key = str(cand.id)
            if key in seen:
                raise InputError(f"duplicate id {cand.id!r} (first on line {seen[key]})", path=p, line=line,
                                 field="id")
        except InputError as e:
            if bad is None:
                raise
            reason = f"field '{e.field}': {e.reason}" if e.field else e.reason
            bad.append(BadLine(p, line, reason, json.dumps(obj, ensure_ascii=False)[:1000]))
            continue
        seen[key] = line
        yield cand
