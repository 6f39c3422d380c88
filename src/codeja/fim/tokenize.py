"""``codeja tokenize``: documents -> a Megatron indexed dataset (``PREFIX.bin`` / ``PREFIX.idx``) + sidecar JSON.

* Input: a JSONL(.gz) or Parquet file, or a folder of them (searched recursively, sorted), rows with ``id`` and
  ``text`` (a curate run's ``kept/`` folder works as is).
* Each document is encoded with :class:`~codeja.fim.codec.TokenCodec` (no BOS/EOS, no dummy prefix, special
  tokens never parsed from text) and followed by one EOD token; written with megatron-core's
  ``IndexedDatasetBuilder``, one sequence per document.
* Work is split into units of ``docs_per_shard`` rows; each unit is written to ``PREFIX.parts/`` and recorded in
  ``progress.json``, so an interrupted run resumes; ``--workers N`` runs units in N processes. The parts are merged
  in unit order, so the output is byte-identical for any worker count.
* Bad rows (invalid UTF-8 or JSON, missing / non-string / empty text) go to ``PREFIX.quarantine.jsonl`` with file,
  line and reason, and are counted: rows in = documents written + quarantined.
* ``PREFIX.json`` (sidecar): tokenizer name and hashes, EOD id, dtype, document and token counts.
* ``manifest.json`` in the output folder, through :func:`codeja.runs.stage_run`.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from codeja.errors import CodejaError, InputError
from codeja.fim.codec import TokenCodec
from codeja.fim.config import TokenizeConfig
from codeja.fim.sentinels import resolve_eod
from codeja.io import iter_jsonl

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


def _token_dtype(vocab_size: int):
    from megatron.core.datasets.indexed_dataset import DType

    return DType.optimal_dtype(vocab_size)


def tokenize_unit(unit: Unit, codec: TokenCodec, eod: int, cfg: TokenizeConfig, parts_dir: str) -> dict[str, Any]:
    """Tokenize one unit into ``parts_dir/NNNNN.{bin,idx}`` + ``NNNNN.quarantine.jsonl``; returns its counts."""
    import torch  # noqa: F401 - megatron's builder module imports torch
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    dtype = _token_dtype(codec.vocab_size)
    prefix = Path(parts_dir) / unit.name
    tmp = Path(parts_dir) / f".{unit.name}.tmp{os.getpid()}"
    builder = IndexedDatasetBuilder(f"{tmp}.bin", dtype=dtype)
    bad_lines: list = []
    quarantine: list[dict[str, Any]] = []
    docs = tokens = 0
    batch: list[str] = []

    def flush() -> None:
        nonlocal docs, tokens
        # raw documents: a private-use character that looks like one of the codec's special-token placeholders
        # (icon-font glyphs such as U+F0001) is text, never a special id (U+F0000 would otherwise become an EOD)
        for ids in codec.encode_batch_plain(batch):
            arr = np.asarray(ids + [eod], dtype=dtype)
            builder.add_document(arr, [arr.size])
            docs += 1
            tokens += arr.size
        batch.clear()

    rows = 0
    for line, obj in iter_rows(unit, bad_lines):
        rows += 1
        text = obj.get(cfg.text_field)
        reason = None
        if cfg.text_field not in obj:
            reason = f"missing field '{cfg.text_field}'"
        elif not isinstance(text, str):
            reason = f"field '{cfg.text_field}' is {type(text).__name__}, not a string"
        elif not text:
            reason = f"field '{cfg.text_field}' is empty"
        if reason:
            quarantine.append({"path": unit.path, "line": line, "id": obj.get(cfg.id_field), "reason": reason})
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
    from codeja.io import write_jsonl

    write_jsonl(f"{prefix}.quarantine.jsonl", sorted(quarantine, key=lambda q: q["line"]))
    return {"rows": rows + len(bad_lines), "docs": docs, "tokens": tokens, "quarantined": len(quarantine),
            "reasons": dict(Counter(q["reason"].split(" at ")[0] for q in quarantine))}


def _worker(args: tuple) -> tuple[str, dict[str, Any]]:
    unit, codec, eod, cfg, parts_dir = args
    return unit.name, tokenize_unit(unit, codec, eod, cfg, parts_dir)


def load_fim_tokenizer(model: str | Path):
    """The tokenizer of a model (via codeja.models), or of a tokenizer-only folder (tokenizer.json / .model)."""
    from codeja.errors import ModelNotFoundError
    from codeja.models import load_tokenizer

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
    from tqdm import tqdm

    from codeja.runs import stage_run, write_json

    prefix = Path(output_prefix)
    if prefix.name == "" or prefix.is_dir():
        raise InputError("output must be a file prefix like out/corpus (PREFIX.bin/.idx are written)", path=str(prefix))
    out_dir = prefix.parent
    tok = tokenizer if tokenizer is not None else load_fim_tokenizer(cfg.model)
    codec = TokenCodec(tok)
    eod, eod_str = resolve_eod(tok, cfg.eod_token)
    files = list_inputs(cfg.input)
    # workers and batch size do not change the output: keep them out of the config hash
    hashed = cfg.model_dump(mode="json", exclude={"workers", "batch_size"})
    hashed.update(output_prefix=prefix.name, tokenizer_hash=codec.tokenizer_hash, eod_id=eod)
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
        bar = tqdm(total=len(units), initial=len(units) - len(todo), desc="tokenize", unit="shard", disable=not progress)
        jobs = [(u, codec, eod, cfg, str(parts_dir)) for u in todo]
        if cfg.workers > 1 and len(todo) > 1:
            import multiprocessing as mp

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
            for k in ("rows", "docs", "tokens", "quarantined"):
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
        "quarantine_reasons": dict(sorted(reasons.items())),
        "inputs": [str(p) for p in dict.fromkeys(u.path for u in units)],
    }
