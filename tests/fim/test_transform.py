"""Properties of the FIM transform on code and Japanese with byte-split rare kanji, for BPE and SentencePiece."""

from __future__ import annotations

import numpy as np
import pytest
from fim_helpers import JAPANESE, RARE_KANJI, make
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeja.fim.codec import TokenCodec
from codeja.fim.config import FIMConfig
from codeja.fim.inspect import binomial_interval
from codeja.fim.sentinels import resolve_sentinels
from codeja.fim.transform import FIMTransform, SampleStats, sample_rng

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DOC = st.lists(st.sampled_from(["def f(x):\n", "    return x\n", "日本語の説明。", "変数", RARE_KANJI[:3], "𠮷",
                                "'<fim_prefix>'", "  ", "\t", "a", "é"]), min_size=1, max_size=30).map("".join)


def context(codec, sent, docs):
    ids = []
    for d in docs:
        ids += codec.encode(d) + [sent.eod]
    return np.asarray(ids, dtype=np.int64)


@pytest.mark.parametrize("window", [16, 0])
@SETTINGS
@given(docs=st.lists(DOC, min_size=1, max_size=6), start=st.integers(0, 40), length=st.integers(8, 300),
       seed=st.integers(0, 2**31))
def test_exact_length_reassembly_no_fffd(any_tok, window, docs, start, length, seed):
    codec, tr = make(any_tok, fim_rate=1.0, spm_rate=0.5, reencode_window=window)
    full = context(codec, tr.sentinels, docs)
    window_tokens = full[start:start + length + 16]  # cut anywhere: mid-document, mid-character
    out = tr.apply(window_tokens, sample_rng(seed, 0, 0), length, check=True)
    assert len(out.tokens) == length
    assert out.stats.roundtrip_mismatches == 0
    assert out.stats.replacement_chars == 0
    assert out.n_pad == out.stats.padded
    if out.n_pad:
        assert (out.tokens[length - out.n_pad:] == tr.sentinels.pad).all()


@SETTINGS
@given(doc=DOC, u=st.tuples(st.floats(0, 0.999), st.floats(0, 0.999)), spm=st.booleans())
def test_layout_and_pieces(bpe_tok, doc, u, spm):
    codec, tr = make(bpe_tok, spm_variant="v2")
    s = tr.sentinels
    seg = np.asarray(codec.encode(doc), dtype=np.int64)
    out = tr.fim_document(seg, np.array(u), spm, SampleStats()).tolist()
    if spm:  # <PRE><SUF> S <MID> P M
        assert out[:2] == [s.prefix, s.suffix]
        k = out.index(s.middle)
        suffix, pm = out[2:k], out[k + 1:]
        text = codec.decode_text(pm)
        assert text + codec.decode_text(suffix) == doc
    else:  # <PRE> P <SUF> S <MID> M
        assert out[0] == s.prefix
        i, k = out.index(s.suffix), out.index(s.middle)
        p, sfx, m = out[1:i], out[i + 1:k], out[k + 1:]
        assert codec.decode_text(p) + codec.decode_text(m) + codec.decode_text(sfx) == doc


def test_spm_v1_layout(bpe_tok):
    codec, tr = make(bpe_tok, spm_variant="v1")
    s = tr.sentinels
    out = tr.fim_document(np.asarray(codec.encode("abcdef"), dtype=np.int64), np.array([0.3, 0.6]), True,
                          SampleStats()).tolist()
    assert out[0] == s.suffix and s.prefix in out and out.index(s.prefix) < out.index(s.middle)


def test_rate_zero_is_identity_and_rate_one_fims_all(bpe_tok):
    codec, tr0 = make(bpe_tok, fim_rate=0.0)
    docs = ["def a():\n    pass\n", "日本語", "x = 1\n"] * 5
    ctx = context(codec, tr0.sentinels, docs)
    out = tr0.apply(ctx, sample_rng(0, 0, 0), len(ctx))
    assert (out.tokens == ctx).all() and out.stats.fim_docs == 0
    _, tr1 = make(bpe_tok, fim_rate=1.0)
    out1 = tr1.apply(ctx, sample_rng(0, 0, 0), len(ctx) + 100)
    assert out1.stats.fim_docs == out1.stats.docs - 1  # every document; the empty tail after the last EOD is not one
    # the EOD after each FIM'd middle is kept (in the tokens; labels mask only pads)
    assert (out1.tokens == tr1.sentinels.eod).sum() == len(docs)


def test_spm_rate_independent(bpe_tok):
    codec, tr = make(bpe_tok, fim_rate=1.0, spm_rate=0.0)
    ctx = context(codec, tr.sentinels, ["abc def"] * 30)
    st_ = tr.apply(ctx, sample_rng(1, 0, 0), len(ctx) + 200).stats
    assert st_.fim_docs == 30 and st_.spm_docs == 0
    _, tr = make(bpe_tok, fim_rate=1.0, spm_rate=1.0)
    assert tr.apply(ctx, sample_rng(1, 0, 0), len(ctx) + 200).stats.spm_docs == 30


def test_effective_rate_inside_binomial_interval(bpe_tok):
    codec, tr = make(bpe_tok, fim_rate=0.5)
    ctx = context(codec, tr.sentinels, ["x = 1\n", "日本語"] * 20)
    total = SampleStats()
    for i in range(60):
        total.add(tr.apply(ctx, sample_rng(7, 0, i), len(ctx)).stats)
    lo, hi = binomial_interval(total.fim_docs, total.docs)
    assert lo <= 0.5 <= hi


@pytest.mark.parametrize("tok_name", ["bpe_tok", "llama3_tok", "sp_tok"])
@pytest.mark.parametrize("window", [1, 4])
def test_window_and_full_reencoding_give_same_ids(request, tok_name, window):
    """Re-encoding a window around each cut gives the ids of re-encoding whole pieces, not only the same text.

    The documents have blank-line runs before code (``\\s+(?!\\S)`` makes "\\n\\n\\n" one token when a window ends
    inside the run, two in context), long Japanese runs without spaces, and for Llama-3's pre-tokenizer long digit
    runs (grouped in threes from their start) and indented lines after punctuation that keeps its newline.
    """
    tok = request.getfixturevalue(tok_name)
    codec, tw = make(tok, fim_rate=1.0, reencode_window=window)
    _, tf = make(tok, fim_rate=1.0, reencode_window=0)
    docs = [("def f(x):\n    # 日本語の説明 " + RARE_KANJI + "\n    return x\n\n\n") * 4,
            "x = 1\n\n\n\ndef g():\n        pass\n   \n\t\n" * 6,
            "".join(JAPANESE) * 4,
            "total = f(a.b(c)[0],\n            g(h)))\n            ))\n    n = 5090734455.22 * 12345678\n" * 5]
    for doc in docs:
        seg = np.asarray(codec.encode(doc), dtype=np.int64)
        for k in range(40):
            u = np.random.default_rng(k).random(2)
            a = tw.fim_document(seg, u, False, SampleStats())
            b = tf.fim_document(seg, u, False, SampleStats())
            assert a.tolist() == b.tolist(), (doc[:20], k)


def test_fragments_split_on_separator(bpe_tok):
    codec = TokenCodec(bpe_tok)
    sent = resolve_sentinels(bpe_tok)
    tr = FIMTransform(codec, sent, FIMConfig(fim_rate=1.0, fragment_separator="<file_sep>", fragment_rate=1.0))
    sep = bpe_tok.convert_tokens_to_ids("<file_sep>")
    seg = np.asarray(codec.encode("a.py\nx=1\n") + [sep] + codec.encode("b.py\ny=2\n"), dtype=np.int64)
    stats = SampleStats()
    out = tr.segment(seg, sample_rng(0, 0, 0), stats)
    assert stats.fim_docs == 2 and (out == sep).sum() == 1
    with pytest.raises(Exception, match="fragment_separator"):
        FIMTransform(codec, sent, FIMConfig(fragment_separator="<nope>"))


def test_config_rejects_bad_keys_and_values():
    from codeja.config import ConfigError, validate

    with pytest.raises(ConfigError, match="fim_rat"):
        validate(FIMConfig, {"fim_rat": 0.5})
    with pytest.raises(ConfigError):
        validate(FIMConfig, {"fim_rate": 1.5})
    with pytest.raises(ConfigError):
        validate(FIMConfig, {"mode": "token"})
