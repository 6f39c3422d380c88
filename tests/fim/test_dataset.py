"""FIMDataset (torch) and FIMGPTDataset (megatron-core): lengths, labels, determinism across workers and resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codeja.errors import ConfigError, InputError
from codeja.fim.config import FIMConfig
from codeja.fim.dataset import IGNORE_INDEX, FIMDataset
from codeja.fim.inspect import binomial_interval, inspect_fim


def test_items_have_exact_length_and_labels(corpus):
    prefix, tok, _ = corpus
    ds = FIMDataset(prefix, tok, FIMConfig(seq_len=128, fim_rate=0.9))
    assert len(ds) > 10
    for i in range(len(ds)):
        item = ds[i]
        assert item["input_ids"].shape == (128,) and item["input_ids"].dtype == torch.long
        keep = item["labels"] != IGNORE_INDEX
        assert (item["labels"][keep] == item["input_ids"][keep]).all()


def test_stats_over_whole_corpus(corpus):
    prefix, tok, _ = corpus
    rep = inspect_fim(prefix, tok, FIMConfig(seq_len=96, fim_rate=0.5, seed=3), samples=200)
    assert rep["lengths"] == [96]
    assert rep["replacement_chars"] == 0 and rep["roundtrip_mismatches"] == 0
    lo, hi = rep["fim_rate_interval"]
    assert lo <= 0.5 <= hi
    assert 0.3 <= rep["spm_fraction"] <= 0.7


def test_pad_masked_by_position_not_by_id(corpora):
    prefix, tok, _ = corpora["bpe"]
    ds = FIMDataset(prefix, tok, FIMConfig(seq_len=16, fim_rate=1.0))
    tr = ds.sampler.transform
    pad = ds.sentinels.pad
    # a real token equal to the pad id inside the content, then 5 padding positions at the end
    content = np.array([5, 6, pad, 7, 8, 9, ds.sentinels.eod, 10, 11, 12, 13], dtype=np.int64)
    padded = tr.finish([content], 16, tr_stats(), consumed=len(content))
    assert padded.n_pad == 5 and (padded.tokens[11:] == pad).all()
    ds.sampler.sample = lambda index, epoch=0, check=False: padded
    item = ds[0]
    assert (item["labels"][11:] == IGNORE_INDEX).all()
    assert item["labels"][2].item() == pad  # same id, real token: stays in the loss
    assert (item["labels"][:11] == torch.from_numpy(content)).all()  # the EOD stays in the loss too


def tr_stats():
    from codeja.fim.transform import SampleStats

    return SampleStats()


def test_deterministic_across_workers_resume_and_epochs(corpora):
    prefix, tok, _ = corpora["bpe"]
    cfg = FIMConfig(seq_len=64, fim_rate=0.5, seed=11)
    ds = FIMDataset(prefix, tok, cfg)
    ref = torch.stack([ds[i]["input_ids"] for i in range(len(ds))])
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    got = torch.cat([b["input_ids"] for b in loader])
    assert torch.equal(ref, got), "worker count changed the samples"
    # "resume": a fresh dataset asked for samples out of order gives the same ones
    ds2 = FIMDataset(prefix, tok, cfg)
    for i in reversed(range(0, len(ds), 3)):
        assert torch.equal(ds2[i]["input_ids"], ref[i])
    ds2.set_epoch(1)
    assert not torch.equal(torch.stack([ds2[i]["input_ids"] for i in range(len(ds))]), ref)
    ds3 = FIMDataset(prefix, tok, cfg.model_copy(update={"seed": 12}))
    assert not torch.equal(torch.stack([ds3[i]["input_ids"] for i in range(len(ds))]), ref)


def test_context_level_has_higher_effective_rate_than_document_level(corpora):
    prefix, tok, _ = corpora["bpe"]
    ctx = inspect_fim(prefix, tok, FIMConfig(seq_len=64, fim_rate=0.9, mode="context"), samples=150)
    doc = inspect_fim(prefix, tok, FIMConfig(seq_len=64, fim_rate=0.9, mode="document"), samples=150)
    assert doc["lengths"] == [64] and doc["roundtrip_mismatches"] == 0
    assert ctx["effective_fim_rate"] > doc["effective_fim_rate"]


def test_split_docs_and_bad_inputs(corpora, sp_tok, tmp_path):
    prefix, tok, docs = corpora["bpe"]
    train = FIMDataset(prefix, tok, FIMConfig(seq_len=64), split_docs=range(100))
    valid = FIMDataset(prefix, tok, FIMConfig(seq_len=64), split_docs=range(100, 120))
    assert len(train) > len(valid) > 0
    with pytest.raises(InputError, match="outside"):
        FIMDataset(prefix, tok, FIMConfig(seq_len=64), split_docs=[500])
    with pytest.raises(InputError, match="no indexed dataset"):
        FIMDataset(str(tmp_path / "missing"), tok, FIMConfig())
    with pytest.raises(ConfigError, match="vocabulary hash"):
        FIMDataset(prefix, sp_tok, FIMConfig())  # corpus made with another tokenizer


def test_megatron_gpt_dataset(corpora, tmp_path):
    from codeja.fim.megatron import FIMGPTDataset, build_fim_gpt_datasets

    prefix, tok, _ = corpora["sp"]
    fim = FIMConfig(seq_len=64, fim_rate=0.9, seed=5)
    train, valid, _ = build_fim_gpt_datasets(prefix, tok, fim, [40, 4, None], split="90,10,0",
                                             path_to_cache=str(tmp_path / "cache"))
    assert isinstance(train, FIMGPTDataset)
    item = train[0]
    assert item["tokens"].shape == (64,) and item["labels"].shape == (64,)
    assert torch.equal(item["tokens"][1:], item["labels"][:-1])
    total = 0
    for i in range(len(train)):
        s = train.fim_sample(i, check=True)
        assert len(s.tokens) == 65 and s.stats.roundtrip_mismatches == 0 and s.stats.replacement_chars == 0
        total += s.stats.fim_docs
        if s.n_pad:
            assert (train[i]["loss_mask"][65 - s.n_pad - 1:] == 0).all()
    assert total > 0
    # same samples from a rebuilt dataset (resume), whatever order they are asked in
    again, _, _ = build_fim_gpt_datasets(prefix, tok, fim, [40, 4, None], split="90,10,0",
                                         path_to_cache=str(tmp_path / "cache"))
    assert torch.equal(again[3]["tokens"], train[3]["tokens"])
    with pytest.raises(ConfigError, match="eod_mask_loss"):
        build_fim_gpt_datasets(prefix, tok, fim, [4, 1, None], eod_mask_loss=True)


def test_megatron_attention_mask_is_built_once_unless_the_reset_flags_need_it(corpora, tmp_path):
    """With the reset flags off the causal mask and the positions do not depend on the sample: one shared tensor
    (megatron-core's GPTDataset caches them the same way); with reset_attention_mask each sample gets its own,
    computed on the tokens after FIM."""
    from megatron.core.datasets.gpt_dataset import _get_ltor_masks_and_position_ids

    from codeja.fim.megatron import build_fim_gpt_datasets

    prefix, tok, _ = corpora["bpe"]
    fim = FIMConfig(seq_len=64, fim_rate=0.9, seed=5)
    kw = dict(split="100,0,0", path_to_cache=str(tmp_path / "cache"), create_attention_mask=True)
    train = build_fim_gpt_datasets(prefix, tok, fim, [12, 0, 0], **kw)[0]
    items = [train[i] for i in range(12)]
    causal = torch.tril(torch.ones(64, 64)).unsqueeze(0) < 0.5
    assert all(it["attention_mask"] is items[0]["attention_mask"] for it in items)  # shared, never rebuilt
    assert torch.equal(items[0]["attention_mask"], causal)
    assert all(it["position_ids"] is items[0]["position_ids"] for it in items)
    assert torch.equal(items[0]["position_ids"], torch.arange(64))
    assert items[0]["loss_mask"] is not items[1]["loss_mask"]  # per sample: padding is masked in it
    items[0]["loss_mask"][:] = 0  # a consumer writing into one sample's loss mask leaves the others alone
    assert train[1]["loss_mask"].sum() > 0 and train[0]["loss_mask"].sum() > 0

    reset = build_fim_gpt_datasets(prefix, tok, fim, [12, 0, 0], reset_attention_mask=True, reset_position_ids=True,
                                   **kw)[0]
    eod = reset.config.tokenizer.eod
    differing = 0
    for i in range(12):
        it = reset[i]
        want_mask, _, want_pos = _get_ltor_masks_and_position_ids(it["tokens"], eod, True, True, False, True)
        assert torch.equal(it["attention_mask"], want_mask) and torch.equal(it["position_ids"], want_pos)
        differing += not torch.equal(it["attention_mask"], causal)
    assert differing > 0  # documents end inside samples: their masks are block-diagonal


def test_megatron_provider_needs_megatron_lm():
    from codeja.fim.megatron import fim_dataset_provider

    assert fim_dataset_provider.is_distributed
    with pytest.raises(ConfigError, match="Megatron-LM"):
        fim_dataset_provider([1, 1, 1])


def test_binomial_interval():
    lo, hi = binomial_interval(50, 100)
    assert lo < 0.5 < hi and binomial_interval(0, 0) == (0.0, 1.0)
    assert np.isclose(sum(binomial_interval(500, 1000)) / 2, 0.5, atol=1e-3)
