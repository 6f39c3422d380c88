"""Reading SFT and preference data for training, in TRL's dataset formats and the common community layouts,
with errors that name file, line and field, quarantine of bad rows, and length accounting that never cuts code
silently.

Where rows come from (``data`` / ``extra_data``): a local JSONL(.gz) file (line numbers are lines), or anything
:mod:`codeja.hub_datasets` reads: a hub id ``owner/name[@revision]``, a ``save_to_disk`` folder, a folder of data
files, a ``.parquet`` / ``.json`` / ``.csv`` file (line numbers are 1-based row numbers of the split). Before a
row is read, ``columns`` renames the user's fields to TRL's (e.g. ``{question: prompt, response: completion}``).

SFT formats (``data_format``; ``auto`` detects each row by its fields, in this order):

* ``messages``: ``{"messages": [{"role", "content"}, ...]}``, conversational language modeling.
* ``sharegpt``: ``{"conversations": [{"from": "human"|"gpt"|"system", "value"}, ...]}``, mapped to ``messages``.
* ``prompt-completion``: ``{"prompt", "completion"}``, both strings (standard) or both message lists
  (conversational); the loss falls on the completion.
* ``alpaca``: ``{"instruction", "input" (optional), "output", "system" (optional)}``, mapped to ``messages``
  (the user turn is the instruction, a blank line, then the input when there is one).
* ``text``: ``{"text": str}``, standard language modeling (loss on every token).

All rows must land in one TRL format (the first valid row sets it). Preference pairs: explicit prompt
(``prompt`` / ``chosen`` / ``rejected``) or implicit prompt (``chosen`` / ``rejected`` only, both holding the
prompt, which becomes their shared prefix as TRL's ``extract_prompt`` finds it), all conversational or all
standard. Extra keys (``meta``, ``id``, ...) are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeja.errors import InputError
from codeja.hub_datasets import HubOptions, load, parse_ref
from codeja.io import BadLine, iter_jsonl, require, write_jsonl

ROLES = ("system", "user", "assistant")
SFT_FORMATS = ("messages", "sharegpt", "prompt-completion", "alpaca", "text")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "model": "assistant", "system": "system"}
_JSONL = (".jsonl", ".jsonl.gz")


@dataclass
class Loaded:
    """Rows that passed validation (with where they came from) and the bad ones, for the manifest's accounting.

    ``format`` is the TRL format of ``rows`` (``messages``, ``prompt-completion``, ``text`` or ``preference``) and
    ``conversational`` whether they hold message lists; ``sources`` describes datasets read through ``datasets``
    (hub commit, split, rows) for the manifest.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the file (or dataset label) each row came from
    bad: list[BadLine] = field(default_factory=list)
    format: str = ""
    conversational: bool = True
    sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows_in": len(self.rows) + len(self.bad),
            "rows_valid": len(self.rows),
            "rows_bad": len(self.bad),
        }


# ---------------------------------------------------------------------------------------------------------------
# where rows come from


def iter_records(ref: str, hub: HubOptions, loaded: Loaded,
                 bad: list[BadLine] | None) -> Iterator[tuple[str, int, dict]]:
    """(file or dataset label, line or row number, record) of one data argument; see the module doc."""
    text = str(ref)
    if text.lower().endswith(_JSONL) or (Path(text).is_file() and parse_ref(text, hub) is None):
        for lineno, obj in iter_jsonl(text, bad=bad):
            yield text, lineno, obj
        return
    src = parse_ref(text, hub)
    if src is None:
        raise InputError("file not found", path=text)
    ds = load(src)
    info = src.describe()
    if hasattr(ds, "__len__"):
        info["rows"] = len(ds)
    info["fingerprint"] = getattr(ds, "_fingerprint", None)
    loaded.sources.append(info)
    for i, obj in enumerate(ds, start=1):
        yield src.label, i, dict(obj)


def input_fingerprints(loaded: Loaded, refs: list[str], out_dir: Path) -> list[str | Path]:
    """What the manifest hashes as inputs: local files as they are, datasets as their pinned description."""
    paths: list[str | Path] = [r for r in refs if Path(r).is_file()]
    if loaded.sources:
        p = Path(out_dir) / "inputs" / "datasets.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(loaded.sources, indent=2, sort_keys=True, default=str), encoding="utf-8")
        paths.append(p)
    return paths


def _load(refs: str | Path | list, policy: str, parse: Callable, *, hub: HubOptions | None = None,
          columns: dict[str, str] | None = None) -> Loaded:
    refs = [str(p) for p in refs] if isinstance(refs, (list, tuple)) else [str(refs)]
    if not all(r.strip() for r in refs):
        raise InputError("no training data given: set data (a JSONL file, a dataset folder or a hub id)")
    hub = hub or HubOptions()
    loaded = Loaded()
    bad = loaded.bad if policy == "skip" else None
    for ref in refs:
        for where, lineno, obj in iter_records(ref, hub, loaded, bad):
            if columns:
                obj = {columns.get(k, k): v for k, v in obj.items()}
            try:
                row = parse(obj, where, lineno, loaded)
            except InputError as e:
                if policy != "skip":
                    raise
                loaded.bad.append(BadLine(where, lineno, str(e),
                                          json.dumps(obj, ensure_ascii=False, default=str)[:1000]))
                continue
            loaded.rows.append(row)
            loaded.lines.append(lineno)
            loaded.files.append(where)
    if not loaded.rows:
        raise InputError(f"no usable rows ({len(loaded.bad)} bad)", path=", ".join(refs))
    return loaded


# ---------------------------------------------------------------------------------------------------------------
# validation


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
        role = require(m, "role", str, path=path, line=line) if m.get("role") is not None else None
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
            reason = "missing" if content is None else f"expected str, got {type(content).__name__}"
            raise InputError(reason, path=path, line=line, field=f"{where}.content")
        out.append({"role": role, "content": content})
    if need_assistant and not any(m["role"] == "assistant" for m in out):
        raise InputError("no assistant message to train on", path=path, line=line, field=fld)
    return out


def _string(obj: dict, key: str, path: str, line: int, *, empty_ok: bool = False) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InputError("missing" if value is None else f"expected str, got {type(value).__name__}",
                         path=path, line=line, field=key)
    if not empty_ok and not value.strip():
        raise InputError("empty", path=path, line=line, field=key)
    return value


def _has(obj: dict, key: str) -> bool:
    return obj.get(key) is not None  # datasets fills absent columns with None


def detect_sft_format(obj: dict) -> str | None:
    for fmt, keys in (("messages", ("messages",)), ("sharegpt", ("conversations",)),
                      ("prompt-completion", ("prompt", "completion")), ("alpaca", ("instruction", "output")),
                      ("text", ("text",))):
        if all(_has(obj, k) for k in keys):
            return fmt
    return None


_FIELD_OF = {"messages": "messages", "sharegpt": "conversations", "prompt-completion": "prompt",
             "alpaca": "instruction", "text": "text"}


def _sharegpt(turns: Any, path: str, line: int) -> list[dict[str, Any]]:
    if not isinstance(turns, list) or not turns:
        raise InputError("expected a non-empty list of {from, value} turns", path=path, line=line,
                         field="conversations")
    out = []
    for i, t in enumerate(turns):
        where = f"conversations[{i}]"
        if not isinstance(t, dict):
            raise InputError(f"expected a turn object, got {type(t).__name__}", path=path, line=line, field=where)
        speaker = t.get("from")
        if speaker not in SHAREGPT_ROLES:
            raise InputError("missing" if speaker is None else
                             f"unknown speaker '{speaker}' (expected one of {', '.join(SHAREGPT_ROLES)})",
                             path=path, line=line, field=f"{where}.from")
        out.append({"role": SHAREGPT_ROLES[speaker], "content": t.get("value")})
    return out


def parse_sft_row(obj: dict, fmt: str, path: str, line: int) -> tuple[dict[str, Any], str, bool]:
    """One row in ``fmt`` -> (TRL row, TRL format, conversational)."""
    if fmt == "messages":
        if not _has(obj, "messages"):
            raise InputError("missing", path=path, line=line, field="messages")
        msgs = check_messages(obj["messages"], path=path, line=line, fld="messages", need_assistant=True)
        return {"messages": msgs}, "messages", True
    if fmt == "sharegpt":
        if not _has(obj, "conversations"):
            raise InputError("missing", path=path, line=line, field="conversations")
        msgs = check_messages(_sharegpt(obj["conversations"], path, line), path=path, line=line,
                              fld="conversations", need_assistant=True)
        return {"messages": msgs}, "messages", True
    if fmt == "alpaca":
        instruction = _string(obj, "instruction", path, line)
        output = _string(obj, "output", path, line)
        extra = obj.get("input")
        if extra is not None and not isinstance(extra, str):
            raise InputError(f"expected str, got {type(extra).__name__}", path=path, line=line, field="input")
        user = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
        msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
        if isinstance(obj.get("system"), str) and obj["system"].strip():
            msgs.insert(0, {"role": "system", "content": obj["system"]})
        return {"messages": msgs}, "messages", True
    if fmt == "text":
        return {"text": _string(obj, "text", path, line)}, "text", False
    # prompt-completion, standard or conversational
    for key in ("prompt", "completion"):
        if not _has(obj, key):
            raise InputError("missing", path=path, line=line, field=key)
    if isinstance(obj["completion"], list):
        if not isinstance(obj["prompt"], list):
            raise InputError(f"expected a list of messages like completion, got {type(obj['prompt']).__name__}",
                             path=path, line=line, field="prompt")
        prompt = check_messages(obj["prompt"], path=path, line=line, fld="prompt", need_assistant=False)
        completion = check_messages(obj["completion"], path=path, line=line, fld="completion", need_assistant=True)
        return {"prompt": prompt, "completion": completion}, "prompt-completion", True
    return ({"prompt": _string(obj, "prompt", path, line, empty_ok=True),
             "completion": _string(obj, "completion", path, line)}, "prompt-completion", False)


# ---------------------------------------------------------------------------------------------------------------
# SFT


def load_sft(refs: str | Path | list, policy: str = "error", *, data_format: str = "auto",
             hub: HubOptions | None = None, columns: dict[str, str] | None = None) -> Loaded:
    """SFT data in any of the formats of the module doc (one file or dataset or several, concatenated in order)."""
    first: dict[str, Any] = {}  # the TRL format set by the first valid row, and where it was

    def parse(obj, p, line, loaded):
        fmt = data_format if data_format != "auto" else detect_sft_format(obj)
        if fmt is None and first:  # a row that matches no format: report what the data's format needs
            fmt = first["source_format"]
        if fmt is None:
            raise InputError(f"no SFT fields (messages, conversations, prompt + completion, instruction + output, "
                             f"text); fields: {', '.join(obj) or 'none'}; map yours with columns: "
                             "{your_field: messages}", path=p, line=line)
        row, trl_format, conv = parse_sft_row(obj, fmt, p, line)
        if not first:
            first.update(source_format=fmt, format=trl_format, conv=conv, where=f"{p}:{line}")
            loaded.format, loaded.conversational = trl_format, conv
        elif (trl_format, conv) != (first["format"], first["conv"]):
            def kind(f, c):
                return f"{'conversational' if c else 'standard'} {f}"

            raise InputError(f"missing: a {kind(trl_format, conv)} row (fields {', '.join(obj)}) in "
                             f"{kind(first['format'], first['conv'])} data (as at {first['where']}); TRL trains "
                             "on one format at a time", path=p, line=line, field=_FIELD_OF[first["source_format"]])
        return row

    return _load(refs, policy, parse, hub=hub, columns=columns)


def load_messages(path: str | Path | list, policy: str = "error") -> Loaded:
    """SFT data in ``messages`` format only (one file or several, concatenated in order)."""
    return load_sft(path, policy, data_format="messages")


# ---------------------------------------------------------------------------------------------------------------
# preference pairs


def _check_conversation_pair(row: dict, p: str, line: int) -> dict:
    for key in ("chosen", "rejected"):
        if row[key][-1]["role"] != "assistant":
            raise InputError("the last message must be the assistant's answer", path=p, line=line,
                             field=f"{key}[{len(row[key]) - 1}].role")
    if not row["prompt"]:
        raise InputError("chosen and rejected share no prompt turns (implicit prompt); add a prompt field",
                         path=p, line=line, field="chosen")
    if row["prompt"][-1]["role"] == "assistant":
        raise InputError("the prompt must end with a user (or system) turn", path=p, line=line,
                         field=f"prompt[{len(row['prompt']) - 1}].role")
    return row


def parse_pair(obj: dict, p: str, line: int) -> tuple[dict[str, Any], bool]:
    """One preference row -> (TRL row with an explicit prompt, conversational)."""
    # heavy: trl (kept out of `codeja --help` and light imports)
    from trl.data_utils import extract_prompt

    for key in ("chosen", "rejected"):
        if not _has(obj, key):
            raise InputError("missing", path=p, line=line, field=key)
    conv = isinstance(obj["chosen"], list)
    prompt = obj.get("prompt")
    if conv:
        answers = {k: check_messages(obj[k], path=p, line=line, fld=k, need_assistant=True)
                   for k in ("chosen", "rejected")}
        if prompt is None or (isinstance(prompt, str) and answers["chosen"][0]["role"] != "assistant"):
            # implicit prompt; a string prompt beside full conversations (HuggingFaceH4/ultrafeedback_binarized)
            # is a copy of the first user turn, as TRL's maybe_extract_prompt treats it
            row = extract_prompt(answers)
            return _check_conversation_pair({k: list(v) for k, v in row.items()}, p, line), True
        row = {"prompt": check_messages(prompt, path=p, line=line, fld="prompt", need_assistant=False), **answers}
        return _check_conversation_pair(row, p, line), True
    chosen, rejected = _string(obj, "chosen", p, line), _string(obj, "rejected", p, line)
    if prompt is None:
        row = extract_prompt({"chosen": chosen, "rejected": rejected})
        if not row["prompt"].strip():
            raise InputError("chosen and rejected share no prompt text (implicit prompt); add a prompt field",
                             path=p, line=line, field="chosen")
        if not row["chosen"].strip() or not row["rejected"].strip():
            raise InputError("an answer is empty once the shared prompt is taken off", path=p, line=line,
                             field="chosen" if not row["chosen"].strip() else "rejected")
        return row, False
    if isinstance(prompt, list):
        raise InputError("expected a string like chosen and rejected, got a list", path=p, line=line, field="prompt")
    return {"prompt": _string(obj, "prompt", p, line), "chosen": chosen, "rejected": rejected}, False


def load_pairs(path: str | Path | list, policy: str = "error", *, hub: HubOptions | None = None,
               columns: dict[str, str] | None = None) -> Loaded:
    """DPO data: explicit or implicit prompt, conversational or standard (see the module doc)."""
    first: dict[str, Any] = {}

    def parse(obj, p, line, loaded):
        row, conv = parse_pair(obj, p, line)
        if not first:
            first.update(conv=conv, where=f"{p}:{line}")
            loaded.format, loaded.conversational = "preference", conv
        elif conv != first["conv"]:
            want = "a list of messages" if first["conv"] else "a string"
            raise InputError(f"expected {want} like the rows before (as at {first['where']})", path=p, line=line,
                             field="chosen")
        return row

    return _load(path, policy, parse, hub=hub, columns=columns)


# ---------------------------------------------------------------------------------------------------------------
# accounting


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


def token_lengths(tokenizer, texts_or_convs: list, *, conversational: bool) -> list[int]:
    """Tokens of each item as TRL tokenizes it: a conversation through the chat template, a string plus EOS."""
    if conversational:
        return [len(tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"])
                for c in texts_or_convs]
    return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts_or_convs]


def row_lengths(tokenizer, loaded: Loaded) -> list[int]:
    """Tokens of each row as TRL will tokenize it (a pair: prompt + the longer answer)."""
    conv, rows = loaded.conversational, loaded.rows
    if loaded.format == "preference":
        chosen = token_lengths(tokenizer, [r["prompt"] + r["chosen"] for r in rows], conversational=conv)
        rejected = token_lengths(tokenizer, [r["prompt"] + r["rejected"] for r in rows], conversational=conv)
        return [max(a, b) for a, b in zip(chosen, rejected)]
    if loaded.format == "prompt-completion":
        return token_lengths(tokenizer, [r["prompt"] + r["completion"] for r in rows], conversational=conv)
    key = "messages" if loaded.format == "messages" else "text"
    return token_lengths(tokenizer, [r[key] for r in rows], conversational=conv)
