"""Datasets named by a Hugging Face Hub id or a local ``datasets`` folder: recognise them, pin them, load them.

Every stage that reads users' data (``curate`` sources of ``kind: hf``, ``train sft`` / ``train dpo`` data) goes
through :func:`load`, so one spelling works everywhere:

* ``owner/name`` or ``owner/name@revision``: a Hub dataset through ``datasets.load_dataset``. The revision is
  pinned before loading: a 40-hex commit is used as is; a branch or tag (default ``main``) is resolved to its
  commit through the Hub API, so the whole run reads one commit and the manifest records which
  (:meth:`HubSource.describe`). Offline, ``datasets`` reads its latest cached copy whatever the revision: the
  source is recorded as unpinned, with the data's fingerprint.
* a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``: ``datasets.load_from_disk``.
* any other local folder or a ``.parquet`` / ``.json`` / ``.jsonl`` / ``.csv`` / ``.arrow`` file: ``load_dataset``
  with the matching builder (offline, nothing downloads).

Offline first: nothing reaches the network unless the user names a hub id, and an id that is not cached while
``HF_HUB_OFFLINE=1`` is one clear error, not a library traceback.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from codeja.config import StrictModel
from codeja.errors import InputError
from codeja.models.resolve import hub_offline

# owner/name with an optional @revision; a leading "." or "/" means the user meant a path
_HUB_REF = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)(?:@(?P<rev>[\w./-]+))?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# a name ending like a data file is a path the user mistyped, never a hub id
DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet", ".csv", ".arrow", ".txt", ".gz")
_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".gz": "json", ".csv": "csv", ".arrow": "arrow"}


class HubOptions(StrictModel):
    """How a Hub id or a local ``datasets`` folder is read (the arguments of ``datasets.load_dataset``)."""

    config: str | None = Field(None, description="Dataset configuration (subset), e.g. jpn_Jpan for FineWeb-2.")
    split: str = Field("train", description="Split to read; slicing works too, e.g. 'train[:1000]'.")
    revision: str | None = Field(
        None, description="Branch, tag or commit of a Hub dataset (also written as owner/name@revision); "
        "a branch or tag is resolved to its commit before loading and the commit is recorded.")
    data_dir: str | None = Field(None, description="Sub-folder of the dataset to read (load_dataset's data_dir).")
    data_files: list[str] | None = Field(None, description="Files (globs) of the dataset to read (data_files).")
    streaming: bool = Field(False, description="Stream rows instead of downloading and converting everything first.")


@dataclass
class HubSource:
    """A resolved dataset reference: ``kind`` is ``hub``, ``saved`` (save_to_disk folder) or ``local``."""

    ref: str
    kind: str
    path: str  # hub id, or the local path
    opts: HubOptions
    commit: str | None = None  # the pinned Hub commit, when known
    pinned_by: str = ""  # how the commit was found: given, hub, or "" (unpinned)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How errors and row ids name this dataset: ``owner/name[config]:split`` or the path."""
        conf = f"[{self.opts.config}]" if self.opts.config else ""
        return f"{self.path}{conf}:{self.opts.split}"

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the data actually read."""
        return {"ref": self.ref, "kind": self.kind, "path": self.path, "config": self.opts.config,
                "split": self.opts.split, "revision": self.opts.revision, "commit": self.commit,
                "pinned_by": self.pinned_by or "unpinned", **self.info}


def is_data_file_name(text: str) -> bool:
    return text.lower().endswith(DATA_SUFFIXES)


def parse_ref(text: str, opts: HubOptions | None = None) -> HubSource | None:
    """A :class:`HubSource` for a loadable reference, or None when ``text`` names nothing ``datasets`` can read
    (a missing local file, say: the caller reports it as not found)."""
    opts = opts or HubOptions()
    p = Path(text).expanduser()
    if p.is_dir():
        saved = (p / "state.json").is_file() or (p / "dataset_dict.json").is_file()
        return HubSource(text, "saved" if saved else "local", str(p), opts)
    if p.is_file():
        return HubSource(text, "local", str(p), opts) if p.name.lower().endswith(tuple(_BUILDERS)) else None
    m = _HUB_REF.match(text.strip())
    if not m or is_data_file_name(m["id"]):
        return None
    rev = m["rev"] or opts.revision
    if m["rev"] and opts.revision and m["rev"] != opts.revision:
        raise InputError(f"two revisions given: @{m['rev']} and revision: {opts.revision}", path=text)
    return HubSource(text, "hub", m["id"], opts.model_copy(update={"revision": rev}))


def pin_revision(src: HubSource) -> HubSource:
    """Resolve a hub source's branch or tag to a commit (see the module doc); local sources are returned as is."""
    if src.kind != "hub" or src.commit:  # local, or pinned already (tasks reuse the launcher's commit)
        return src

    rev = src.opts.revision or "main"
    if _COMMIT.match(rev):
        src.commit, src.pinned_by = rev, "given"
    elif hub_offline():
        pass  # datasets then reads its latest cached copy whatever the revision: unpinned, and recorded as such
    else:
        try:
            src.commit, src.pinned_by = _hub_commit(src.path, rev), "hub"
        except Exception as e:  # noqa: BLE001 - not found, gated, no network: say which
            raise InputError(f"Hub dataset '{src.path}' at revision '{rev}': {type(e).__name__}: {_first_line(e)}",
                             path=src.ref) from None
    return src


@functools.cache
def _hub_commit(repo_id: str, revision: str) -> str:
    """Asked once per process, so the input check, the manifest and the tasks all see the same commit."""
    # heavy: huggingface_hub, datasets (kept out of `codeja --help` and light imports)
    from huggingface_hub import HfApi

    return HfApi().dataset_info(repo_id, revision=revision).sha


def load(src: HubSource):
    """The ``datasets.Dataset`` (or ``IterableDataset`` when streaming) of one split; errors are InputErrors
    naming the dataset and what exists instead (splits, configs)."""
    import datasets

    o = src.opts
    try:
        if src.kind == "saved":
            ds = datasets.load_from_disk(src.path)
            if isinstance(ds, datasets.DatasetDict):
                if o.split not in ds:
                    raise InputError(f"no split '{o.split}'; splits: {', '.join(ds)}", path=src.path)
                ds = ds[o.split]
            return ds
        if src.kind == "local" and Path(src.path).is_file():
            builder = _BUILDERS[next(s for s in _BUILDERS if src.path.lower().endswith(s))]
            return datasets.load_dataset(builder, data_files=src.path, split=o.split, streaming=o.streaming)
        pin_revision(src)
        return datasets.load_dataset(src.path, o.config, data_dir=o.data_dir, data_files=o.data_files,
                                     split=o.split, revision=src.commit or o.revision, streaming=o.streaming)
    except InputError:
        raise
    except (ConnectionError, OSError) as e:
        if src.kind == "hub" and ("offline" in str(e).lower() or "reach" in str(e).lower()):
            raise InputError(
                f"Hub dataset '{src.path}' is not in the local cache and the Hub cannot be reached "
                "(HF_HUB_OFFLINE=1?). Download it once while online, or pass a local file or folder.",
                path=src.ref) from None
        raise InputError(f"cannot read dataset: {type(e).__name__}: {_first_line(e)}", path=src.ref) from None
    except ValueError as e:  # unknown split or config: datasets lists the valid ones in the message
        raise InputError(f"cannot read dataset: {_first_line(e)}", path=src.label) from None
    except Exception as e:  # noqa: BLE001 - datasets raises builder-specific errors for malformed files
        raise InputError(f"cannot read dataset: {type(e).__name__}: {_first_line(e)}", path=src.label) from None


def column_names(ds) -> list[str]:
    names = getattr(ds, "column_names", None)
    if names is None and getattr(ds, "features", None) is not None:
        names = list(ds.features)
    return list(names or [])


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


__all__ = ["HubOptions", "HubSource", "column_names", "is_data_file_name", "load", "parse_ref", "pin_revision"]
