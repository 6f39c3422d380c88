"""FIM for Megatron: a megatron-core ``GPTDataset`` subclass and a dataset provider for ``pretrain_gpt.py``.

``FIMGPTDataset`` keeps megatron-core's document/sample/shuffle indices (and their on-disk cache) and replaces the
sample itself: it reads ``read_margin`` extra tokens, applies :class:`~codeja.fim.transform.FIMTransform` (the same
transform as the torch dataset) with randomness from (fim.seed, sample index), and masks padding from the loss *by
position* (megatron-core masks ``labels == tokenizer.pad``, which misses FIM pads and hits real tokens that share
the id). The EOD that closes a middle stays in the loss, so ``eod_mask_loss`` is refused with FIM on.

A blend (``--data-path w1 p1 w2 p2 ...``) is megatron-core's BlendedDataset over one FIMGPTDataset per prefix; each
takes its FIM settings by its prefix from a :class:`~codeja.fim.config.FIMBlendConfig` (so prose can have FIM off
while code has it on), which ``codeja train cpt --engine megatron`` writes to ``fim.yaml``.

With the reset flags off (Megatron-LM's defaults) the causal attention mask and the position ids are the same for
every sample: they are built once per dataset and shared, as megatron-core's GPTDataset does.

From Megatron-LM, swap the provider::

    # pretrain_gpt.py
    from codeja.fim.megatron import fim_dataset_provider as train_valid_test_datasets_provider
    # and set CODEJA_FIM_CONFIG=fim.yaml in its environment (the provider reads only that variable)

Without Megatron-LM (tests, custom loops) use :func:`build_fim_gpt_datasets`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from codeja.config import read_yaml, validate
from codeja.errors import ConfigError
from codeja.fim.codec import TokenCodec
from codeja.fim.config import FIMBlendConfig, FIMConfig
from codeja.fim.dataset import corpus_eod
from codeja.fim.sentinels import resolve_eod, resolve_sentinels
from codeja.fim.transform import FIMTransform, SampleStats, sample_random
from codeja.models import load_tokenizer

try:  # megatron-core is a dependency, but keep `import codeja.fim.megatron` cheap to fail clearly
    import torch
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig, _get_ltor_masks_and_position_ids
except ImportError as e:  # pragma: no cover
    raise ImportError(f"codeja.fim.megatron needs megatron-core: {e}") from e


class HFTokenizerForMegatron:
    """The few attributes megatron-core's datasets read from a tokenizer, for a Hugging Face tokenizer."""

    def __init__(self, hf_tokenizer: Any, eod: int, pad: int | None = None):
        self._tokenizer = hf_tokenizer
        self.eod = int(eod)
        self.eos = int(eod)
        self.pad = int(pad) if pad is not None else -1  # -1: never equal to a real id (we mask by position)
        self.vocab_size = len(hf_tokenizer)
        self.unique_identifiers = OrderedDict(class_="HFTokenizerForMegatron",
                                              name=str(getattr(hf_tokenizer, "name_or_path", "")),
                                              vocab_size=self.vocab_size, eod=self.eod)


@dataclass
class FIMGPTDatasetConfig(GPTDatasetConfig):
    """``GPTDatasetConfig`` plus the FIM settings and the Hugging Face tokenizer the transform decodes with."""

    fim: FIMConfig | None = None
    hf_tokenizer: Any = None
    fim_by_prefix: dict[str, FIMConfig] | None = None  # a blend's per-corpus settings (else fim for all)

    def __post_init__(self) -> None:
        super().__post_init__()
        blend = self.fim_blend()
        for fim in blend.all():
            if fim.mode == "document":
                raise ConfigError("fim.mode=document is not supported by FIMGPTDataset (use context or off)")
            if fim.mode != "off" and self.eod_mask_loss:
                raise ConfigError("eod_mask_loss would mask the EOD that ends every FIM middle, so the model never "
                                  "learns to stop infilling; turn it off when FIM is on")

    def fim_blend(self) -> FIMBlendConfig:
        return FIMBlendConfig(default=self.fim or FIMConfig(mode="off"), by_prefix=self.fim_by_prefix or {})


class FIMGPTDataset(GPTDataset):
    """megatron-core GPTDataset whose samples go through the codeja FIM transform (context level)."""

    def __init__(self, indexed_dataset, dataset_path, indexed_indices, num_samples, index_split, config):
        super().__init__(indexed_dataset, dataset_path, indexed_indices, num_samples, index_split, config)
        self._fim_sampler = None  # built lazily: picklable for DataLoader workers
        self._masks = None  # (attention mask, position ids) when they do not depend on the tokens

    @property
    def fim(self) -> FIMConfig:
        """This corpus's FIM settings (in a blend, chosen by its prefix)."""
        return self.config.fim_blend().for_prefix(self.dataset_path)

    def _transform(self):
        if self._fim_sampler is None:
            hf = self.config.hf_tokenizer
            if hf is None:
                hf = getattr(self.config.tokenizer, "_tokenizer", None)
            if isinstance(hf, (str, os.PathLike)):
                hf = load_tokenizer(str(hf))
            if hf is None:
                raise ConfigError("FIMGPTDataset needs the Hugging Face tokenizer (config.hf_tokenizer)")
            codec = TokenCodec(hf)
            eod = corpus_eod(self.dataset_path, codec) if self.dataset_path else None
            eod = self.config.tokenizer.eod if eod is None else eod
            self._fim_sampler = FIMTransform(codec, resolve_sentinels(hf, self.fim.sentinels, eod=eod), self.fim)
        return self._fim_sampler

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_fim_sampler"] = None
        state["_masks"] = None  # an 8k x 8k mask is 64 MB: each worker builds its own once
        return state

    def _read(self, idx: int, count: int) -> np.ndarray:
        """``count`` tokens of the packed stream from the start of sample ``idx`` (past its end when available)."""
        if self.shuffle_index is None:
            super()._query_document_sample_shuffle_indices(idx)  # loads the lazily mapped indices
        j = self.shuffle_index[idx]
        doc_i, offset = (int(x) for x in self.sample_index[j])
        parts, have = [], 0
        while have < count and doc_i < len(self.document_index):
            doc = int(self.document_index[doc_i])
            length = int(self.dataset.sequence_lengths[doc]) - offset
            take = min(length, count - have)
            if take > 0:
                parts.append(self.dataset.get(doc, offset=offset, length=take))
                have += take
            doc_i, offset = doc_i + 1, 0
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def fim_sample(self, idx: int, *, check: bool = False):
        """(FIMSample of seq_len + extra tokens) for sample ``idx``."""
        out_len = self.config.sequence_length + self.config.add_extra_token_to_sequence
        fim = self.fim
        margin = fim.read_margin if fim.mode == "context" else 0
        tokens = self._read(idx, out_len + margin)
        transform = self._transform()
        if fim.mode == "off":
            return transform.finish([tokens], out_len, SampleStats(), consumed=len(tokens))
        return transform.apply(tokens, sample_random(fim.seed, 0, int(idx)), out_len, check=check)

    def _masks_for(self, tokens):
        """(attention mask, loss mask, position ids) of ``tokens``.

        Without reset_position_ids / reset_attention_mask / eod_mask_loss the L x L causal mask and the positions
        are the same for every sample: built once and shared, as megatron-core's GPTDataset does (rebuilding the
        mask costs ~16 ms per sample at 2048 tokens and ~0.4 s at 8192). The loss mask is a fresh tensor per sample
        because the padding is masked in it.
        """
        c = self.config
        if self.masks_and_position_ids_are_cacheable:  # set by GPTDataset from the three flags
            if self._masks is None:
                attention_mask, _, position_ids = _get_ltor_masks_and_position_ids(
                    tokens, c.tokenizer.eod, False, False, False, c.create_attention_mask)
                self._masks = (attention_mask, position_ids)
            attention_mask, position_ids = self._masks
            return attention_mask, torch.ones(len(tokens), dtype=torch.float), position_ids
        return _get_ltor_masks_and_position_ids(tokens, c.tokenizer.eod, c.reset_position_ids,
                                                c.reset_attention_mask, c.eod_mask_loss, c.create_attention_mask)

    def __getitem__(self, idx: int | None) -> dict:
        sample = self.fim_sample(0 if idx is None else int(idx))
        text = torch.from_numpy(sample.tokens)
        if self.config.add_extra_token_to_sequence:
            tokens, labels = text[:-1].contiguous(), text[1:].contiguous()
        else:
            tokens, labels = text, torch.roll(text, shifts=-1, dims=0)
        attention_mask, loss_mask, position_ids = self._masks_for(tokens)
        # padding sits at the end of `text`; label position k predicts text[k + 1]
        first_pad_label = len(text) - sample.n_pad - (1 if self.config.add_extra_token_to_sequence else 0)
        loss_mask[max(0, first_pad_label):] = 0.0
        if not self.config.add_extra_token_to_sequence:
            loss_mask[-1] = 0.0
        if sample.n_pad:
            labels[max(0, first_pad_label):] = 0
        if idx is None:
            loss_mask = torch.zeros_like(loss_mask)
        out = {"tokens": tokens, "labels": labels, "loss_mask": loss_mask, "position_ids": position_ids}
        if self.config.create_attention_mask:
            out["attention_mask"] = attention_mask
        return out


def build_fim_gpt_datasets(prefix: str | list[str], hf_tokenizer: Any, fim: FIMConfig,
                           train_val_test_num_samples: list[int | None], *, split: str = "99,1,0",
                           path_to_cache: str | None = None, weights: list[float] | None = None,
                           fim_by_prefix: dict[str, FIMConfig] | None = None, dataset_class: type | None = None,
                           **config_kwargs: Any):
    """Build (train, valid, test) FIMGPTDatasets from codeja corpus prefix(es) without Megatron-LM's args.

    Several prefixes with ``weights`` give megatron-core BlendedDatasets (what ``--data-path w1 p1 w2 p2`` builds);
    ``fim_by_prefix`` gives corpora their own FIM settings (``fim`` for the others). ``dataset_class`` builds
    another GPTDataset class on the same config (megatron-core's own GPTDataset, as a baseline in benchmarks).
    """
    # heavy: megatron (kept out of `codeja --help` and light imports)
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder

    prefixes = [prefix] if isinstance(prefix, str) else list(prefix)
    eod = corpus_eod(prefixes[0], TokenCodec(hf_tokenizer))
    if eod is None:
        eod = resolve_eod(hf_tokenizer)[0]
    config = FIMGPTDatasetConfig(
        random_seed=fim.seed, sequence_length=fim.seq_len, blend=(prefixes, weights), split=split,
        path_to_cache=path_to_cache, tokenizer=HFTokenizerForMegatron(hf_tokenizer, eod),
        reset_position_ids=config_kwargs.pop("reset_position_ids", False),
        reset_attention_mask=config_kwargs.pop("reset_attention_mask", False),
        eod_mask_loss=config_kwargs.pop("eod_mask_loss", False),
        fim=fim, hf_tokenizer=hf_tokenizer, fim_by_prefix=fim_by_prefix, **config_kwargs,
    )
    cls = dataset_class or FIMGPTDataset
    return BlendedMegatronDatasetBuilder(cls, train_val_test_num_samples, lambda: True, config).build()


def load_fim_blend(path: str | None, *, seq_len: int, seed: int) -> FIMBlendConfig:
    """The FIM settings the launcher wrote (a FIMConfig, or a FIMBlendConfig for per-source settings), with
    Megatron's sequence length and seed, which win over the file's."""
    data = read_yaml(path) if path else {}
    data.pop("stage", None)
    blend = (validate(FIMBlendConfig, data, source=str(path)) if "default" in data or "by_prefix" in data
             else FIMBlendConfig(default=validate(FIMConfig, data, source=str(path or "<defaults>"))))
    fix = {"seq_len": seq_len, "seed": seed}
    return FIMBlendConfig(default=blend.default.model_copy(update=fix),
                          by_prefix={k: v.model_copy(update=fix) for k, v in blend.by_prefix.items()})


def fim_dataset_provider(train_val_test_num_samples: list[int], vp_stage: int | None = None):
    """Drop-in ``train_valid_test_datasets_provider`` for Megatron-LM's ``pretrain_gpt.py``.

    Reads Megatron-LM's args (``--data-path``, ``--split``, ``--seq-length``, ``--seed``, ``--tokenizer-model``,
    ...), takes the FIM settings from the YAML named by ``$CODEJA_FIM_CONFIG`` (a ``fim`` stage config, or a
    :class:`~codeja.fim.config.FIMBlendConfig` giving each ``--data-path`` prefix its own; default FIMConfig()),
    overriding seq_len and seed with Megatron's, and builds FIMGPTDatasets, blended as megatron-core blends them.
    """
    try:
        from megatron.training import get_args, get_tokenizer, print_rank_0
        from megatron.training.utils import get_blend_and_blend_per_split
    except ImportError as e:
        raise ConfigError("fim_dataset_provider runs inside Megatron-LM (megatron.training); without it use "
                          f"codeja.fim.megatron.build_fim_gpt_datasets ({e})") from None
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder

    args = get_args()
    tokenizer = get_tokenizer()
    fims = load_fim_blend(os.environ.get("CODEJA_FIM_CONFIG"), seq_len=args.seq_length, seed=args.seed)
    fim = fims.default
    blend, blend_per_split = get_blend_and_blend_per_split(args)
    hf = getattr(tokenizer, "_tokenizer", None)
    config = FIMGPTDatasetConfig(
        random_seed=args.seed, sequence_length=args.seq_length, blend=blend, blend_per_split=blend_per_split,
        split=args.split, path_to_cache=args.data_cache_path, tokenizer=tokenizer,
        reset_position_ids=args.reset_position_ids, reset_attention_mask=args.reset_attention_mask,
        eod_mask_loss=args.eod_mask_loss,
        create_attention_mask=getattr(args, "create_attention_mask_in_dataloader", True),
        fim=fim, hf_tokenizer=hf, fim_by_prefix=fims.by_prefix or None,
    )
    print_rank_0(f"> building codeja FIM datasets (mode={fim.mode}, fim_rate={fim.fim_rate}, spm_rate={fim.spm_rate}"
                 + "".join(f"; {p}: mode={f.mode}, fim_rate={f.fim_rate}" for p, f in fims.by_prefix.items()) + ")")
    from megatron.core import mpu

    def built_on_rank() -> bool:
        return mpu.get_tensor_model_parallel_rank() == 0

    return BlendedMegatronDatasetBuilder(FIMGPTDataset, train_val_test_num_samples, built_on_rank, config).build()


fim_dataset_provider.is_distributed = True  # pretrain_gpt.py checks this: every rank builds its own view
