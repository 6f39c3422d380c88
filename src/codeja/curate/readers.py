"""datatrove readers that never lose a row: bad rows become quarantine documents instead of warnings.

datatrove's own ``JsonlReader`` logs and skips malformed lines, which breaks the accounting (in = kept + removed +
quarantined). These readers decode every row themselves and yield either a normal Document or one marked with
``metadata["quarantine"] = {"file", "line", "reason"}``; :class:`codeja.curate.filters.QuarantineGate` routes the
latter to ``quarantine/``. Each reader also counts the raw records it saw (stat ``records_in``), the independent
side of the accounting check.

Users' corpora come in many layouts; one :class:`_RecordMapper` turns any record into a Document through the
source's field mapping (``text_field``, ``id_field``, ``metadata_field``, ``keep_fields``, the code fields, or a
``layout`` preset), with the text taken from the row or joined from elsewhere (``content``: The Stack v2's
files named by ``blob_id``, or a table). :func:`check_source` checks that mapping against the data before anything
runs, so a wrong mapping is one error naming the file, the field and the fields that exist, not a run in which
every row is quarantined.
"""

from __future__ import annotations

import contextlib
import datetime
import fnmatch
import gzip
import hashlib
import json
import os
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseDiskReader, BaseReader

from codeja.codeparse import canonical_language, language_from_path
from codeja.curate.config import SourceConfig
from codeja.errors import InputError
from codeja.hub_datasets import column_names, load, parse_ref, pin_revision
from codeja.io import parse_line
from codeja.runs import hash_path, sha256_file

QUARANTINE_KEY = "quarantine"
_RAW_KEEP = 1000  # characters of a bad row kept in the quarantine record
_CHECK_RECORDS = 20  # JSONL records per file read by check_source


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def resolve_source_path(src: SourceConfig) -> Path:
    return stdlib_root() if (src.kind == "files" and src.path == "stdlib") else Path(src.path)


def _jsonable(v: Any) -> Any:
    """Parquet and datasets hand over dates, bytes and numpy scalars; metadata must survive a JSON writer."""
    if isinstance(v, (str, int, float, bool, type(None))):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return str(v)


def _raw(obj: dict) -> str:
    return json.dumps(_jsonable(obj), ensure_ascii=False)[:_RAW_KEEP]


# ---------------------------------------------------------------------------------------------------------------
# record -> Document


class _RecordMapper:
    """The field mapping of one source: record -> Document, or a quarantine Document naming the field at fault."""

    src: SourceConfig
    max_doc_bytes: int
    _content: dict[str, str] | None = None  # content table rows this task needs (content.kind parquet/jsonl)

    def _quarantine(self, filepath: str, line: int, reason: str, raw: str) -> Document:
        return Document(text=raw[:_RAW_KEEP], id=f"{self.src.name}:{filepath}:{line}",
                        metadata={"source": self.src.name, "domain": self.src.resolved_domain,
                                  QUARANTINE_KEY: {"file": filepath, "line": line, "reason": reason}})

    def _text(self, obj: dict) -> tuple[str | None, str | None]:
        """(text, None) or (None, reason)."""
        c = self.src.content
        if c is None:
            field = self.src.resolved_text_field
            if field not in obj:
                return None, f"missing text field '{field}'"
            text = obj[field]
            if not isinstance(text, str):
                return None, f"field '{field}': expected a string, got {type(text).__name__}"
            return text, None
        key_field = c.key_field or self.src.id_field
        key = obj.get(key_field)
        if key is None or key == "":
            return None, f"missing key field: '{key_field}' (content is joined on it)"
        if c.kind != "files":
            text = (self._content or {}).get(str(key))
            return (text, None) if text is not None else (None, f"no content row: {c.id_field}={key} not in {c.path}")
        try:
            name = c.file_template.format(key=key, **obj)
        except (KeyError, IndexError, ValueError) as e:
            return None, f"bad content.file_template: '{c.file_template}' ({type(e).__name__}: {e})"
        path = Path(c.path) / name
        try:
            with open(path, "rb") as f:
                head = f.read(2)
                f.seek(0)
                with (gzip.open(f) if head == b"\x1f\x8b" else contextlib.nullcontext(f)) as g:
                    data = g.read(self.max_doc_bytes + 1)
        except OSError as e:
            return None, f"missing content file: {name} ({e.strerror or type(e).__name__})"
        if len(data) > self.max_doc_bytes:
            return None, f"document too large: more than {self.max_doc_bytes} bytes (content file {name})"
        encoding = (obj.get(c.encoding_field) if c.encoding_field else None) or "utf-8"
        try:
            return data.decode(encoding), None
        except LookupError:
            return None, f"unknown encoding: '{encoding}' (field '{c.encoding_field}', content file {name})"
        except UnicodeDecodeError as e:
            return None, f"undecodable content: content file {name} is not valid {encoding} (byte {e.start})"

    def _from_record(self, obj: dict, filepath: str, line: int, raw: str) -> Document:
        text, problem = self._text(obj)
        if problem:
            return self._quarantine(filepath, line, problem, raw)
        if not text.strip():
            return self._quarantine(filepath, line, f"field '{self.src.resolved_text_field}': empty text", raw)
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.max_doc_bytes:
            return self._quarantine(filepath, line, f"document too large: {size} bytes > {self.max_doc_bytes}", text)
        meta = {"source": self.src.name, "domain": self.src.resolved_domain, "file": filepath, "line": line}
        extra = obj.get(self.src.metadata_field) if self.src.metadata_field else None
        if isinstance(extra, str):  # some corpora store metadata as a JSON string
            with contextlib.suppress(json.JSONDecodeError):
                extra = json.loads(extra)
        if isinstance(extra, dict):
            meta = {**_jsonable(extra), **meta}
        for f in self.src.keep_fields:
            if obj.get(f) is not None:
                meta[f] = _jsonable(obj[f])
        if self.src.resolved_domain == "code":
            for key, f in (("path", self.src.path_field), ("repo", self.src.repo_field),
                           ("license", self.src.license_field)):
                if obj.get(f) is not None:
                    meta[key] = _jsonable(obj[f])
            lang = obj.get(self.src.lang_field)
            meta["language"] = (canonical_language(lang) if isinstance(lang, str)
                                else language_from_path(str(meta.get("path", ""))))
        doc_id = obj.get(self.src.id_field)
        return Document(text=text, id=str(doc_id) if doc_id is not None else f"{self.src.name}:{filepath}:{line}",
                        metadata=meta)

    def _load_content(self, keys: set[str]) -> None:
        """Load the content-table rows whose id is in ``keys`` (only this task's rows: memory follows the shard)."""
        c = self.src.content
        if c is None or c.kind == "files":
            return
        found: dict[str, str] = {}
        for f in _list(Path(c.path), "**/*.parquet" if c.kind == "parquet" else "**/*.jsonl*"):
            for obj in _iter_table(Path(c.path) / f if Path(c.path).is_dir() else Path(c.path), c.kind,
                                   [c.id_field, c.text_field]):
                k = obj.get(c.id_field)
                if k is not None and str(k) in keys and isinstance(obj.get(c.text_field), str):
                    found[str(k)] = obj[c.text_field]
        self._content = found


# ---------------------------------------------------------------------------------------------------------------
# file sources


class _CodejaReader(_RecordMapper, BaseDiskReader):
    def __init__(self, src: SourceConfig, max_doc_bytes: int, progress: bool = False):
        root = resolve_source_path(src)
        folder, glob = (str(root.parent), root.name) if root.is_file() else (str(root), src.glob or self.default_glob)
        super().__init__(folder, glob_pattern=glob, file_progress=progress, doc_progress=False,
                         limit=src.limit if src.kind != "files" and src.limit else -1, add_file_path=False)
        self.src = src
        self.max_doc_bytes = max_doc_bytes

    default_glob = "**/*.jsonl*"

    def all_files(self) -> list[str]:
        """Files read, relative to the data folder, sorted (``subsets`` restrict the walk to those sub-folders)."""
        root = Path(self.data_folder.path)
        if resolve_source_path(self.src).is_file():
            return [self.glob_pattern]
        files = []
        for sub in self.src.subsets or [""]:
            files += [f"{sub}/{f}" if sub else f for f in _walk(root / sub, self.glob_pattern or "**/*")]
        return sorted(files)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        shard = self.all_files()[rank::world_size]
        if self.src.content is not None and self.src.content.kind != "files":
            self._load_content(self._shard_keys(shard))
        for doc in self.read_files_shard(shard):
            self.update_doc_stats(doc)
            yield doc

    def _shard_keys(self, shard: list[str]) -> set[str]:
        key_field = self.src.content.key_field or self.src.id_field
        return {str(obj[key_field]) for f in shard
                for obj in _iter_table(Path(self.data_folder.path) / f, self.table_kind, [key_field])
                if obj.get(key_field) is not None}

    table_kind = "jsonl"

    def fingerprint(self, work: Path) -> Path:
        """A listing of the files read with their sha256 (what the manifest hashes as this source's input)."""
        root = Path(self.data_folder.path)
        listing = work / f"{self.src.name}.files.tsv"
        listing.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{f}\t{sha256_file(root / f)}\n" for f in self.all_files()]
        if self.src.content is not None:
            lines.append(f"content:{self.src.content.path}\t{hash_path(self.src.content.path)}\n")
        listing.write_text("".join(lines), encoding="utf-8")
        return listing

    def fields(self, filepath: str) -> list[str] | None:
        """Field names of a file (None when none could be read: a file of only bad rows is the quarantine's job)."""
        return _table_fields(Path(self.data_folder.path) / filepath, self.table_kind)


class JsonlSourceReader(_CodejaReader):
    """JSONL(.gz) records: code corpora in The Stack layout, web text (llm-jp-corpus, Swallow corpus) or any mapping."""

    name = "codeja jsonl"

    def read_file(self, filepath: str) -> DocumentsPipeline:
        cap = 6 * self.max_doc_bytes + 4096  # a JSON line can be up to ~6x its text (\uXXXX escapes)
        with self.data_folder.open(filepath, "rb") as raw_f, \
                (gzip.open(raw_f) if filepath.endswith(".gz") else contextlib.nullcontext(raw_f)) as f:
            for lineno, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                self.stat_update("records_in")
                with self.track_time():
                    if len(raw) > cap:
                        yield self._quarantine(filepath, lineno, f"line too large: {len(raw)} bytes",
                                               raw[:_RAW_KEEP].decode("utf-8", "replace"))
                        continue
                    obj, reason, text = parse_line(raw)
                    if reason is not None:
                        yield self._quarantine(filepath, lineno, reason, text)
                        continue
                    doc = self._from_record(obj, filepath, lineno, text)
                yield doc


class ParquetSourceReader(_CodejaReader):
    """Parquet records (The Stack v1/v2, FineWeb-2, ...); the row number (1-based) plays the role of the line."""

    name = "codeja parquet"
    default_glob = "**/*.parquet"
    table_kind = "parquet"

    def read_file(self, filepath: str) -> DocumentsPipeline:
        # heavy: pyarrow, datasets (kept out of `codeja --help` and light imports)
        import pyarrow.parquet as pq

        with self.data_folder.open(filepath, "rb") as f:
            pf = pq.ParquetFile(f)
            row = 0
            for batch in pf.iter_batches(batch_size=1000):
                for obj in batch.to_pylist():
                    row += 1
                    self.stat_update("records_in")
                    yield self._from_record(obj, filepath, row, _raw(obj))


class FilesSourceReader(_CodejaReader):
    """One document per file under a folder; ``path: stdlib`` reads the running interpreter's standard library.

    With ``limit``, files are sampled deterministically: ordered by sha1(seed:relative path), the first ``limit``
    kept, so the sample does not depend on the number of tasks or on the file system's listing order.
    """

    name = "codeja files"
    default_glob = "**/*"

    def __init__(self, src: SourceConfig, max_doc_bytes: int, progress: bool = False):
        if src.path == "stdlib" and not src.glob:
            src = src.model_copy(update={"glob": "**/*.py"})
        super().__init__(src, max_doc_bytes, progress)

    def all_files(self) -> list[str]:
        files = super().all_files()
        if self.src.limit and len(files) > self.src.limit:
            def key(f):
                return hashlib.sha1(f"{self.src.seed}:{f}".encode()).hexdigest()

            files = sorted(sorted(files, key=key)[: self.src.limit])
        return files

    def read_file(self, filepath: str) -> DocumentsPipeline:
        self.stat_update("records_in")
        with self.data_folder.open(filepath, "rb") as f:
            raw = f.read(self.max_doc_bytes + 1)
        if len(raw) > self.max_doc_bytes:
            yield self._quarantine(filepath, 1, f"document too large: more than {self.max_doc_bytes} bytes",
                                   raw[:_RAW_KEEP].decode("utf-8", "replace"))
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield self._quarantine(filepath, 1, f"invalid UTF-8 at byte {e.start}", raw.decode("utf-8", "replace"))
            return
        obj = {self.src.resolved_text_field: text, self.src.path_field: filepath}
        yield self._from_record(obj, filepath, 1, text[:_RAW_KEEP])

    def fields(self, filepath: str) -> list[str] | None:
        return None  # the record is built here, nothing to map


# ---------------------------------------------------------------------------------------------------------------
# Hugging Face datasets


class HubSourceReader(_RecordMapper, BaseReader):
    """A ``datasets`` split (hub id, ``save_to_disk`` folder or folder of data files) read through
    :mod:`codeja.hub_datasets`. Rows are split between tasks in contiguous ranges, so the row number (1-based, over
    the whole split) plays the role of the line; a streamed split is split by shard and numbered within the task.
    The Hub revision is pinned once, here in the launching process, so every task reads the same commit.
    """

    name = "codeja hf"

    def __init__(self, src: SourceConfig, max_doc_bytes: int, progress: bool = False):
        super().__init__()
        self.src, self.max_doc_bytes = src, max_doc_bytes
        ref = parse_ref(src.path, src.hub)
        if ref is None:
            raise InputError(f"source '{src.name}': not a local dataset file or folder, and not a hub id of the "
                             "form owner/name[@revision]", path=src.path)
        self.hub = pin_revision(ref)

    def dataset(self):
        ds = load(self.hub)
        if self.src.limit:
            ds = ds.take(self.src.limit) if self.hub.opts.streaming else ds.select(range(min(self.src.limit, len(ds))))
        return ds

    def _rows(self, ds, rank: int, world_size: int) -> Iterator[tuple[int | str, dict]]:
        if self.hub.opts.streaming:
            from datasets.distributed import split_dataset_by_node

            shard = split_dataset_by_node(ds, rank=rank, world_size=world_size) if world_size > 1 else ds
            for i, obj in enumerate(shard, start=1):
                yield (f"{rank}/{i}" if world_size > 1 else i), obj
            return
        n = len(ds)
        start = rank * (n // world_size) + min(rank, n % world_size)
        stop = start + n // world_size + (1 if rank < n % world_size else 0)
        i = start
        for batch in ds.select(range(start, stop)).iter(batch_size=1000):
            for values in zip(*batch.values()):
                i += 1
                yield i, dict(zip(batch, values))

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        ds = self.dataset()
        rows = list(self._rows(ds, rank, world_size)) if self.src.content and self.src.content.kind != "files" \
            else self._rows(ds, rank, world_size)
        if self.src.content is not None and self.src.content.kind != "files":
            key_field = self.src.content.key_field or self.src.id_field
            self._load_content({str(o[key_field]) for _, o in rows if o.get(key_field) is not None})
        for line, obj in rows:
            self.stat_update("records_in")
            with self.track_time():
                doc = self._from_record(obj, self.hub.label, line, _raw(obj))
            self.update_doc_stats(doc)
            yield doc

    def fingerprint(self, work: Path) -> Path:
        """The pinned dataset description (commit, rows, datasets' fingerprint) that the manifest hashes."""
        ds = self.dataset()
        info = {**self.hub.describe(), "fingerprint": getattr(ds, "_fingerprint", None)}
        if not self.hub.opts.streaming:
            info["rows"] = len(ds)
        path = work / f"{self.src.name}.hub.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
        return path


# ---------------------------------------------------------------------------------------------------------------
# listing and raw tables


_PRUNE = {"site-packages", "dist-packages", "__pycache__", "node_modules"}


def _walk(root: Path, glob: str) -> list[str]:
    """Relative paths under ``root`` matching ``glob``, pruning installed packages and hidden folders while walking
    (the stdlib folder holds site-packages: listing it first and filtering after costs tens of seconds)."""
    name_only = glob[3:] if glob.startswith("**/") else None
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _PRUNE and not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, root)
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if fnmatch.fnmatch(name, name_only) if name_only else fnmatch.fnmatch(rel, glob):
                out.append(rel)
    return out


def _list(path: Path, glob: str) -> list[str]:
    return [path.name] if path.is_file() else sorted(_walk(path, glob))


def _iter_table(path: Path, kind: str, columns: list[str] | None, limit: int | None = None) -> Iterator[dict]:
    """Records of a Parquet or JSONL(.gz) file (only ``columns`` when given); malformed JSONL lines are skipped
    here: this is for looking up keys and fields, the readers themselves quarantine bad lines."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        cols = [c for c in columns if c in pf.schema_arrow.names] if columns else None
        n = 0
        for batch in pf.iter_batches(batch_size=10_000, columns=cols):
            for obj in batch.to_pylist():
                yield obj
                n += 1
                if limit and n >= limit:
                    return
        return
    n = 0
    with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as f:
        for raw in f:
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict):
                yield obj
                n += 1
                if limit and n >= limit:
                    return


def _table_fields(path: Path, kind: str) -> list[str] | None:
    """Column names of a Parquet file, or the keys of a JSONL file's first records (None when none parse)."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception as e:  # noqa: BLE001 - pyarrow raises many types for a corrupt file
            raise InputError(f"unreadable Parquet: {e}", path=str(path)) from None
    seen: dict[str, None] = {}
    for obj in _iter_table(path, kind, None, _CHECK_RECORDS):
        seen.update(dict.fromkeys(obj))
    return list(seen) or None


# ---------------------------------------------------------------------------------------------------------------
# entry points


READERS = {"jsonl": JsonlSourceReader, "webtext": JsonlSourceReader, "parquet": ParquetSourceReader,
           "files": FilesSourceReader, "hf": HubSourceReader}


def make_reader(src: SourceConfig, max_doc_bytes: int, progress: bool = False) -> _CodejaReader | HubSourceReader:
    if src.kind != "hf":
        root = resolve_source_path(src)
        if not root.exists():
            raise InputError(f"source '{src.name}': path not found", path=str(root))
        for sub in src.subsets:
            if not (root / sub).is_dir():
                subs = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
                raise InputError(f"source '{src.name}': no sub-folder '{sub}' (subsets); folders here: "
                                 f"{', '.join(subs[:30]) or 'none'}", path=str(root))
    return READERS[src.kind](src, max_doc_bytes, progress)


def _missing_text_hint(src: SourceConfig, fields: list[str]) -> str:
    if src.layout == "stack-v2" or "blob_id" in fields:
        return ("; The Stack v2 rows name files by blob_id and carry no text: add content: {path: FOLDER} with the "
                "downloaded files (or kind: parquet for a table of blob_id + content), see docs/data-formats.md")
    guesses = [f for f in ("text", "content", "code", "body", "document") if f in fields]
    return f"; set text_field (e.g. text_field: {guesses[0]})" if guesses else "; set text_field to the text column"


def check_source(src: SourceConfig, max_doc_bytes: int = 2_000_000) -> None:
    """Check the source's field mapping against its data before the run: every file must have the text field (or
    the content key), and every field the config names explicitly must exist. Raises one InputError naming the
    file, the field and the fields that exist."""
    reader = make_reader(src, max_doc_bytes)
    if isinstance(reader, HubSourceReader):
        ds = reader.dataset()
        cols = column_names(ds) or list(next(iter(ds), {}))
        _check_fields(src, reader.hub.label, cols)
    else:
        files = reader.all_files()
        if not files:
            raise InputError(f"source '{src.name}': no files match '{reader.glob_pattern}'",
                             path=str(resolve_source_path(src)))
        for f in files:
            cols = reader.fields(f)
            if cols is not None:
                _check_fields(src, str(Path(reader.data_folder.path) / f), cols)
    c = src.content
    if c is not None:
        where = Path(c.path)
        if not where.exists() or (c.kind == "files" and not where.is_dir()):
            raise InputError(f"source '{src.name}': content.path is not a "
                             f"{'folder' if c.kind == 'files' else 'file or folder'}", path=str(where))
        if c.kind != "files":
            tables = _list(where, "**/*.parquet" if c.kind == "parquet" else "**/*.jsonl*")
            if not tables:
                raise InputError(f"source '{src.name}': no {c.kind} files in content.path", path=str(where))
            for t in tables:
                p = where / t if where.is_dir() else where
                cols = _table_fields(p, c.kind)
                for need in (c.id_field, c.text_field):
                    if cols and need not in cols:
                        raise InputError(f"source '{src.name}': content table has no field '{need}'; fields: "
                                         f"{', '.join(cols)}", path=str(p))


def _check_fields(src: SourceConfig, where: str, cols: list[str]) -> None:
    have = ", ".join(cols) if cols else "none"
    if src.content is None:
        if src.resolved_text_field not in cols:
            raise InputError(f"source '{src.name}': no text field '{src.resolved_text_field}'; fields: {have}"
                             + _missing_text_hint(src, cols), path=where)
    else:
        key = src.content.key_field or src.id_field
        if key not in cols:
            raise InputError(f"source '{src.name}': no field '{key}' to join content on; fields: {have}", path=where)
    for what, name in src.explicit_fields().items():
        if name not in cols:
            raise InputError(f"source '{src.name}': no field '{name}' ({what}); fields: {have}", path=where)


def check_sources(cfg) -> None:
    """:func:`check_source` for every source of a CurateConfig (the curate run's first step, and its dry-run)."""
    for src in cfg.sources:
        check_source(src, cfg.quarantine.max_doc_bytes)


__all__ = ["QUARANTINE_KEY", "FilesSourceReader", "HubSourceReader", "JsonlSourceReader", "ParquetSourceReader",
           "check_source", "check_sources", "make_reader"]
