"""CPT data mixtures: megatron-core's blending on both engines, per-source FIM, the plan and dry-runs, samples that
do not depend on worker count or resume, and a tiny run whose realised token shares match the weights."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from codeja.config import dump_yaml, load_config, read_yaml
from codeja.errors import ConfigError, InputError
from codeja.fim.config import TokenizeConfig
from codeja.fim.tokenize import tokenize_corpus
from codeja.train.config import CPTConfig
from codeja.train.cpt import build_datasets, collate
from codeja.train.megatron import build_command
from codeja.train.mixture import blend_indices, plan_mixture

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "codeja"
WEIGHTS = {"code": 0.5, "ja": 0.3, "chat": 0.2}


@pytest.fixture(scope="module")
def prefixes(tiny_random_model_dir, code_prefix, tmp_path_factory) -> dict[str, str]:
    """Three corpora tokenized for the tiny model: HumanEval code, Japanese web text, and chats (plain rendering)."""
    from train_configs import CONVERSATIONS

    d = tmp_path_factory.mktemp("mix")
    chats = d / "chats.jsonl"
    chats.write_text("".join(
        json.dumps({"messages": [{"role": "user", "content": f"{q} ({i})"}, {"role": "assistant", "content": a}]},
                   ensure_ascii=False) + "\n" for i in range(12) for q, a in CONVERSATIONS), encoding="utf-8")
    out = {"code": code_prefix}
    for name, src in (("ja", PACKAGE / "curate" / "resources" / "ja_web_sample.jsonl"), ("chat", chats)):
        tokenize_corpus(TokenizeConfig(input=str(src), model=str(tiny_random_model_dir)), d / name / "corpus",
                        progress=False)
        out[name] = str(d / name / "corpus")
    return out


def _cfg(model, prefixes, weights=WEIGHTS, **kw) -> CPTConfig:
    base = dict(
        model=str(model), max_steps=8, per_device_batch_size=3,
        data=[{"name": n, "prefix": prefixes[n], "weight": w,
               "fim": {"mode": "off"} if n == "ja" else {"fim_rate": 1.0} if n == "code" else {}}
              for n, w in (weights or {}).items()],
        fim={"seq_len": 64, "fim_rate": 0.5}, validation={"docs": 4},
        optim={"learning_rate": 1e-3, "warmup_ratio": 0.0},
        megatron={"split": "90,10,0"},  # the chat corpus has 48 documents: 998,1,1 would leave valid empty
    )
    base.update(kw)
    return CPTConfig.model_validate(base)


def _sentinel_ids(tok) -> set[int]:
    from codeja.fim.sentinels import resolve_sentinels

    s = resolve_sentinels(tok)
    return {s.prefix, s.middle, s.suffix}


def test_blend_interleaves_within_one_sample_of_the_weights():
    which, nth = blend_indices([0.5, 0.3, 0.2], 1000)
    for k in (1, 7, 100, 999, 1000):
        counts = np.bincount(which[:k], minlength=3)
        assert (np.abs(counts - np.array([0.5, 0.3, 0.2]) * k) <= 1.0).all(), (k, counts)
    for s in range(3):  # each source's samples are taken in order 0, 1, 2, ...
        assert (nth[which == s] == np.arange((which == s).sum())).all()


def test_plan_dry_runs_and_the_megatron_blend(tiny_random_model_dir, prefixes, tmp_path):
    from megatron.core.datasets.utils import get_blend_from_list

    from codeja.fim.megatron import load_fim_blend

    cfg = _cfg(tiny_random_model_dir, prefixes)
    plan = plan_mixture(cfg)
    assert plan.samples == 24 and [s.samples for s in plan.sources] == [12, 7, 5]  # 0.5/0.3/0.2 of 24, rounded
    for s in plan.sources:
        assert s.tokens == s.samples * 64 and s.epochs == pytest.approx(s.samples / (s.train_tokens // 64), abs=1e-3)
    assert plan.sources[1].fim == "off" and plan.sources[0].fim.startswith("context 1")

    # transformers engine: `--dry-run` prints the plan and runs nothing
    cfg_path = tmp_path / "mix.yaml"
    cfg_path.write_text("stage: train.cpt\n" + dump_yaml(cfg), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "codeja.cli", "train", "cpt", str(cfg_path), "--dry-run",
                           "-o", str(tmp_path / "hf")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines() if line and line[0] != "#"}
    assert rows["code"][1:3] == ["0.5000", "12"] and rows["ja"][-1] == "off" and rows["total"][2] == "24"
    assert not (tmp_path / "hf").exists()

    # Megatron engine: Megatron's own --data-path w1 p1 w2 p2 w3 p3, and per-prefix FIM settings in fim.yaml
    out = tmp_path / "meg"
    from codeja.train.megatron import run_megatron

    summary = run_megatron(cfg, out, dry_run=True)
    argv = build_command(cfg, out).argv
    i = argv.index("--data-path")
    values = argv[i + 1: i + 7]
    assert values == ["0.5", prefixes["code"], "0.3", prefixes["ja"], "0.2", prefixes["chat"]]
    assert "--data-path " + " ".join(values) in summary["command"]  # one line of command.sh
    got_prefixes, got_weights = get_blend_from_list(values)  # what Megatron-LM does with the flag
    assert got_prefixes == [s.prefix for s in cfg.sources] and got_weights == [0.5, 0.3, 0.2]
    fims = load_fim_blend(str(out / "fim.yaml"), seq_len=64, seed=cfg.seed)
    assert fims.for_prefix(prefixes["ja"]).mode == "off" and fims.for_prefix(prefixes["code"]).fim_rate == 1.0
    assert fims.for_prefix(prefixes["chat"]) == cfg.fim
    meg = {s["name"]: s for s in summary["data_plan"]["sources"]}
    assert summary["data_plan"]["samples"] == 8 * cfg.megatron.global_batch_size
    assert meg["code"]["samples"] == 2048 and meg["ja"]["samples"] == 1229  # the same blend at Megatron's size
    print("\n" + next(line for line in summary["command"].splitlines() if "--data-path" in line).strip())
    print(summary["data_plan_table"])

    # weight 0 leaves a source out on both engines; a single live source is a plain --data-path
    zero = _cfg(tiny_random_model_dir, prefixes, {"code": 0.7, "ja": 0.3, "chat": 0.0})
    argv = build_command(zero, out).argv
    assert argv[argv.index("--data-path") + 1: argv.index("--data-path") + 6] == [
        "0.7", prefixes["code"], "0.3", prefixes["ja"], "--split"]
    assert plan_mixture(zero).sources[2].samples == 0
    only = _cfg(tiny_random_model_dir, prefixes, {"code": 1.0, "ja": 0.0})
    argv = build_command(only, out).argv
    assert argv[argv.index("--data-path") + 1: argv.index("--data-path") + 3] == [prefixes["code"], "--split"]

    # target tokens must add up to what the run trains on; document-level FIM has no Megatron dataset
    tokens = {"code": 12 * 64, "ja": 7 * 64, "chat": 5 * 64}
    ok = _cfg(tiny_random_model_dir, prefixes, None, data=[
        {"name": n, "prefix": prefixes[n], "tokens": t} for n, t in tokens.items()])
    assert [s.samples for s in plan_mixture(ok).sources] == [12, 7, 5]
    with pytest.raises(ConfigError, match="set max_steps to 8"):
        plan_mixture(ok.model_copy(update={"max_steps": 20}))
    with pytest.raises(ConfigError, match="source 'ja': fim.mode=document"):
        build_command(_cfg(tiny_random_model_dir, prefixes, data=[
            {"name": "code", "prefix": prefixes["code"], "weight": 1},
            {"name": "ja", "prefix": prefixes["ja"], "weight": 1, "fim": {"mode": "document"}}]), out)
    with pytest.raises(ConfigError, match="source 'code': megatron.split 998,1,1 leaves its valid split without"):
        plan_mixture(_cfg(tiny_random_model_dir, prefixes, megatron={"split": "998,1,1"}), engine="megatron")
    with pytest.raises(InputError, match="source 'ja': indexed dataset not found"):
        plan_mixture(_cfg(tiny_random_model_dir, {**prefixes, "ja": str(tmp_path / "missing")}))


def test_an_empty_corpus_counts_as_no_documents(tiny_random_model_dir, prefixes, tmp_path):
    """A 0-byte .bin (written by other tools; codeja's tokenize refuses) is 0 documents, not a memory-map crash:
    fine at weight 0 (the synthetic-share-0 arm of an ablation), the usual error at a weight above 0."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    empty = str(tmp_path / "empty")
    IndexedDatasetBuilder(empty + ".bin", dtype=np.uint16).finalize(empty + ".idx")
    assert Path(empty + ".bin").stat().st_size == 0
    both = {**prefixes, "empty": empty}
    plan = plan_mixture(_cfg(tiny_random_model_dir, both, {"code": 1.0, "empty": 0}), engine="hf")
    assert [(s.name, s.documents, s.samples) for s in plan.sources][1] == ("empty", 0, 0)
    with pytest.raises(InputError, match="source 'empty': its 0 training tokens fill no sample"):
        plan_mixture(_cfg(tiny_random_model_dir, both, {"code": 0.5, "empty": 0.5}), engine="hf")


def test_config_errors_name_the_source():
    def load(data):
        return load_config(None, CPTConfig, base={"data": data})

    with pytest.raises(ConfigError, match="source 'b' has neither weight nor tokens"):
        load([{"name": "a", "prefix": "x", "weight": 1}, {"name": "b", "prefix": "y"}])
    with pytest.raises(ConfigError, match="mix of weight and tokens"):
        load([{"name": "a", "prefix": "x", "weight": 1}, {"name": "b", "prefix": "y", "tokens": 10}])
    with pytest.raises(ConfigError, match="two sources have the prefix 'x'"):
        load([{"name": "a", "prefix": "x", "weight": 1}, {"name": "b", "prefix": "x", "weight": 1}])
    with pytest.raises(ConfigError, match=r"data.sources.0.weigth: unknown key"):
        load([{"name": "a", "prefix": "x", "weigth": 1}])
    with pytest.raises(ConfigError, match="source 'a': fim.fim_rate"):
        load([{"name": "a", "prefix": "x", "weight": 1, "fim": {"fim_rate": 2}},
              {"name": "b", "prefix": "y", "weight": 1}])
    with pytest.raises(ConfigError, match="fim.seq_len is set once for the run"):
        load([{"name": "a", "prefix": "x", "weight": 1, "fim": {"seq_len": 128}}])
    with pytest.raises(ConfigError, match="every source has weight 0"):
        load([{"name": "a", "prefix": "x", "weight": 0}, {"name": "b", "prefix": "y", "weight": 0}])


def test_same_sources_as_megatron_and_same_samples_for_any_workers_or_resume(tiny_random_model_dir, prefixes,
                                                                              tmp_path):
    from codeja.fim.megatron import build_fim_gpt_datasets
    from codeja.train.common import load_tokenizer

    tok = load_tokenizer(str(tiny_random_model_dir))
    cfg = _cfg(tiny_random_model_dir, prefixes)
    mix = build_datasets(cfg, tok)["train"]
    sources = [mix[p]["source"] for p in range(len(mix))]
    assert mix.samples_per_source(len(mix)) == [sources.count(s) for s in range(3)] == [12, 7, 5]
    # megatron-core's BlendedDataset (what --data-path builds) picks the same source at every position
    meg, _, _ = build_fim_gpt_datasets([prefixes[n] for n in WEIGHTS], tok, cfg.fim, [len(mix), 0, 0],
                                       split="100,0,0", weights=list(WEIGHTS.values()),
                                       fim_by_prefix={s.prefix: cfg.source_fim(s) for s in cfg.sources})
    assert meg.dataset_index[: len(mix)].tolist() == sources
    # per-source FIM, the same on both engines: code always FIM'd (rate 1), Japanese prose never
    sentinels = _sentinel_ids(tok)
    for p in range(len(mix)):
        hf_ids, meg_ids = set(mix[p]["input_ids"].tolist()), set(meg[p]["tokens"].tolist())
        if sources[p] == 0:
            assert sentinels & hf_ids and sentinels & meg_ids
        if sources[p] == 1:
            assert not sentinels & hf_ids and not sentinels & meg_ids

    def read(workers: int) -> tuple[torch.Tensor, torch.Tensor]:
        loader = torch.utils.data.DataLoader(mix, batch_size=3, num_workers=workers,
                                             collate_fn=lambda items: collate(items, with_source=True))
        batches = list(loader)
        return torch.cat([b["input_ids"] for b in batches]), torch.cat([b["source"] for b in batches])

    ids0, src0 = read(0)
    ids2, src2 = read(2)
    assert torch.equal(ids0, ids2) and torch.equal(src0, src2) and src0.tolist() == sources
    # a resumed run is a new process: a fresh dataset, asked from the middle, in any order, gives the same samples
    fresh = build_datasets(cfg, tok)["train"]
    for p in reversed(range(9, len(mix))):
        assert torch.equal(fresh[p]["input_ids"], ids0[p]) and fresh[p]["source"] == src0[p]
    # and a run long enough to need several epochs of a small source keeps going, one permutation per epoch
    long = build_datasets(cfg.model_copy(update={"max_steps": 200}), tok)["train"]
    chat_epochs = long.orders[2].n
    chat_positions = [p for p in range(len(long)) if long.locate(p)[0] == 2]
    assert len(chat_positions) > 2 * chat_epochs


class _Interrupt(Exception):
    pass


@pytest.mark.slow
def test_tiny_run_realised_shares_match_the_weights_and_resume(tiny_random_model_dir, prefixes, tmp_path):
    """8 steps x 3 samples of 64 tokens from code / Japanese / chats at 0.5 / 0.3 / 0.2; interrupted after the
    checkpoint at step 4 and resumed, it trains on the same samples and reports the same shares."""
    from transformers import TrainerCallback

    from codeja.train.common import read_metrics
    from codeja.train.cpt import train_cpt

    cfg = _cfg(tiny_random_model_dir, prefixes, save_steps=4)
    ref = train_cpt(cfg, tmp_path / "ref")
    n = ref["steps"] * 3
    shares = {}
    for name, w in WEIGHTS.items():
        got = ref["mixture"][name]
        sigma = math.sqrt(w * (1 - w) / n)  # binomial standard error of a share of n independent draws
        assert abs(got["share"] - w) <= 3 * sigma, (name, got, sigma)
        # megatron-core's blending is tighter: within one sample of w * n (FIM padding aside)
        assert abs(got["trained_tokens"] / 64 - w * n) <= 1.0 + 0.05, (name, got)
        shares[name] = (got["share"], round(sigma, 4))
    print("\nrealised token shares (share, binomial sigma) over", n, "samples:", shares)
    man = json.loads((tmp_path / "ref" / "manifest.json").read_text())
    assert man["summary"]["mixture"] == ref["mixture"] and man["data_plan"]["samples"] == 24
    rows = [r for r in read_metrics(tmp_path / "ref") if "loss" in r]
    assert all({"share_code", "share_ja", "share_chat"} <= set(r) for r in rows)
    assert rows[-1]["share_code"] == ref["mixture"]["code"]["share"]
    assert set(ref["heldout"]) == {"code", "ja", "chat"} and ref["heldout"]["ja"]["fim"] is None
    assert ref["heldout"]["code"]["fim"] > 0 and ref["heldout_loss_l2r"] > 0

    class Kill(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step == 4:
                raise _Interrupt("killed after checkpoint 4")

    out = tmp_path / "resumed"
    with pytest.raises(_Interrupt):
        train_cpt(cfg, out, callbacks=[Kill()])
    assert json.loads((out / "checkpoints" / "checkpoint-4" / "source_tokens.json").read_text())
    got = train_cpt(cfg, out)
    assert json.loads((out / "manifest.json").read_text())["resumed_from"].endswith("checkpoint-4")
    assert {k: v["trained_tokens"] for k, v in got["mixture"].items()} == {
        k: v["trained_tokens"] for k, v in ref["mixture"].items()}
    want = [(r["step"], r["loss"]) for r in read_metrics(tmp_path / "ref") if "loss" in r]
    again = [(r["step"], r["loss"]) for r in read_metrics(out) if "loss" in r]
    assert [s for s, _ in again] == list(range(1, 9))
    for (step, a), (_, b) in zip(want, again):
        assert b == pytest.approx(a, rel=1e-5, abs=1e-6), f"step {step}"


def test_megatron_provider_builds_the_dry_runs_blend(tiny_random_model_dir, prefixes, tmp_path, monkeypatch):
    """fim_dataset_provider inside a stand-in for Megatron-LM's `megatron.training`, fed the launcher's own argv and
    fim.yaml: the blend and the per-source FIM settings it builds are the config's."""
    from megatron.core.datasets.utils import get_blend_from_list

    from codeja.fim.megatron import HFTokenizerForMegatron, fim_dataset_provider
    from codeja.fim.sentinels import resolve_eod
    from codeja.train.common import load_tokenizer

    tok = load_tokenizer(str(tiny_random_model_dir))
    cfg = _cfg(tiny_random_model_dir, prefixes)
    out = tmp_path / "meg"
    from codeja.train.megatron import run_megatron

    run_megatron(cfg, out, dry_run=True)
    argv = build_command(cfg, out).argv
    flags: dict[str, list[str]] = {}
    for item in argv[argv.index("--tensor-model-parallel-size"):]:
        if item.startswith("--"):
            flags[item] = []
            key = item
        else:
            flags[key].append(item)
    args = types.SimpleNamespace(
        data_path=flags["--data-path"], split=flags["--split"][0], seq_length=int(flags["--seq-length"][0]),
        seed=int(flags["--seed"][0]), data_cache_path=None, reset_position_ids=False,
        reset_attention_mask=False, eod_mask_loss=False, create_attention_mask_in_dataloader=False)
    training = types.ModuleType("megatron.training")
    training.get_args = lambda: args
    training.get_tokenizer = lambda: HFTokenizerForMegatron(tok, resolve_eod(tok)[0])
    training.print_rank_0 = print
    utils = types.ModuleType("megatron.training.utils")
    utils.get_blend_and_blend_per_split = lambda a: (get_blend_from_list(a.data_path), None)
    monkeypatch.setitem(sys.modules, "megatron.training", training)
    monkeypatch.setitem(sys.modules, "megatron.training.utils", utils)
    monkeypatch.setenv("CODEJA_FIM_CONFIG", str(out / "fim.yaml"))
    assert read_yaml(out / "fim.yaml")["by_prefix"][prefixes["ja"]]["mode"] == "off"

    train, _, _ = fim_dataset_provider([48, 0, 0])
    mix = build_datasets(cfg.model_copy(update={"max_steps": 16}), tok)["train"]
    assert train.dataset_index[:48].tolist() == [mix.locate(p)[0] for p in range(48)]
    assert [d.fim.mode for d in train.datasets] == ["context", "off", "context"]
    assert [d.fim.fim_rate for d in train.datasets] == [1.0, 0.5, 0.5]
    sentinels = _sentinel_ids(tok)
    ja = [train[p]["tokens"] for p in range(48) if train.dataset_index[p] == 1]
    assert ja and not any(sentinels & set(t.tolist()) for t in ja)
