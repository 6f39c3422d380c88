"""datatrove readers that never lose a row: bad rows become quarantine documents instead of warnings.

datatrove's own ``JsonlReader`` logs and skips malformed lines, which breaks the accounting (in = kept + removed +
quarantined). These readers decode every row themselves and yield either a normal Document or one marked with
``metadata["quarantine"] = {"file", "line", "reason"}``; :class:`codeja.curate.filters.QuarantineGate` routes the
latter to ``quarantine/``. Each reader also counts the raw records it saw (stat ``records_in``), the independent
side of the accounting check.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import sysconfig
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseDiskReader

from codeja.codeparse import canonical_language, language_from_path
from codeja.curate.config import SourceConfig

QUARANTINE_KEY = "quarantine"
_RAW_KEEP = 1000  # characters of a bad row kept in the quarantine record


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def resolve_source_path(src: SourceConfig) -> Path:
    return stdlib_root() if (src.kind == "files" and src.path == "stdlib") else Path(src.path)


class _CodejaReader(BaseDiskReader):
    def __init__(self, src: SourceConfig, max_doc_bytes: int, progress: bool = False):
        root = resolve_source_path(src)
        folder, glob = (str(root.parent), root.name) if root.is_file() else (str(root), src.glob or self.default_glob)
        super().__init__(folder, glob_pattern=glob, file_progress=progress, doc_progress=False,
                         limit=src.limit if src.kind != "files" and src.limit else -1, add_file_path=False)
        self.src = src
        self.max_doc_bytes = max_doc_bytes

    default_glob = "**/*.jsonl*"

    def _quarantine(self, filepath: str, line: int, reason: str, raw: str) -> Document:
        return Document(text=raw[:_RAW_KEEP], id=f"{self.src.name}:{filepath}:{line}",
                        metadata={"source": self.src.name, "domain": self.src.resolved_domain,
                                  QUARANTINE_KEY: {"file": filepath, "line": line, "reason": reason}})

    def _from_record(self, obj: dict, filepath: str, line: int, raw: str) -> Document:
        """Map a record to a Document, or a quarantine Document naming the field at fault."""
        field = self.src.resolved_text_field
        text = obj.get(field)
        if field not in obj:
            return self._quarantine(filepath, line, f"missing text field '{field}'", raw)
        if not isinstance(text, str):
            return self._quarantine(filepath, line, f"field '{field}': expected a string, got {type(text).__name__}", raw)
        if not text.strip():
            return self._quarantine(filepath, line, f"field '{field}': empty text", raw)
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.max_doc_bytes:
            return self._quarantine(filepath, line, f"document too large: {size} bytes > {self.max_doc_bytes}", text)
        meta = {"source": self.src.name, "domain": self.src.resolved_domain, "file": filepath, "line": line}
        if self.src.kind == "webtext":
            extra = obj.get("metadata")
            if isinstance(extra, dict):
                meta = {**extra, **meta}
        else:
            for key, f in (("path", self.src.path_field), ("repo", self.src.repo_field), ("license", self.src.license_field)):
                if obj.get(f) is not None:
                    meta[key] = obj[f]
            lang = obj.get(self.src.lang_field)
            meta["language"] = canonical_language(lang) if isinstance(lang, str) else language_from_path(str(meta.get("path", "")))
        doc_id = obj.get(self.src.id_field)
        return Document(text=text, id=str(doc_id) if doc_id is not None else f"{self.src.name}:{filepath}:{line}", metadata=meta)


class JsonlSourceReader(_CodejaReader):
    """Code corpora in The Stack layout (``content``, ``path``, ``lang``, ``repo``, ``license``) or web text JSONL."""

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
                        yield self._quarantine(filepath, lineno, f"line too large: {len(raw)} bytes", raw[:_RAW_KEEP].decode("utf-8", "replace"))
                        continue
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        yield self._quarantine(filepath, lineno, f"invalid UTF-8 at byte {e.start}", raw.decode("utf-8", "replace"))
                        continue
                    try:
                        obj = json.loads(text)
                    except json.JSONDecodeError as e:
                        yield self._quarantine(filepath, lineno, f"invalid JSON: {e.msg} at column {e.colno}", text)
                        continue
                    if not isinstance(obj, dict):
                        yield self._quarantine(filepath, lineno, f"expected a JSON object, got {type(obj).__name__}", text)
                        continue
                    doc = self._from_record(obj, filepath, lineno, text)
                yield doc


class ParquetSourceReader(_CodejaReader):
    """Parquet code corpora; the row number (1-based) plays the role of the line."""

    name = "codeja parquet"
    default_glob = "**/*.parquet"

    def read_file(self, filepath: str) -> DocumentsPipeline:
        import pyarrow.parquet as pq

        with self.data_folder.open(filepath, "rb") as f:
            pf = pq.ParquetFile(f)
            row = 0
            for batch in pf.iter_batches(batch_size=1000):
                for obj in batch.to_pylist():
                    row += 1
                    self.stat_update("records_in")
                    raw = json.dumps({k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v)) for k, v in obj.items()},
                                     ensure_ascii=False)[:_RAW_KEEP]
                    yield self._from_record(obj, filepath, row, raw)


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
        files = sorted(_walk(Path(self.data_folder.path), self.glob_pattern or "**/*"))
        if self.src.limit and len(files) > self.src.limit:
            key = lambda f: hashlib.sha1(f"{self.src.seed}:{f}".encode()).hexdigest()
            files = sorted(sorted(files, key=key)[: self.src.limit])
        return files

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        for doc in self.read_files_shard(self.all_files()[rank::world_size]):
            self.update_doc_stats(doc)
            yield doc

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
        obj = {self.src.resolved_text_field: text, "path": filepath}
        yield self._from_record(obj, filepath, 1, text[:_RAW_KEEP])


_PRUNE = {"site-packages", "dist-packages", "__pycache__", "node_modules"}


def _walk(root: Path, glob: str) -> list[str]:
    """Relative paths under ``root`` matching ``glob``, pruning installed packages and hidden folders while walking
    (the stdlib folder holds site-packages: listing it first and filtering after costs tens of seconds)."""
    import fnmatch
    import os

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


READERS = {"jsonl": JsonlSourceReader, "webtext": JsonlSourceReader, "parquet": ParquetSourceReader,
           "files": FilesSourceReader}


def make_reader(src: SourceConfig, max_doc_bytes: int, progress: bool = False) -> _CodejaReader:
    root = resolve_source_path(src)
    if not root.exists():
        from codeja.errors import InputError

        raise InputError(f"source '{src.name}': path not found", path=str(root))
    return READERS[src.kind](src, max_doc_bytes, progress)


__all__ = ["QUARANTINE_KEY", "FilesSourceReader", "JsonlSourceReader", "ParquetSourceReader", "make_reader"]
