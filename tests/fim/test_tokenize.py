"""codeja tokenize: indexed dataset + sidecar, quarantine accounting, resume, worker-independence, CLI, prompts."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from fim_helpers import make_docs, write_jsonl

from codeja.errors import InputError
from codeja.fim.codec import TokenCodec
from codeja.fim.config import TokenizeConfig
from codeja.fim.packing import open_indexed
from codeja.fim.tokenize import tokenize_corpus


def _input(tmp_path):
    docs = make_docs(40, seed=1)
    src = tmp_path / "in"
    write_jsonl(src / "a.jsonl", docs[:20])
    with gzip.open(src / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        for d in docs[20:]:
            f.write(json.dumps({"id": "x", "text": d}, ensure_ascii=False) + "\n")
        f.write("{not json\n")
        f.write(json.dumps({"id": "m"}) + "\n")
        f.write(json.dumps({"id": "e", "text": ""}) + "\n")
        f.write(json.dumps({"id": "n", "text": 5}) + "\n")
    (src / "c.jsonl").write_bytes(b'{"id": "u", "text": "\xff\xfe bad utf8"}\n'
                                  + ("x" * 200_000).join(['{"id": "huge", "text": "', '"}\n']).encode())
    return src, docs


def test_tokenize_writes_dataset_sidecar_and_quarantine(tmp_path, bpe_tok):
    src, docs = _input(tmp_path)
    prefix = tmp_path / "out" / "corpus"
    s = tokenize_corpus(TokenizeConfig(input=str(src), model="m", docs_per_shard=7), prefix, tokenizer=bpe_tok,
                        progress=False)
    assert s["rows"] == 40 + 4 + 2 and s["docs"] == 41 and s["quarantined"] == 5
    assert s["rows"] == s["docs"] + s["quarantined"]
    q = [json.loads(x) for x in open(f"{prefix}.quarantine.jsonl", encoding="utf-8")]
    assert {r["reason"].split(":")[0] for r in q} >= {"invalid JSON", "missing field 'text'", "field 'text' is empty"}
    assert all(r["path"] and r["line"] for r in q)
    side = json.loads(open(f"{prefix}.json", encoding="utf-8").read())
    assert side["tokenizer"]["kind"] == "byte-level" and side["eod_token"] == "<|endoftext|>"
    assert side["dtype"] == "uint16"
    ds = open_indexed(prefix)
    codec = TokenCodec(bpe_tok)
    assert len(ds) == 41 and int(ds.sequence_lengths.sum()) == s["tokens"]
    for i in range(20):  # file a.jsonl, in order, each followed by exactly one EOD
        toks = ds[i]
        assert toks[-1] == side["eod_id"] and (toks == side["eod_id"]).sum() == 1
        assert codec.decode_text(toks[:-1]) == docs[i]
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["counts"]["docs"] == 41


def test_no_documents_is_an_error_naming_the_input(tmp_path, bpe_tok):
    """An empty indexed dataset cannot be memory-mapped: tokenize refuses to write one."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "e", "text": ""}) + "\n" + json.dumps({"id": "m"}) + "\n", encoding="utf-8")
    for src, rows in ((empty, 0), (bad, 2)):
        with pytest.raises(InputError, match=f"no documents to tokenize: {rows} rows read, {rows} quarantined") as e:
            tokenize_corpus(TokenizeConfig(input=str(src), model="m"), tmp_path / src.stem / "c", tokenizer=bpe_tok,
                            progress=False)
        assert str(src) in str(e.value)


def test_private_use_characters_stay_text(tmp_path, bpe_tok):
    """Icon-font glyphs (U+F0000...) in a document are text, not the special ids the codec's placeholders stand for."""
    codec = TokenCodec(bpe_tok)
    docs = ["icons = '\U000F0000 \U000F0001'\n", "plain\n"]
    prefix = tmp_path / "out" / "c"
    s = tokenize_corpus(TokenizeConfig(input=str(write_jsonl(tmp_path / "in.jsonl", docs)), model="m"), prefix,
                        tokenizer=bpe_tok, progress=False)
    ds = open_indexed(prefix)
    assert s["docs"] == 2 and (ds[0] == s["eod_id"]).sum() == 1  # U+F0000 did not become an EOD
    assert not np.isin(ds[0][:-1], codec.special_ids).any()
    assert codec.decode_text(ds[0][:-1]) == docs[0]


def test_resume_skip_and_identical_across_workers(tmp_path, bpe_tok):
    src, _ = _input(tmp_path)
    cfg = TokenizeConfig(input=str(src), model="m", docs_per_shard=5)
    p1 = tmp_path / "o1" / "c"
    tokenize_corpus(cfg, p1, tokenizer=bpe_tok, progress=False)
    first = (p1.parent / "manifest.json").read_text()
    tokenize_corpus(cfg, p1, tokenizer=bpe_tok, progress=False)  # complete and unchanged: skipped
    assert (p1.parent / "manifest.json").read_text() == first
    # an interrupted run: keep progress of the first units, delete the outputs, run again
    p2 = tmp_path / "o2" / "c"
    import codeja.fim.tokenize as T

    real, calls = T.tokenize_unit, []

    def flaky(unit, *a, **k):
        calls.append(unit.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(unit, *a, **k)

    T.tokenize_unit = flaky
    try:
        with pytest.raises(KeyboardInterrupt):
            tokenize_corpus(cfg, p2, tokenizer=bpe_tok, progress=False)
    finally:
        T.tokenize_unit = real
    resumed = []
    T.tokenize_unit = lambda unit, *a, **k: (resumed.append(unit.name), real(unit, *a, **k))[1]
    try:
        tokenize_corpus(cfg, p2, tokenizer=bpe_tok, progress=False)
    finally:
        T.tokenize_unit = real
    assert "00000" not in resumed and "00001" not in resumed
    for ext in ("bin", "idx"):
        assert open(f"{p1}.{ext}", "rb").read() == open(f"{p2}.{ext}", "rb").read()


@pytest.mark.slow
def test_workers_give_identical_output(tmp_path, bpe_tok):
    src, _ = _input(tmp_path)
    outs = []
    for w in (1, 2):
        p = tmp_path / f"w{w}" / "c"
        tokenize_corpus(TokenizeConfig(input=str(src), model="m", docs_per_shard=6, workers=w), p,
                        tokenizer=bpe_tok, progress=False)
        outs.append((open(f"{p}.bin", "rb").read(), open(f"{p}.idx", "rb").read()))
    assert outs[0] == outs[1]


def test_parquet_input_and_errors(tmp_path, sp_tok):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["日本語 鬱", None, "def f(): pass"]}),
                   tmp_path / "d.parquet")
    s = tokenize_corpus(TokenizeConfig(input=str(tmp_path / "d.parquet"), model="m"), tmp_path / "o" / "c",
                        tokenizer=sp_tok, progress=False)
    assert s["docs"] == 2 and s["quarantined"] == 1 and s["tokenizer"]["kind"] == "sentencepiece"
    with pytest.raises(InputError, match="not found"):
        tokenize_corpus(TokenizeConfig(input=str(tmp_path / "nope"), model="m"), tmp_path / "x" / "c", tokenizer=sp_tok)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .jsonl"):
        tokenize_corpus(TokenizeConfig(input=str(tmp_path / "empty"), model="m"), tmp_path / "x" / "c",
                        tokenizer=sp_tok)
    with pytest.raises(Exception, match="unknown key"):
        from codeja.config import validate

        validate(TokenizeConfig, {"input": "a", "model": "b", "worker": 2})


def test_cli_tokenize_and_inspect(tmp_path, bpe_tok):
    from typer.testing import CliRunner

    from codeja.cli import app

    tokdir = tmp_path / "tok"
    bpe_tok.save_pretrained(tokdir)
    src = write_jsonl(tmp_path / "in" / "d.jsonl", make_docs(60, seed=2))
    r = CliRunner().invoke(app, ["tokenize", "--input", str(src), "--model", str(tokdir), "--output",
                                 str(tmp_path / "o" / "c"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["docs"] == 60
    r = CliRunner().invoke(app, ["fim", "inspect", "--data", str(tmp_path / "o" / "c"), "--model", str(tokdir),
                                 "--mode", "context", "--fim-rate", "0.9", "--spm-rate", "0.5", "--seq-len", "64",
                                 "--samples", "20", "--seed", "1", "--show", "2", "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output.strip().splitlines()[-1])
    for key in ("samples", "fim_docs", "docs", "effective_fim_rate", "spm_fraction", "truncated", "padded",
                "replacement_chars", "roundtrip_mismatches", "lengths"):
        assert key in rep
    assert rep["lengths"] == [64] and rep["replacement_chars"] == 0 and len(rep["shown"]) == 2
    assert "<fim_prefix>" in "".join(x["text"] for x in rep["shown"])


def test_prompts_match_training_layout(bpe_tok):
    from codeja.fim.prompt import build_fim_prompt, build_fim_prompt_ids, fim_stop_tokens

    assert build_fim_prompt(bpe_tok, "def f(", "):\n") == "<fim_prefix>def f(<fim_suffix>):\n<fim_middle>"
    assert build_fim_prompt(bpe_tok, "P", "S", "spm") == "<fim_prefix><fim_suffix>S<fim_middle>P"
    assert build_fim_prompt(bpe_tok, "P", "S", "spm", spm_variant="v1") == "<fim_suffix>S<fim_prefix>P<fim_middle>"
    ids = build_fim_prompt_ids(bpe_tok, "x = '<fim_prefix>'", "\n")
    codec = TokenCodec(bpe_tok)
    pre = bpe_tok.convert_tokens_to_ids("<fim_prefix>")
    assert ids[0] == pre and ids.count(pre) == 1  # the literal in the code stays text
    assert codec.decode_text(ids[1:ids.index(bpe_tok.convert_tokens_to_ids("<fim_suffix>"))]) == "x = '<fim_prefix>'"
    assert fim_stop_tokens(bpe_tok)[:2] == ["<|endoftext|>", "<fim_pad>"]


def test_sentinel_registry(bpe_tok, sp_tok):
    from codeja.errors import ConfigError
    from codeja.fim.sentinels import REGISTRY, resolve_sentinels

    assert {"starcoder", "qwen2.5-coder", "codellama", "deepseek-coder", "llama3-reserved"} <= set(REGISTRY)
    s = resolve_sentinels(sp_tok)
    assert s.convention == "starcoder" and s.eod_str == "<|endoftext|>"
    with pytest.raises(ConfigError, match="no FIM sentinel"):
        resolve_sentinels(bpe_tok, "qwen2.5-coder")
    with pytest.raises(ConfigError, match="unknown convention"):
        resolve_sentinels(bpe_tok, "nope")
    tok = type(bpe_tok).from_pretrained(bpe_tok.name_or_path)
    tok.add_tokens(["<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"], special_tokens=True)
    assert resolve_sentinels(tok).convention == "starcoder"  # first match in registry order
    assert resolve_sentinels(tok, "qwen2.5-coder").prefix == tok.convert_tokens_to_ids("<|fim_prefix|>")
    assert np.isscalar(resolve_sentinels(tok, "qwen2.5-coder").pad)
