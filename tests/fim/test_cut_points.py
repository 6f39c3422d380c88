"""The fast cut path: characters located with per-id tables, cut points uniform over characters, counter RNG."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from fim_helpers import RARE_KANJI, make
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeja.fim.codec import SLOW_PATH_FLAG, TokenCodec, utf8_bounds
from codeja.fim.transform import SampleRandom, SampleStats, sample_random

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DOC = st.lists(st.sampled_from(["def f(x):\n", "    return x\n", "日本語の説明。", "変数", RARE_KANJI[:3], "𠮷",
                                "'<fim_prefix>'", "  ", "\t", "a", "é"]), min_size=1, max_size=30).map("".join)


def psm_pieces(codec, tr, out) -> tuple[str, str, str]:
    """(prefix, middle, suffix) texts of a PSM layout <PRE> P <SUF> S <MID> M."""
    s = tr.sentinels
    out = out.tolist()
    assert out[0] == s.prefix
    i, k = out.index(s.suffix), out.index(s.middle)
    return codec.decode_text(out[1:i]), codec.decode_text(out[k + 1:]), codec.decode_text(out[i + 1:k])


def chi2_critical(df: int, z: float = 3.72) -> float:
    """Upper chi-square quantile (z=3.72: p about 1e-4) by the Wilson-Hilferty approximation."""
    h = 2.0 / (9.0 * df)
    return df * (1.0 - h + z * math.sqrt(h)) ** 3


@pytest.mark.parametrize("window", [8, 1, 0])
@SETTINGS
@given(doc=DOC, start=st.integers(0, 6), drop=st.integers(0, 6), u=st.tuples(st.floats(0, 0.999), st.floats(0, 0.999)),
       special=st.booleans())
def test_pieces_are_exact_character_slices(any_tok, window, doc, start, drop, u, special):
    """The pieces are text[:i], text[i:j], text[j:] of the edge-trimmed segment text, i, j = floor(u * (chars + 1))."""
    codec, tr = make(any_tok, spm_rate=0.0, reencode_window=window)
    ids = codec.encode(doc)
    if special:  # a special token inside the document takes the decoding path
        ids = ids[: len(ids) // 2] + [int(codec.special_ids[-1])] + ids[len(ids) // 2:]
    seg = np.asarray(ids[start:len(ids) - drop], dtype=np.int64)  # token edges may cut characters in half
    if not len(seg):
        return
    buf = codec.decode_bytes(seg)
    lo, hi = utf8_bounds(buf)
    try:
        text = buf[lo:hi].decode("utf-8")
    except UnicodeDecodeError:
        return  # a special id spliced between the bytes of one character: never produced by `codeja tokenize`
    out = tr.fim_document(seg, np.array(u), False, SampleStats())
    m = len(text)
    if m == 0:  # only partial characters: nothing to FIM
        assert out is None
        return
    assert out is not None
    i, j = sorted(min(int(x * (m + 1)), m) for x in u)
    assert psm_pieces(codec, tr, out) == (text[:i], text[i:j], text[j:])


def test_placeholder_lookalike_documents_are_left_alone(bpe_tok):
    """A document that literally holds a private-use character we use for special tokens is never FIM'd."""
    codec, tr = make(bpe_tok)
    lookalike = chr(0xF0000 + 1)
    seg = np.asarray(codec.encode_batch_plain([f"x = '{lookalike}'\n" * 4])[0], dtype=np.int64)  # as tokenized
    assert tr.fim_document(seg, np.array([0.2, 0.7]), False, SampleStats()) is None
    sep = bpe_tok.convert_tokens_to_ids("<file_sep>")
    ok = np.asarray(codec.encode("a.py\n") + [sep] + codec.encode("b.py\n"), dtype=np.int64)
    assert tr.fim_document(ok, np.array([0.2, 0.7]), False, SampleStats()) is not None


@pytest.mark.parametrize("edge", ["whole", "cut"])
def test_cut_points_uniform_over_characters(bpe_tok, edge):
    """Chi-square: both cut characters are uniform over the segment's characters, not its bytes or tokens."""
    codec, tr = make(bpe_tok, fim_rate=1.0, spm_rate=0.0)
    doc = "x = 1  # 日本語 " + RARE_KANJI[:4] + " 𠮷é\n" + "鬱y" * 3
    ids = codec.encode(doc)
    seg = np.asarray(ids if edge == "whole" else ids[1:-1], dtype=np.int64)
    buf = codec.decode_bytes(seg)
    lo, hi = utf8_bounds(buf)
    text = buf[lo:hi].decode("utf-8")
    m = len(text)
    assert len(buf[lo:hi]) > m + 20, "the test document must have many multi-byte characters"
    counts = np.zeros(m + 1, dtype=np.int64)
    draws = 3000
    for k in range(draws):
        out = tr.segment(seg, sample_random(5, 0, k), SampleStats())
        pre, mid, _ = psm_pieces(codec, tr, out)
        counts[len(pre)] += 1
        counts[len(pre) + len(mid)] += 1
    # the two cuts are two independent uniform draws over 0..m (sorted), so pooled they are uniform too
    expected = 2 * draws / (m + 1)
    stat = float(((counts - expected) ** 2 / expected).sum())
    assert stat < chi2_critical(m), (stat, counts.tolist())
    # a cut uniform over bytes would put far more mass after multi-byte characters: the test can tell the two apart
    byte_weights = np.array([len(c.encode("utf-8")) for c in text] + [1], dtype=float)
    byte_expected = 2 * draws * byte_weights / byte_weights.sum()
    assert float(((counts - byte_expected) ** 2 / byte_expected).sum()) > chi2_critical(m)


def test_char_tables_match_token_bytes(any_tok):
    codec = TokenCodec(any_tok)
    for i, b in enumerate(codec.table):
        info = int(codec.char_info[i])
        assert info % SLOW_PATH_FLAG == sum(1 for x in b if x & 0xC0 != 0x80)
        assert (info >= SLOW_PATH_FLAG) == (not b or 0xF3 in b)
        assert codec.starts_cont_list[i] == bool(b and b[0] & 0xC0 == 0x80)
        assert codec.ends_ascii_list[i] == bool(b and b[-1] < 0x80)
    again = pickle.loads(pickle.dumps(codec))  # rebuilt in each DataLoader worker
    assert np.array_equal(again.char_info, codec.char_info)


def test_sample_random_is_a_pure_function_of_its_key():
    a, b = SampleRandom(1, 2, 3), SampleRandom(1, 2, 3)
    seq = [a.random() for _ in range(20)]
    assert seq == [b.random() for _ in range(20)]
    assert all(0.0 <= x < 1.0 for x in seq) and len(set(seq)) == 20
    assert SampleRandom(1, 2, 4).random() != seq[0] and SampleRandom(1, 3, 3).random() != seq[0]
    assert SampleRandom(2, 2, 3).random() != seq[0] and SampleRandom(1, 2, 3, 1).random() != seq[0]
    pair = SampleRandom(1, 2, 3).random(2)
    assert pair.shape == (2,) and pair.tolist() == seq[:2]


def test_sample_random_first_draws_are_uniform():
    """What a dataset uses: the first draws of many consecutive sample keys, uniform over [0, 1)."""
    draws = np.array([sample_random(0, 0, i).random() for i in range(20000)])
    counts = np.histogram(draws, bins=20, range=(0.0, 1.0))[0]
    expected = len(draws) / 20
    assert float(((counts - expected) ** 2 / expected).sum()) < chi2_critical(19)
    assert abs(float(np.corrcoef(draws[:-1], draws[1:])[0, 1])) < 0.05
