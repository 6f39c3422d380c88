"""``codeja tokenize``: documents -> a Megatron indexed dataset (``PREFIX.bin`` / ``PREFIX.idx``) + sidecar JSON.

* Input: a JSONL(.gz) or Parquet file, or a folder of them (searched recursively, sorted), rows with ``id`` and
  ``text`` (a curate run's ``kept/`` folder works as is), or chats under ``messages`` (SFT data, Magpie output),
  rendered to text by ``messages_render`` (see :class:`MessageRenderer`).
* Each document is encoded with :class:`~codeja.fim.codec.TokenCodec` (no BOS/EOS, no dummy prefix, special
  tokens never parsed from text) and followed by one EOD token; written with megatron-core's
  ``IndexedDatasetBuilder``, one sequence per document.
* Work is split into units of ``docs_per_shard`` rows; each unit is written to ``PREFIX.parts/`` and recorded in
  ``progress.json``, so an interrupted run resumes; ``--workers N`` runs units in N processes. The parts are merged
  in unit order, so the output is byte-identical for any worker count.
* Bad rows (invalid UTF-8 or JSON, missing / non-string / empty text) go to ``PREFIX.quarantine.jsonl`` with file,
  line and reason, and are counted: rows in = documents written + quarantined.
* ``PREFIX.json`` (sidecar): tokenizer name and hashes, EOD id, dtype, document and token counts, and how chats
  were rendered (``messages``).
* ``manifest.json`` in the output folder, through :func:`codeja.runs.stage_run`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from codeja.errors import CodejaError, ConfigError, InputError, ModelNotFoundError
from codeja.fim.codec import TokenCodec
from codeja.fim.config import TokenizeConfig
from codeja.fim.sentinels import resolve_eod
from codeja.io import iter_jsonl, write_jsonl
from codeja.models import load_tokenizer
from codeja.runs import stage_run, write_json
from codeja.train.data import check_messages

SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".parquet")


def list_inputs(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise InputError("input not found", path=str(p))
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(SUFFIXES)
                   and not any(part.startswith(".") for part in f.relative_to(p).parts))
    if not files:
        raise InputError(f"no {', '.join(SUFFIXES)} files in this folder", path=str(p))
    return files


def count_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        # heavy: pyarrow, megatron, torch, transformers (kept out of `codeja --help` and light imports)
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception as e:  # noqa: BLE001 - pyarrow raises many types for a corrupt file
            raise InputError(f"unreadable Parquet: {e}", path=str(path)) from None
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return sum(1 for _ in f)


@dataclass(frozen=True)
class Unit:
    """Rows [start, stop) of one input file (rows are lines for JSONL, row numbers for Parquet)."""

    index: int
    path: str
    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"{self.index:05d}"


def plan_units(files: list[Path], docs_per_shard: int) -> list[Unit]:
    units = []
    for f in files:
        n = count_rows(f)
        for a in range(0, max(n, 1), docs_per_shard):
            units.append(Unit(len(units), str(f), a, min(n, a + docs_per_shard)))
    return units


def iter_rows(unit: Unit, bad: list) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or row number, record) of a unit; malformed JSONL lines are appended to ``bad``."""
    path = Path(unit.path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path).slice(unit.start, unit.stop - unit.start)
        for k, row in enumerate(table.to_pylist()):
            yield unit.start + k + 1, row
        return
    for lineno, obj in iter_jsonl(path, bad=bad):
        # iter_jsonl skips blank lines but numbers them; a unit covers physical lines (start, stop]
        if lineno <= unit.start:
            continue
        if lineno > unit.stop:
            break
        yield lineno, obj
    bad[:] = [b for b in bad if unit.start < b.line <= unit.stop]


def special_tokens(tokenizer: Any) -> dict[str, int]:
    """Every special token of a Hugging Face tokenizer: its text -> its id."""
    out = {t.content: int(i) for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items() if t.special}
    for t in getattr(tokenizer, "all_special_tokens", []):
        tid = tokenizer.convert_tokens_to_ids(t)
        if isinstance(tid, int) and tid >= 0:
            out.setdefault(t, tid)
    return out


class MessageRenderer:
    """A chat (``[{role, content}, ...]``) as one pretraining document.

    ``plain`` (the default) writes each turn as ``<label>: <content>``, the turns separated by a blank line, with
    the labels of ``plain_labels`` (default: the system turn without a label, then ``Question`` / ``Answer``)::

        You are a careful reviewer.

        Question: 文字列を反転する関数を書いてください。

        Answer: def reverse(s):
            return s[::-1]

    It holds no special token of the tokenizer, so a model pretrained on it never learns chat markup from plain
    text. ``chat_template`` renders the tokenizer's own chat template instead (the template's special tokens, such as
    ``<|im_start|>``, become their ids; everything else is encoded like any document). In both, a turn whose
    content itself contains a special-token string (a chat template leaked into synthetic text) is quarantined, not
    silently cleaned. Picklable, for the worker processes.
    """

    def __init__(self, cfg: TokenizeConfig, tokenizer: Any):
        self.mode, self.field = cfg.messages_render, cfg.messages_field
        self.labels = {"system": "", "user": "Question", "assistant": "Answer", **cfg.plain_labels}
        self.specials = special_tokens(tokenizer)
        self._pattern = (re.compile("|".join(re.escape(t) for t in sorted(self.specials, key=len, reverse=True)))
                         if self.specials else None)
        for role, label in self.labels.items():
            if self._pattern and self._pattern.search(label):
                raise ConfigError(f"plain_labels.{role}: '{label}' contains a special token of the tokenizer")
        self.template_sha256 = None
        self.tokenizer = None
        if self.mode == "chat_template":
            template = getattr(tokenizer, "chat_template", None)
            if not template:
                raise ConfigError("messages_render=chat_template: "
                                  f"{getattr(tokenizer, 'name_or_path', 'the tokenizer')}"
                                  " has no chat template (use messages_render=plain)")
            self.tokenizer = tokenizer
            self.template_sha256 = hashlib.sha256(str(template).encode("utf-8")).hexdigest()

    def describe(self) -> dict[str, Any]:
        """What the sidecar records about the rendering."""
        out: dict[str, Any] = {"field": self.field, "render": self.mode}
        if self.mode == "plain":
            out["labels"] = self.labels
            out["layout"] = ("'<label>: <content>' per turn ('<content>' for an empty label), "
                             "turns joined by a blank line")
        else:
            out["chat_template_sha256"] = self.template_sha256
        return out

    def render(self, messages: Any, *, path: str, line: int) -> str:
        """The document text of one chat; raises InputError naming the field of a malformed or leaking turn."""
        msgs = check_messages(messages, path=path, line=line, fld=self.field, need_assistant=True)
        for i, m in enumerate(msgs):
            where = f"{self.field}[{i}].content"
            if not m["content"].strip():
                raise InputError("empty", path=path, line=line, field=where)
            hit = self._pattern.search(m["content"]) if self._pattern else None
            if hit:
                raise InputError(f"contains the special token '{hit.group()}' (leaked chat markup?)",
                                 path=path, line=line, field=where)
        if self.mode == "chat_template":
            return self.tokenizer.apply_chat_template(msgs, tokenize=False)
        return "\n\n".join(f"{self.labels[m['role']]}: {m['content']}" if self.labels[m["role"]] else m["content"]
                            for m in msgs)

    def encode(self, codec: TokenCodec, text: str) -> list[int]:
        """Ids of a rendered chat: plain text as any document; a chat template's special tokens as their ids."""
        if self.mode == "plain" or self._pattern is None:
            return codec.encode_plain(text)
        ids: list[int] = []
        pos = 0
        for m in self._pattern.finditer(text):  # contents hold no special token (checked): these are the template's
            ids.extend(codec.encode_plain(text[pos:m.start()]) if m.start() > pos else [])
            ids.append(self.specials[m.group()])
            pos = m.end()
        return ids + (codec.encode_plain(text[pos:]) if pos < len(text) else [])


def _token_dtype(vocab_size: int):
    from megatron.core.datasets.indexed_dataset import DType

    return DType.optimal_dtype(vocab_size)


def document_text(obj: dict[str, Any], cfg: TokenizeConfig, renderer: MessageRenderer, path: str,
                  line: int) -> tuple[str | None, bool, str | None]:
    """(text, rendered from a chat, quarantine reason) of one row."""
    if cfg.text_field not in obj and cfg.messages_field in obj:
        try:
            return renderer.render(obj[cfg.messages_field], path=path, line=line), True, None
        except InputError as e:
            return None, True, f"field '{e.field}': {e.reason}" if e.field else e.reason
    text = obj.get(cfg.text_field)
    if cfg.text_field not in obj:
        return None, False, (f"missing field '{cfg.text_field}': a row needs '{cfg.text_field}' "
                             f"or '{cfg.messages_field}'")
    if not isinstance(text, str):
        return None, False, f"field '{cfg.text_field}' is {type(text).__name__}, not a string"
    if not text:
        return None, False, f"field '{cfg.text_field}' is empty"
    return text, False, None


def tokenize_unit(unit: Unit, codec: TokenCodec, eod: int, cfg: TokenizeConfig, parts_dir: str,
                  renderer: MessageRenderer) -> dict[str, Any]:
    """Tokenize one unit into ``parts_dir/NNNNN.{bin,idx}`` + ``NNNNN.quarantine.jsonl``; returns its counts."""
    import torch  # noqa: F401 - megatron's builder module imports torch
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    dtype = _token_dtype(codec.vocab_size)
    prefix = Path(parts_dir) / unit.name
    tmp = Path(parts_dir) / f".{unit.name}.tmp{os.getpid()}"
    builder = IndexedDatasetBuilder(f"{tmp}.bin", dtype=dtype)
    bad_lines: list = []
    quarantine: list[dict[str, Any]] = []
    docs = tokens = chats = 0
    batch: list[str] = []

    def add(ids: list[int]) -> None:
        nonlocal docs, tokens
        arr = np.asarray(ids + [eod], dtype=dtype)
        builder.add_document(arr, [arr.size])
        docs += 1
        tokens += arr.size

    def flush() -> None:
        # raw documents: a private-use character that looks like one of the codec's special-token placeholders
        # (icon-font glyphs such as U+F0001) is text, never a special id (U+F0000 would otherwise become an EOD)
        for ids in codec.encode_batch_plain(batch):
            add(ids)
        batch.clear()

    rows = 0
    for line, obj in iter_rows(unit, bad_lines):
        rows += 1
        text, chat, reason = document_text(obj, cfg, renderer, unit.path, line)
        if reason:
            quarantine.append({"path": unit.path, "line": line, "id": obj.get(cfg.id_field), "reason": reason})
            continue
        chats += chat
        if chat and renderer.mode == "chat_template":  # template special tokens: encoded on their own, in order
            flush()
            add(renderer.encode(codec, text))
            continue
        batch.append(text)
        if len(batch) >= cfg.batch_size:
            flush()
    flush()
    for b in bad_lines:
        quarantine.append({"path": b.path, "line": b.line, "id": None, "reason": b.reason})
    builder.finalize(f"{tmp}.idx")
    os.replace(f"{tmp}.bin", f"{prefix}.bin")
    os.replace(f"{tmp}.idx", f"{prefix}.idx")

    write_jsonl(f"{prefix}.quarantine.jsonl", sorted(quarantine, key=lambda q: q["line"]))
    return {"rows": rows + len(bad_lines), "docs": docs, "tokens": tokens, "quarantined": len(quarantine),
            "chats": chats, "reasons": dict(Counter(q["reason"].split(" at ")[0] for q in quarantine))}


def _worker(args: tuple) -> tuple[str, dict[str, Any]]:
    unit, codec, eod, cfg, parts_dir, renderer = args
    return unit.name, tokenize_unit(unit, codec, eod, cfg, parts_dir, renderer)


def load_fim_tokenizer(model: str | Path):
    """The tokenizer of a model (via codeja.models), or of a tokenizer-only folder (tokenizer.json / .model)."""
    p = Path(model)
    if p.is_dir() and not (p / "config.json").exists() and any(
            (p / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(str(p))
        except (OSError, ValueError) as e:
            raise ModelNotFoundError(f"{p}: cannot load a tokenizer: {str(e).splitlines()[0]}") from None
    return load_tokenizer(model)


def tokenize_corpus(cfg: TokenizeConfig, output_prefix: str | Path, *, tokenizer: Any = None,
                    progress: bool = True) -> dict[str, Any]:
    """Tokenize ``cfg.input`` into ``output_prefix``.{bin,idx,json}; returns the summary (also in the sidecar).

    ``tokenizer`` may be passed to skip loading ``cfg.model`` (it must be the same tokenizer).
    """
    prefix = Path(output_prefix)
    if prefix.name == "" or prefix.is_dir():
        raise InputError("output must be a file prefix like out/corpus (PREFIX.bin/.idx are written)", path=str(prefix))
    out_dir = prefix.parent
    tok = tokenizer if tokenizer is not None else load_fim_tokenizer(cfg.model)
    codec = TokenCodec(tok)
    eod, eod_str = resolve_eod(tok, cfg.eod_token)
    renderer = MessageRenderer(cfg, tok)
    files = list_inputs(cfg.input)
    # workers and batch size do not change the output: keep them out of the config hash
    hashed = cfg.model_dump(mode="json", exclude={"workers", "batch_size"})
    hashed.update(output_prefix=prefix.name, tokenizer_hash=codec.tokenizer_hash, eod_id=eod,
                  chat_template_sha256=renderer.template_sha256)
    parts_dir = Path(f"{prefix}.parts")
    with stage_run(out_dir, "tokenize", hashed, inputs=files) as run:
        side_path = Path(f"{prefix}.json")
        if run.skipped and side_path.is_file() and Path(f"{prefix}.bin").is_file():
            return json.loads(side_path.read_text(encoding="utf-8"))
        if not run.done and parts_dir.exists():
            shutil.rmtree(parts_dir)
        parts_dir.mkdir(parents=True, exist_ok=True)
        units = plan_units(files, cfg.docs_per_shard)
        todo = [u for u in units if not run.is_done(u.name)]
        bar = tqdm(total=len(units), initial=len(units) - len(todo), desc="tokenize", unit="shard",
                   disable=not progress)
        jobs = [(u, codec, eod, cfg, str(parts_dir), renderer) for u in todo]
        if cfg.workers > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=min(cfg.workers, len(todo)), mp_context=mp.get_context("spawn")) as ex:
                for name, info in ex.map(_worker, jobs):
                    run.mark_done(name, **info)
                    bar.update(1)
        else:
            for job in jobs:
                name, info = _worker(job)
                run.mark_done(name, **info)
                bar.update(1)
        bar.close()
        summary = _merge(prefix, parts_dir, units, run, codec, eod, eod_str, cfg)
        summary["messages"] = {**renderer.describe(), "rows": summary.pop("chats")}
        if not summary["docs"]:
            # an empty .bin cannot be memory-mapped: every reader (FIM packing, mixtures, Megatron) would fail later
            raise InputError(f"no documents to tokenize: {summary['rows']} rows read, {summary['quarantined']} "
                             f"quarantined (see {prefix}.quarantine.jsonl)", path=cfg.input, field="input")
        if summary["rows"] and summary["quarantined"] / summary["rows"] > cfg.max_quarantine_fraction:
            raise CodejaError(f"{summary['quarantined']} of {summary['rows']} rows quarantined (more than "
                              f"max_quarantine_fraction={cfg.max_quarantine_fraction}); see {prefix}.quarantine.jsonl")
        write_json(side_path, summary)
        run.record(counts={k: summary[k] for k in ("rows", "docs", "tokens", "quarantined")},
                   outputs=[f"{prefix}.bin", f"{prefix}.idx", str(side_path), f"{prefix}.quarantine.jsonl"])
        shutil.rmtree(parts_dir, ignore_errors=True)
        return summary


def _merge(prefix: Path, parts_dir: Path, units: list[Unit], run, codec: TokenCodec, eod: int, eod_str: str,
           cfg: TokenizeConfig) -> dict[str, Any]:
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    dtype = _token_dtype(codec.vocab_size)
    tmp = prefix.with_name(f".{prefix.name}.tmp{os.getpid()}")
    builder = IndexedDatasetBuilder(f"{tmp}.bin", dtype=dtype)
    totals: Counter = Counter()
    reasons: Counter = Counter()
    with open(f"{tmp}.quarantine.jsonl", "wb") as qout:
        for u in units:
            builder.add_index(str(parts_dir / u.name))
            with open(parts_dir / f"{u.name}.quarantine.jsonl", "rb") as q:
                shutil.copyfileobj(q, qout)
            info = run.unit_info(u.name) or {}
            for k in ("rows", "docs", "tokens", "quarantined", "chats"):
                totals[k] += int(info.get(k, 0))
            reasons.update(info.get("reasons", {}))
    builder.finalize(f"{tmp}.idx")
    for ext in ("bin", "idx", "quarantine.jsonl"):
        os.replace(f"{tmp}.{ext}", f"{prefix}.{ext}")
    return {
        "format": "megatron-indexed-dataset",
        "prefix": str(prefix),
        "tokenizer": {"name": codec.name, "kind": codec.kind, "tokenizer_hash": codec.tokenizer_hash,
                      "model_hash": codec.model_hash, "vocab_size": codec.vocab_size,
                      "exact_roundtrip": codec.roundtrip_ok},
        "encoding": "no BOS/EOS, no dummy prefix, special tokens not parsed from text; one EOD after each document",
        "eod_id": eod,
        "eod_token": eod_str,
        "dtype": np.dtype(_token_dtype(codec.vocab_size)).name,
        "rows": totals["rows"],
        "docs": totals["docs"],
        "tokens": totals["tokens"],
        "quarantined": totals["quarantined"],
        "chats": totals["chats"],
        "quarantine_reasons": dict(sorted(reasons.items())),
        "inputs": [str(p) for p in dict.fromkeys(u.path for u in units)],
    }
