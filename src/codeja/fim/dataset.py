"""A torch ``Dataset`` of packed, FIM'd samples for transformers' ``Trainer`` (and any PyTorch loop).

Usage::

    from codeja.fim.config import FIMConfig
    from codeja.fim.dataset import FIMDataset

    train = FIMDataset("out/tok/corpus", tokenizer, FIMConfig(seq_len=2048, fim_rate=0.5), split_docs=range(0, 9000))
    train.set_epoch(epoch)          # optional; a new epoch reshuffles documents and redraws FIM
    item = train[0]                 # {"input_ids": LongTensor[2048], "labels": LongTensor[2048]}

``labels`` equal ``input_ids`` (the model shifts them) except padding positions, which are -100. Padding is
marked by position, never by comparing ids, so a pad id that also occurs as a real token is never masked by
accident, and the EOD after each middle stays in the loss. Sample ``i`` depends only on (seed, epoch, i): any
number of DataLoader workers, any rank and any resume point give the same data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codeja.errors import ConfigError
from codeja.fim.codec import TokenCodec
from codeja.fim.config import FIMConfig
from codeja.fim.packing import PackedCorpus, read_sidecar
from codeja.fim.sentinels import Sentinels, resolve_sentinels
from codeja.fim.transform import FIMSample, FIMTransform, SampleStats, sample_random

IGNORE_INDEX = -100


def corpus_eod(prefix: str | Path, codec: TokenCodec) -> int | None:
    """The EOD id recorded by ``codeja tokenize`` (checking the corpus was made with this tokenizer's vocabulary)."""
    side = read_sidecar(prefix)
    if side is None:
        return None
    want = side.get("tokenizer", {}).get("model_hash")
    if want and want != codec.model_hash:
        raise ConfigError(f"{prefix}: tokenized with {side['tokenizer'].get('name')} (vocabulary hash {want[:12]}), "
                          f"but the tokenizer given is {codec.name} (hash {codec.model_hash[:12]})")
    return side.get("eod_id")


class FIMSampler:
    """Builds sample ``i`` of an epoch: packing + the FIM transform. Shared by the torch and the Megatron dataset."""

    def __init__(self, corpus: PackedCorpus, transform: FIMTransform, cfg: FIMConfig):
        self.corpus, self.transform, self.cfg = corpus, transform, cfg

    def sample(self, index: int, epoch: int = 0, *, check: bool = False) -> FIMSample:
        cfg, L = self.cfg, self.cfg.seq_len
        if cfg.mode == "off" or (cfg.fim_rate <= 0 and cfg.fragment_separator is None):
            tokens, _, _ = self.corpus.read(index, epoch, extra=0)
            return self.transform.finish([tokens], L, SampleStats(docs=0), consumed=len(tokens))
        if cfg.mode == "context":
            tokens, _, _ = self.corpus.read(index, epoch, extra=cfg.read_margin)
            return self.transform.apply(tokens, sample_random(cfg.seed, epoch, index), L, check=check)
        return self._document_level(index, epoch, check)

    def _document_level(self, index: int, epoch: int, check: bool) -> FIMSample:
        """Each document FIM'd whole (randomness from (seed, epoch, document id)), then packed and cut.

        The window keeps the original start offset inside its first document, so long documents are split across
        contexts after FIM: the "fragmented FIM data" that lowers the effective FIM rate in the paper.
        """
        cfg, L = self.cfg, self.cfg.seq_len
        eod = self.transform.eod
        order, ends = self.corpus.order(epoch)
        start = index * L
        k = int(np.searchsorted(ends, start, side="right"))
        offset = start - (int(ends[k - 1]) if k else 0)
        stats = SampleStats()
        parts, produced = [], 0
        while produced < L and k < len(order):
            doc = int(order[k])
            toks = self.corpus.document(doc)
            has_eod = len(toks) > 0 and toks[-1] == eod
            body = toks[:-1] if has_eod else toks
            local = SampleStats()
            out = (self.transform.segment(body, sample_random(cfg.seed, epoch, doc, 1), local, check=check)
                   if len(body) else None)
            full = np.concatenate([out, toks[-1:]]) if (out is not None and has_eod) else (toks if out is None else out)
            piece = full[min(offset, len(full)):] if produced == 0 else full
            stats.add(local)
            stats.docs += 1
            # effective: the whole FIM'd document (P, M and S) lies inside this window
            if out is not None and not (produced == 0 and offset > 0) and produced + len(piece) <= L:
                stats.effective_fim_docs += 1
            parts.append(piece)
            produced += len(piece)
            k += 1
        return self.transform.finish(parts, L, stats, consumed=produced)


def build_sampler(prefix: str | Path, tokenizer: Any, fim: FIMConfig, *, split_docs=None,
                  sentinels: Sentinels | None = None, codec: TokenCodec | None = None) -> FIMSampler:
    codec = codec or TokenCodec(tokenizer)
    eod = corpus_eod(prefix, codec)
    sentinels = sentinels or resolve_sentinels(tokenizer, fim.sentinels, eod=eod)
    if sentinels.eod != (eod if eod is not None else sentinels.eod):
        raise ConfigError(f"{prefix}: corpus EOD id {eod} differs from sentinels' EOD {sentinels.eod}")
    corpus = PackedCorpus(prefix, fim.seq_len, docs=split_docs, shuffle=fim.shuffle_docs, seed=fim.seed)
    return FIMSampler(corpus, FIMTransform(codec, sentinels, fim), fim)


try:
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover - torch is a hard dependency; this keeps the module importable for docs
    _TorchDataset = object


class FIMDataset(_TorchDataset):
    """Packed FIM samples from a ``codeja tokenize`` corpus: ``{"input_ids", "labels"}`` LongTensors of seq_len.

    Args:
        prefix: the corpus prefix (``PREFIX.bin`` / ``PREFIX.idx`` / ``PREFIX.json``).
        tokenizer: the HF fast tokenizer the corpus was tokenized with (sentinels resolved on it).
        fim: the :class:`FIMConfig` (mode, rates, seq_len, seed, ...).
        split_docs: document indices (a range or array) this split uses, e.g. ``range(0, n - 100)`` for train;
            None uses all.
        epoch: the epoch whose document order and FIM draws are used (``set_epoch`` changes it).
        sentinels: resolved sentinels to use instead of resolving ``fim.sentinels`` on the tokenizer.
    """

    def __init__(self, prefix: str | Path, tokenizer: Any, fim: FIMConfig | None = None, *,
                 split_docs: Sequence[int] | range | np.ndarray | None = None, epoch: int = 0,
                 sentinels: Sentinels | None = None):
        self.fim = fim or FIMConfig()
        self.sampler = build_sampler(prefix, tokenizer, self.fim, split_docs=split_docs, sentinels=sentinels)
        self.epoch = epoch

    @property
    def sentinels(self) -> Sentinels:
        return self.sampler.transform.sentinels

    @property
    def codec(self) -> TokenCodec:
        return self.sampler.transform.codec

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sampler.corpus)

    def sample(self, index: int, *, check: bool = False) -> FIMSample:
        """The raw sample (numpy tokens, pad count, stats) for inspection."""
        return self.sampler.sample(int(index), self.epoch, check=check)

    def __getitem__(self, index: int) -> dict[str, Any]:
        # heavy: torch (kept out of `codeja --help` and light imports)
        import torch

        if index < 0:
            index += len(self)
        s = self.sampler.sample(int(index), self.epoch)
        input_ids = torch.from_numpy(s.tokens)
        labels = input_ids.clone()
        if s.n_pad:
            labels[len(labels) - s.n_pad:] = IGNORE_INDEX
        return {"input_ids": input_ids, "labels": labels}
