"""The byte-exact codec: decode(encode(s)) == s, pieces concatenate, sentinels in code stay text, edges trimmed."""

from __future__ import annotations

import numpy as np
import pytest
from fim_helpers import CODE, JAPANESE, RARE_KANJI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeja.errors import CodejaError
from codeja.fim.codec import TokenCodec, utf8_bounds

ALPHABET = st.sampled_from(list("abcxyz_(){}[]:=+-*/#'\"\n\t  ") + list("日本語のコードです。関数") + list(RARE_KANJI))
TEXT = st.one_of(
    st.lists(st.one_of(ALPHABET, st.sampled_from(CODE + JAPANESE + ["<fim_prefix>", "<|endoftext|>", "</s>"])),
             max_size=25).map("".join),
    st.text(max_size=60),
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def codecs(bpe_tok, sp_tok):
    return {"bpe": TokenCodec(bpe_tok), "sp": TokenCodec(sp_tok)}


@pytest.mark.parametrize("name", ["bpe", "sp"])
@SETTINGS
@given(a=TEXT, b=TEXT)
def test_roundtrip_and_concatenation(codecs, name, a, b):
    codec = codecs[name]
    if name == "sp":  # SentencePiece: a literal U+2581 is the space piece (see test_sentencepiece_meta_space_is_space)
        a, b = a.replace("\u2581", " "), b.replace("\u2581", " ")
    for s in (a, b, a + b):
        assert codec.decode_bytes(codec.encode(s)) == s.encode("utf-8")
    assert codec.decode_bytes(codec.encode(a) + codec.encode(b)) == (a + b).encode("utf-8")


def test_sentencepiece_meta_space_is_space(codecs):
    """A literal U+2581 cannot survive a SentencePiece-style vocabulary: it encodes as the space piece."""
    assert codecs["sp"].encode("a\u2581b") == codecs["sp"].encode("a b")
    assert codecs["sp"].decode_bytes(codecs["sp"].encode("a\u2581b")) == b"a b"
    assert codecs["bpe"].decode_bytes(codecs["bpe"].encode("a\u2581b")) == "a\u2581b".encode("utf-8")


def test_kinds_and_byte_fallback(codecs, sp_tok):
    assert codecs["bpe"].kind == "byte-level"
    assert codecs["sp"].kind == "sentencepiece" and codecs["sp"].byte_fallback
    # rare kanji really are split into byte pieces by the SentencePiece model
    pieces = sp_tok.convert_ids_to_tokens(codecs["sp"].encode("鬱"))
    assert pieces == ["<0xE9>", "<0xAC>", "<0xB1>"]
    assert all(c.roundtrip_ok for c in codecs.values())


@pytest.mark.parametrize("name", ["bpe", "sp"])
def test_literal_sentinels_and_no_bos(codecs, name, bpe_tok, sp_tok):
    codec = codecs[name]
    tok = bpe_tok if name == "bpe" else sp_tok
    specials = {tok.convert_tokens_to_ids(t) for t in ("<fim_prefix>", "<|endoftext|>", "<fim_middle>")}
    ids = codec.encode("x = '<fim_prefix>' + '<|endoftext|>'")
    assert not specials & set(ids), "a literal sentinel string in code must not become a control token"
    assert codec.decode_text(ids) == "x = '<fim_prefix>' + '<|endoftext|>'"
    if tok.bos_token_id is not None:
        assert tok.bos_token_id not in codec.encode("hello")
    # no dummy-prefix space: a piece starting without a space decodes without one
    assert codec.decode_text(codec.encode("def")) == "def"


def test_special_token_ids_survive_decode_encode(codecs, bpe_tok):
    codec = codecs["bpe"]
    sep = bpe_tok.convert_tokens_to_ids("<file_sep>")
    ids = codec.encode("a.py\n") + [sep] + codec.encode("b.py\nprint(1)")
    assert codec.encode(codec.decode_text(ids)) .count(sep) == 1
    assert codec.decode_bytes(codec.encode(codec.decode_text(ids))) == codec.decode_bytes(ids)
    assert "<file_sep>" in codec.render(ids)


def test_pickle_roundtrip(codecs):
    import pickle

    c2 = pickle.loads(pickle.dumps(codecs["sp"]))
    assert c2.encode("日本語 x") == codecs["sp"].encode("日本語 x")


def test_slow_tokenizer_rejected():
    class Slow:
        name_or_path = "slow"

    with pytest.raises(CodejaError, match="fast"):
        TokenCodec(Slow())


@given(st.text(min_size=1, max_size=30), st.integers(0, 6), st.integers(0, 6))
@settings(max_examples=200, deadline=None)
def test_utf8_bounds_trims_only_partial_edges(s, cut_a, cut_b):
    b = s.encode("utf-8")
    piece = b[min(cut_a, len(b)):max(0, len(b) - cut_b)]
    lo, hi = utf8_bounds(piece)
    piece[lo:hi].decode("utf-8")  # always decodable
    assert lo <= 3 and len(piece) - hi <= 3
    # nothing is dropped from a complete string
    assert utf8_bounds(b) == (0, len(b))
    assert utf8_bounds(np.frombuffer(b, dtype=np.uint8)) == (0, len(b))
