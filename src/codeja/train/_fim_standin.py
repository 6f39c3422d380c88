"""TEMPORARY stand-in for ``codeja.fim`` (issue 5), deleted once the real module lands.

Only the names the trainer uses: ``FIMConfig`` and ``FIMDataset`` (items ``{"input_ids", "labels"}`` of exactly
seq_len, pads -100, deterministic per (seed, epoch, index)). Token-level PSM, context level.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from codeja.config import StrictModel


class FIMConfig(StrictModel):
    mode: Literal["context", "document", "off"] = Field("context", description="Where FIM is applied.")
    fim_rate: float = Field(0.5, ge=0, le=1, description="Probability a document is FIM-transformed.")
    spm_rate: float = Field(0.5, ge=0, le=1, description="Share of FIM documents in SPM order.")
    seq_len: int = Field(512, ge=8, description="Tokens per training sample.")
    seed: int = Field(0, description="FIM seed.")


class FIMDataset:
    def __init__(self, prefix, tokenizer, fim_cfg: FIMConfig, epoch: int = 0):
        from megatron.core.datasets.indexed_dataset import IndexedDataset

        self.cfg, self.epoch = fim_cfg, epoch
        self.eod = tokenizer.eos_token_id
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eod
        self.sent = [tokenizer.convert_tokens_to_ids(t) for t in ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")]
        ds = IndexedDataset(str(prefix))
        docs = [np.asarray(ds[i], dtype=np.int64) for i in range(len(ds))]
        self.stream = np.concatenate([np.append(d, self.eod) for d in docs])
        self.n = max(0, (len(self.stream) - 1) // fim_cfg.seq_len)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        L = self.cfg.seq_len
        if not 0 <= i < self.n:
            raise IndexError(i)
        sample = self.stream[i * L:(i + 1) * L]
        if self.cfg.mode != "off" and self.cfg.fim_rate > 0:
            rng = np.random.default_rng([self.cfg.seed, self.epoch, i])
            out, start = [], 0
            for b in list(np.flatnonzero(sample == self.eod)) + [len(sample)]:
                seg = sample[start:b]
                if len(seg) > 2 and rng.random() < self.cfg.fim_rate:
                    a, c = sorted(rng.integers(0, len(seg) + 1, 2))
                    seg = np.concatenate([[self.sent[0]], seg[:a], [self.sent[1]], seg[c:], [self.sent[2]], seg[a:c]])
                out.append(seg)
                if b < len(sample):
                    out.append([self.eod])
                start = b + 1
            sample = np.concatenate(out)[:L]
        ids = np.full(L, self.pad, dtype=np.int64)
        labels = np.full(L, -100, dtype=np.int64)
        ids[:len(sample)] = sample
        labels[:len(sample)] = sample
        return {"input_ids": ids.tolist(), "labels": labels.tolist()}
