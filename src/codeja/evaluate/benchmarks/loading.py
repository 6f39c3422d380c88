"""Where a benchmark's rows come from: the packaged copy (the default), a local file, or ``hub:ID@REVISION``.

Every loader takes the same ``path`` argument (``--data`` on the command line, ``benchmark_paths`` in an eval
config):

- ``None``: the copy shipped inside the package (``codeja.paths.benchmark_file``), offline and hashed;
- a local file: JSONL, JSONL.gz or Parquet in the upstream schema (what ``datasets.Dataset.to_json`` /
  ``to_parquet`` of the hub copy writes);
- ``hub:ID@REVISION``: ``datasets.load_dataset(ID, <config>, split=<split>, revision=REVISION)``. ``hub:ID``
  and ``hub:`` take the benchmark's pinned revision (and id); a revision is never left floating, because a
  score means nothing without its data. Where codeja could not pin a revision, the user names it.

The :class:`Source` of every load records the hub id, revision, config and a sha256 of the data (of the file,
or of the rows in canonical JSON for hub data), so ``eval compare`` can refuse to rank runs on different data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeja.errors import InputError
from codeja.evaluate.benchmarks.base import Source, read_rows, source_for

HUB_PREFIX = "hub:"
# Hugging Face repository ids: "name" or "owner/name" (letters, digits, - _ .)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass(frozen=True)
class HubDefault:
    """A benchmark's dataset on the hub: id, pinned revision (None: none verified), config and split."""

    id: str | None
    revision: str | None
    config: str | None = None
    split: str = "test"


@dataclass(frozen=True)
class HubRef:
    """A resolved ``hub:`` spec: exactly what ``datasets.load_dataset`` is called with."""

    id: str
    revision: str
    config: str | None = None
    split: str = "test"

    @property
    def spec(self) -> str:
        return f"{HUB_PREFIX}{self.id}@{self.revision}" + (f" (config {self.config})" if self.config else "")


def is_hub(path: str | Path | None) -> bool:
    return isinstance(path, str) and path.startswith(HUB_PREFIX)


def parse_hub(spec: str, default: HubDefault, *, benchmark: str) -> HubRef:
    """``hub:`` / ``hub:ID`` / ``hub:ID@REVISION`` / ``hub:@REVISION`` resolved against ``default``."""
    if not is_hub(spec):
        raise InputError(f"{benchmark}: '{spec}' is not a hub spec (hub:ID@REVISION)")
    body = spec[len(HUB_PREFIX):].strip()
    if body.count("@") > 1:
        raise InputError(f"{benchmark}: '{spec}': more than one '@' (expected hub:ID@REVISION)")
    hub_id, at, revision = body.partition("@")
    hub_id = hub_id.strip() or default.id or ""
    revision = revision.strip()
    if not hub_id:
        raise InputError(f"{benchmark}: no hub dataset is known for this benchmark; name one: "
                         "hub:<owner/name>@<revision>")
    if not _HUB_ID.match(hub_id):
        raise InputError(f"{benchmark}: '{hub_id}' is not a Hugging Face dataset id (owner/name)")
    if at and not revision:
        raise InputError(f"{benchmark}: '{spec}': empty revision after '@' (a commit sha or tag)")
    if re.search(r"\s", revision):
        raise InputError(f"{benchmark}: '{spec}': a revision has no whitespace")
    if not revision:
        if hub_id == default.id and default.revision:
            revision = default.revision
        elif hub_id == default.id:
            raise InputError(f"{benchmark}: codeja pins no revision of {hub_id} (none could be verified); "
                             f"name one: hub:{hub_id}@<commit sha>, or leave --data out (packaged copy)")
        else:
            raise InputError(f"{benchmark}: name the revision of {hub_id}: hub:{hub_id}@<commit sha>")
    config = default.config if hub_id == default.id else None
    return HubRef(hub_id, revision, config, default.split)


def rows_sha256(rows: Iterable[dict[str, Any]]) -> str:
    """sha256 of rows as canonical JSON lines: the same rows give the same hash on every machine."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8") + b"\n")
    return h.hexdigest()


def load_hub_rows(ref: HubRef, required: Iterable[str], *,
                  benchmark: str) -> tuple[list[dict[str, Any]], Source]:
    """Rows of a hub dataset at a fixed revision; every failure becomes one InputError naming the spec."""
    try:
        # heavy: datasets (kept out of `codeja --help` and light imports)
        import datasets

        ds = datasets.load_dataset(ref.id, ref.config, split=ref.split, revision=ref.revision)
    except Exception as e:  # noqa: BLE001 - offline, unknown revision, missing config: one clear message
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{benchmark}: could not load {ref.spec}, split {ref.split}: {reason}. Leave --data "
                         "out for the packaged copy, or pass a local JSONL/Parquet file") from None
    rows = [dict(r) for r in ds]
    if not rows:
        raise InputError(f"{benchmark}: {ref.spec} split {ref.split} has no rows")
    for i, r in enumerate(rows, 1):
        for f in required:
            if f not in r:
                raise InputError("missing", path=ref.spec, line=i, field=f)
    return rows, Source(ref.id, ref.revision, None, rows_sha256(rows), ref.config)


def load_records(path: str | Path | None, *, benchmark: str, default_file: Callable[[], Path] | None,
                 hub: HubDefault, required: Iterable[str]) -> tuple[list[dict[str, Any]], Source]:
    """The rows of a benchmark from ``path`` (None: the packaged copy; a file; ``hub:ID@REVISION``)."""
    required = tuple(required)
    if is_hub(path):
        return load_hub_rows(parse_hub(str(path), hub, benchmark=benchmark), required, benchmark=benchmark)
    if path is None and default_file is None:
        where = ("hub:" if hub.revision else f"hub:{hub.id}@<revision>") if hub.id else "hub:<id>@<revision>"
        raise InputError(f"{benchmark}: the data is on the hub only (codeja ships no copy); pass '{where}' "
                         "or a local JSONL/Parquet file in the same schema (--data)")
    p = Path(path) if path is not None else default_file()
    rows = [r for _, r in read_rows(p, required)]
    return rows, source_for(p, hub.id)
