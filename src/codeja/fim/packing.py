"""Packing: documents of a Megatron indexed dataset laid end to end and cut into fixed-length contexts.

Every document in a corpus written by ``codeja tokenize`` already ends with its EOD, so packing is concatenation.
Sample ``i`` of an epoch is the token range ``[i * seq_len, (i + 1) * seq_len)`` of that epoch's document order,
read with ``extra`` tokens more so that a FIM transform which shortens the context rarely has to pad.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codeja.errors import InputError


def sidecar_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.json")


def read_sidecar(prefix: str | Path) -> dict[str, Any] | None:
    p = sidecar_path(prefix)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"unreadable sidecar: {e}", path=str(p)) from None


def open_indexed(prefix: str | Path):
    """megatron-core's IndexedDataset at ``prefix`` (.bin/.idx), with a clear error when missing."""
    # heavy: megatron (kept out of `codeja --help` and light imports)
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    prefix = str(prefix)
    if not (Path(prefix + ".bin").is_file() and Path(prefix + ".idx").is_file()):
        raise InputError(f"no indexed dataset here (need {prefix}.bin and {prefix}.idx; run `codeja tokenize`)",
                         path=prefix)
    return IndexedDataset(prefix, multimodal=False, mmap=True)


class PackedCorpus:
    """A view of selected documents, concatenated in a per-epoch order, cut into ``seq_len`` contexts."""

    def __init__(self, prefix: str | Path, seq_len: int, *, docs: Sequence[int] | range | np.ndarray | None = None,
                 shuffle: bool = True, seed: int = 0):
        self.prefix = str(prefix)
        self.seq_len = seq_len
        self.shuffle, self.seed = shuffle, seed
        self._ds = None
        lengths = np.asarray(self.dataset.sequence_lengths, dtype=np.int64)
        n = len(lengths)
        if docs is None:
            sel = np.arange(n, dtype=np.int64)
        else:
            sel = np.asarray(list(docs) if isinstance(docs, range) else docs, dtype=np.int64)
            if sel.size and (sel.min() < 0 or sel.max() >= n):
                raise InputError(f"split_docs selects documents outside 0..{n - 1}", path=self.prefix)
        self.docs = sel
        self.lengths = lengths
        self.total_tokens = int(lengths[sel].sum())
        self._epoch_cache: tuple[int, np.ndarray, np.ndarray] | None = None

    @property
    def dataset(self):
        if self._ds is None:  # opened lazily: a DataLoader worker maps the file itself
            self._ds = open_indexed(self.prefix)
        return self._ds

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_ds"] = None
        return state

    def __len__(self) -> int:
        return self.total_tokens // self.seq_len

    def order(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(document order, cumulative end offsets) for ``epoch``; a pure function of (seed, epoch)."""
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            order = self.docs
            if self.shuffle:
                order = order[np.random.default_rng([self.seed, epoch, 0x5EED]).permutation(len(order))]
            self._epoch_cache = (epoch, order, np.cumsum(self.lengths[order]))
        return self._epoch_cache[1], self._epoch_cache[2]

    def read(self, index: int, epoch: int = 0, extra: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
        """Tokens ``[index*seq_len, (index+1)*seq_len + extra)`` (clipped at the end of the stream).

        Returns (tokens, document ids in order, offset of the first token inside the first document).
        """
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range 0..{len(self) - 1}")
        order, ends = self.order(epoch)
        start = index * self.seq_len
        stop = min(start + self.seq_len + extra, self.total_tokens)
        k = int(np.searchsorted(ends, start, side="right"))
        first_offset = start - (int(ends[k - 1]) if k else 0)
        parts, doc_ids, pos = [], [], start
        while pos < stop:
            doc = int(order[k])
            doc_start = int(ends[k - 1]) if k else 0
            off = pos - doc_start
            length = min(int(ends[k]), stop) - pos
            parts.append(self.dataset.get(doc, offset=off, length=length))
            doc_ids.append(doc)
            pos += length
            k += 1
        tokens = np.concatenate(parts).astype(np.int64, copy=False) if len(parts) > 1 else parts[0].astype(np.int64)
        return tokens, np.asarray(doc_ids, dtype=np.int64), first_offset

    def document(self, doc: int) -> np.ndarray:
        return self.dataset.get(int(doc)).astype(np.int64)
