"""CPT data mixtures: several tokenized sources blended by weight, with the same meaning on both engines.

The semantics are megatron-core's ``BlendedDataset`` (what Megatron-LM builds from ``--data-path w1 p1 w2 p2``):

* weights are normalised; a source with weight 0 is left out;
* training position ``k`` is drawn from the source whose count so far lags ``weight * k`` most, computed by
  megatron-core's own ``build_blending_indices``: any prefix of training holds each source within one sample of
  its weight (tighter than independent draws, whose error would be binomial);
* each source is read in its own shuffled order, epoch after epoch, as often as its share needs (megatron-core builds
  as many epochs of a source as the blend asks of it).

On the transformers engine the sources are :class:`~codeja.fim.dataset.FIMDataset` s, each with its own FIM settings,
and a position's sample is a pure function of (seed, position): any number of DataLoader workers and any resume
point give the same samples. On the Megatron engine the launcher writes the same blend as ``--data-path`` and the
per-source FIM settings into ``fim.yaml`` (see :mod:`codeja.fim.megatron`).

:func:`plan_mixture` computes what a run will draw (samples, tokens and epochs per source) from the ``.idx`` files
alone, for the dry-run and the manifest.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codeja.errors import ConfigError, InputError
from codeja.fim.config import FIMConfig
from codeja.fim.packing import open_indexed
from codeja.train.config import CPTConfig


def blend_indices(weights: list[float], size: int) -> tuple[np.ndarray, np.ndarray]:
    """(source of each position, sample index within that source) for ``size`` positions: megatron-core's own
    blending (the same C++ routine its BlendedDataset uses), so both engines interleave sources identically."""
    # heavy: megatron (kept out of `codeja --help` and light imports)
    from megatron.core.datasets import helpers

    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not len(w) or (w <= 0).any():
        raise ValueError(f"blend weights must be positive, got {weights}")
    source = np.zeros(size, dtype=np.int16)
    sample = np.zeros(size, dtype=np.int64)
    helpers.build_blending_indices(source, sample, (w / w.sum()).tolist(), len(w), size, False)
    return source, sample


def source_counts(which: np.ndarray | None, live: list[int], n_sources: int, positions: int) -> list[int]:
    """Samples each source gives in the first ``positions`` of a blend (``which``: blend_indices over the ``live``
    sources, the sources of weight > 0; None when only one is live)."""
    out = [0] * n_sources
    if which is None:
        out[live[0]] = positions
        return out
    for j, c in enumerate(np.bincount(which[:positions], minlength=len(live)).tolist()):
        out[live[j]] = c
    return out


def fim_summary(fim: FIMConfig) -> str:
    """A short description of a FIM setting, for plans and logs."""
    if fim.mode == "off" or (fim.fim_rate <= 0 and fim.fragment_separator is None):
        return "off"
    return f"{fim.mode} {fim.fim_rate:g} spm {fim.spm_rate:g}"


@dataclass
class SourcePlan:
    """What a run draws from one source."""

    name: str
    prefix: str
    weight: float  # normalised share of the samples
    fim: str
    samples: int  # planned training samples (positions) from this source
    tokens: int  # samples x seq_len
    target_tokens: int | None = None
    documents: int | None = None  # in the corpus (None: its .idx is not readable here)
    train_tokens: int | None = None  # tokens training may read (after the held-out documents / the split)
    epochs: float | None = None  # planned samples / samples in one pass over train_tokens


@dataclass
class MixturePlan:
    engine: str
    seq_len: int
    samples: int  # training positions of the whole run
    sources: list[SourcePlan]

    @property
    def tokens(self) -> int:
        return self.samples * self.seq_len

    def as_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "seq_len": self.seq_len, "samples": self.samples, "tokens": self.tokens,
                "sources": [asdict(s) for s in self.sources]}

    def table(self) -> str:
        """The plan as an aligned text table (``codeja train cpt --dry-run``)."""
        head = ("source", "weight", "samples", "tokens", "target", "available", "epochs", "fim")
        rows = [head]
        for s in self.sources:
            rows.append((s.name, f"{s.weight:.4f}", f"{s.samples:,}", f"{s.tokens:,}",
                         "-" if s.target_tokens is None else f"{s.target_tokens:,}",
                         "?" if s.train_tokens is None else f"{s.train_tokens:,}",
                         "?" if s.epochs is None else f"{s.epochs:.3f}", s.fim))
        rows.append(("total", f"{sum(s.weight for s in self.sources):.4f}", f"{self.samples:,}", f"{self.tokens:,}",
                     "", "", "", ""))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) if i in (0, 7) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in rows]
        note = ("tokens = samples x seq_len; available = tokens training may read from the source (the held-out "
                "documents excluded); epochs = passes over them" if self.engine == "hf" else
                "tokens = samples x seq_len; available = tokens of the --split train documents; epochs = passes "
                "over them")
        return "\n".join([f"# data mixture ({self.engine} engine): {self.samples:,} samples x {self.seq_len} tokens",
                          *lines, f"# {note}"])


def normalised_weights(cfg: CPTConfig) -> list[float]:
    """Normalised weight of each source (zeros kept, in the order of ``cfg.sources``)."""
    sources = cfg.sources
    raw = [float(s.tokens if s.tokens is not None else (1.0 if s.weight is None else s.weight)) for s in sources]
    total = sum(raw)
    if total <= 0:
        raise ConfigError("data: every source has weight 0")
    return [w / total for w in raw]


def _lengths(prefix: str) -> np.ndarray | None:
    if not (Path(prefix + ".bin").is_file() and Path(prefix + ".idx").is_file()):
        return None

    if Path(prefix + ".bin").stat().st_size == 0:  # no documents (numpy cannot memory-map an empty file)
        return np.zeros(0, dtype=np.int64)
    ds = open_indexed(prefix)  # held while copying: its index memory map closes when it is collected
    return np.array(ds.sequence_lengths, dtype=np.int64)


def heldout_docs(cfg: CPTConfig, n_docs: int) -> int:
    """Documents held out at the end of each source (transformers engine)."""
    return min(cfg.validation.docs, max(0, n_docs - 1))


def train_samples(cfg: CPTConfig, lengths: np.ndarray) -> int:
    """Samples in one pass over a source's training documents (transformers engine)."""
    k = heldout_docs(cfg, len(lengths))
    n = int(lengths[: len(lengths) - k].sum()) // cfg.fim.seq_len
    return min(n, cfg.limit_train_samples) if cfg.limit_train_samples else n


def megatron_split_docs(n_docs: int, split: str) -> list[tuple[int, int] | None]:
    """The document range of each split (train, valid, test) that megatron-core gives a corpus for ``--split``
    (None: a split of weight 0, never built), computed with megatron-core's own functions."""
    from megatron.core.datasets.blended_megatron_dataset_config import (
        convert_split_vector_to_split_matrix,
        parse_and_normalize_split,
    )

    matrix = convert_split_vector_to_split_matrix(parse_and_normalize_split(split))
    return [None if m is None else (int(round(m[0] * n_docs)), int(round(m[1] * n_docs))) for m in matrix]


def _megatron_train_tokens(name: str, lengths: np.ndarray, split: str) -> int:
    """Tokens of the documents Megatron's --split gives the train split; a built split without any document is an
    error (megatron-core would loop forever computing its epochs)."""
    ranges = megatron_split_docs(len(lengths), split)
    for which, r in zip(("train", "valid", "test"), ranges):
        if r is not None and r[1] <= r[0]:
            raise ConfigError(f"source '{name}': megatron.split {split} leaves its {which} split without documents "
                              f"(it has {len(lengths)}); megatron-core would never finish building it. Give that split "
                              "a larger share, or 0 to skip it (e.g. 98,2,0), or add data")
    return int(lengths[ranges[0][0]: ranges[0][1]].sum()) if ranges[0] else 0


def plan_mixture(cfg: CPTConfig, *, engine: str | None = None, world_size: int = 1,
                 require_data: bool = True) -> MixturePlan:
    """Samples, tokens and epochs per source for ``cfg``'s run; the .idx files give the corpus sizes.

    ``require_data``: a missing corpus is an error (training); otherwise its size shows as unknown (a dry-run on a
    machine that does not hold the data). Target ``tokens`` that do not add up to the run's tokens are an error.
    """
    if not cfg.data:
        raise ConfigError("data: give an indexed-dataset prefix written by `codeja tokenize` (--data PREFIX), or a "
                          "list of sources [{name, prefix, weight}, ...]")
    engine = engine or cfg.engine
    L = cfg.fim.seq_len
    if engine == "megatron":
        total = cfg.max_steps * cfg.megatron.global_batch_size
        step_tokens = cfg.megatron.global_batch_size * L
    else:
        total = cfg.max_steps * cfg.per_device_batch_size * cfg.grad_accum * world_size
        step_tokens = cfg.per_device_batch_size * cfg.grad_accum * world_size * L
    sources = cfg.sources
    weights = normalised_weights(cfg)
    if all(s.tokens is not None for s in sources) and len(sources) > 1:
        want = sum(s.tokens for s in sources)
        if abs(want - total * L) > step_tokens:
            raise ConfigError(
                f"data: the sources' tokens add up to {want:,}, but the run trains on {total * L:,} tokens "
                f"(max_steps {cfg.max_steps} x {step_tokens:,} tokens per step); set max_steps to "
                f"{math.ceil(want / step_tokens)} or scale the tokens")
    live = [i for i, w in enumerate(weights) if w > 0]
    which = blend_indices([weights[i] for i in live], total)[0] if len(live) > 1 and total else None
    plans = []
    for src, w, n in zip(sources, weights, source_counts(which, live, len(sources), total)):
        lengths = _lengths(src.prefix)
        if lengths is None and require_data:
            raise InputError(f"source '{src.name}': indexed dataset not found (need {src.prefix}.bin and .idx; "
                             "run `codeja tokenize`)", path=src.prefix, field="data")
        p = SourcePlan(src.name, src.prefix, w, fim_summary(cfg.source_fim(src)), n, n * L, src.tokens)
        if lengths is not None:
            p.documents = len(lengths)
            if engine == "megatron":
                p.train_tokens = _megatron_train_tokens(src.name, lengths, cfg.megatron.split)
                per_pass = p.train_tokens // L
            else:
                k = heldout_docs(cfg, len(lengths))
                p.train_tokens = int(lengths[: len(lengths) - k].sum())
                per_pass = train_samples(cfg, lengths)
            if n and per_pass < 1:
                raise InputError(f"source '{src.name}': its {p.train_tokens:,} training tokens fill no sample of "
                                 f"{L} tokens; need more data or a smaller fim.seq_len", path=src.prefix, field="data")
            p.epochs = round(n / per_pass, 4) if per_pass else 0.0
        plans.append(p)
    return MixturePlan(engine, L, total, plans)


class SourceOrder:
    """One source's samples in training order: its j-th sample is (epoch j // n, a per-epoch permutation of n).

    The FIM dataset already shuffles documents per epoch; the permutation of packed samples keeps a batch from
    holding neighbouring windows of the same documents. Both are functions of (seed, epoch) only.
    """

    def __init__(self, dataset, n_samples: int, seed: int):
        self.dataset, self.n, self.seed = dataset, n_samples, seed
        self._perm: tuple[int, np.ndarray] | None = None

    def __getitem__(self, j: int) -> dict[str, Any]:
        epoch, offset = divmod(int(j), self.n)
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng([self.seed, epoch]).permutation(self.n))
        self.dataset.set_epoch(epoch)  # the item is a pure function of (seed, epoch, index): no state carries over
        return self.dataset[int(self._perm[1][offset])]


try:
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover - torch is a hard dependency
    _TorchDataset = object


class MixtureDataset(_TorchDataset):
    """Training positions ``0..total-1`` -> ``{"input_ids", "labels", "source"}`` from a blend of sources.

    ``source`` is the index of the sample's source in ``names`` (the trainer counts trained tokens per source
    with it). A single source skips the blend arrays: position ``k`` is its ``k``-th sample.
    """

    def __init__(self, orders: list[SourceOrder], weights: list[float], total: int, names: list[str]):
        self.orders, self.total, self.names = orders, total, names
        self._live = [i for i, w in enumerate(weights) if w > 0]
        self._which = self._sample = None
        if len(self._live) > 1:
            self._which, self._sample = blend_indices([weights[i] for i in self._live], total)

    def __len__(self) -> int:
        return self.total

    def locate(self, position: int) -> tuple[int, int]:
        """(source, sample index within the source) of a training position."""
        if self._which is None:
            return self._live[0], int(position)
        return self._live[int(self._which[position])], int(self._sample[position])

    def samples_per_source(self, positions: int) -> list[int]:
        """How many of the first ``positions`` samples each source gives."""
        return source_counts(self._which, self._live, len(self.orders), min(int(positions), self.total))

    def __getitem__(self, position: int) -> dict[str, Any]:
        if not 0 <= int(position) < self.total:
            raise IndexError(f"position {position} outside 0..{self.total - 1}")
        source, j = self.locate(int(position))
        return {**self.orders[source][j], "source": source}
