"""The one FIM transform: tokens of a packed context -> FIM'd tokens of exactly the requested length.

Algorithm (Bavarian et al. 2022, Sections 3 and 3.2, Appendices C and D), context level:

1. Split the context on the document separator (EOD). Each segment is a document, or the part of one that fell
   inside this context (the first and last segments usually are).
2. With probability ``fim_rate`` a segment is FIM'd: partial UTF-8 characters at the segment's edges (a context
   boundary cut through a character) are dropped; two cut points are drawn uniformly over its *characters*; prefix,
   middle and suffix are encoded separately, exactly like the corpus (no BOS/EOS, no dummy prefix, literal sentinel
   strings stay text). Characters are located without decoding the segment: the codec's per-id table of how many
   characters start in each token, summed, maps a character to its token; bytes come from the id->bytes table.
3. PSM ``<PRE> P <SUF> S <MID> M`` or, with probability ``spm_rate``, SPM (variant 2: ``<PRE> <SUF> S <MID> P M``;
   variant 1: ``<SUF> S <PRE> P <MID> M``). The EOD after the document stays where it was and stays in the loss:
   it is what teaches the model to stop once the middle joins the suffix.
4. Rejoin, trim the tail to the requested length; if shorter (rare: the caller reads a margin of extra tokens),
   pad and report how many positions are padding so the caller masks them *by position*.

Only the tokens next to a cut are decoded and re-encoded (``reencode_window`` tokens, widened to word starts; 0
re-encodes whole pieces): the rest of each piece keeps the corpus' own ids, which makes the transform cheap, is
byte-exact either way and, with the widening, gives the ids whole-piece re-encoding gives (see ``_word_edge``).
Re-encoding (one tokenizer call per text, most of it the regex pre-tokenizer) is then most of what context FIM
costs. All randomness comes from the generator the caller passes (:class:`SampleRandom` or a
``numpy.random.Generator``), derived from (seed, epoch, sample index).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from typing import NamedTuple, Union

import numpy as np

from codeja.errors import ConfigError
from codeja.fim.codec import SLOW_PATH_FLAG, TokenCodec, utf8_bounds, utf8_head_trim, utf8_tail_end
from codeja.fim.config import FIMConfig
from codeja.fim.sentinels import Sentinels

# what the transform draws from: a SampleRandom (the datasets) or a numpy Generator; only .random() is used
Uniforms = Union["SampleRandom", np.random.Generator]
_EMPTY = np.zeros(0, dtype=np.int64)


def _join(parts: list) -> np.ndarray:
    """Concatenate id arrays and id lists into one int64 array."""
    return np.concatenate(parts).astype(np.int64, copy=False) if parts else _EMPTY

_EDGE_SEARCH = 64  # tokens a re-encode window's edge may move to reach a word start (see _word_edge)
_EDGE_TOKENS = 5  # tokens read at each segment edge to find partial UTF-8 characters (utf8_tail_end needs 5 bytes)


@dataclass
class SampleStats:
    """What the transform did to one sample (summed over samples by ``codeja fim inspect``)."""

    docs: int = 0  # segments that start inside the output
    fim_docs: int = 0
    spm_docs: int = 0
    effective_fim_docs: int = 0  # FIM'd with prefix, middle and suffix all inside the output
    skipped_docs: int = 0  # chosen for FIM but left as is (too short, undecodable, placeholder clash)
    truncated_tokens: int = 0  # tokens of the original context pushed out by FIM growth
    padded: int = 0  # pad positions at the end
    trimmed_bytes: int = 0  # partial UTF-8 bytes dropped at context edges
    replacement_chars: int = 0  # U+FFFD introduced (checked only with check=True)
    roundtrip_mismatches: int = 0  # FIM'd docs whose pieces do not reassemble (checked only with check=True)
    checked_docs: int = 0
    fim_lengths: list[int] = field(default_factory=list)

    def add(self, other: SampleStats) -> None:
        for k, v in vars(other).items():
            if isinstance(v, list):
                getattr(self, k).extend(v)
            else:
                setattr(self, k, getattr(self, k) + v)


class FIMSample(NamedTuple):
    tokens: np.ndarray  # int64, exactly the requested length
    n_pad: int  # the last n_pad positions are padding (mask them from the loss)
    stats: SampleStats


class FIMTransform:
    """Context- or document-level FIM for one tokenizer (codec + sentinels) and one :class:`FIMConfig`."""

    def __init__(self, codec: TokenCodec, sentinels: Sentinels, cfg: FIMConfig):
        self.codec, self.sentinels, self.cfg = codec, sentinels, cfg
        self.eod = sentinels.eod
        self.fragment_id: int | None = None
        if cfg.fragment_separator:
            fid = codec.token_to_id(cfg.fragment_separator)
            if fid is None:
                raise ConfigError(f"fragment_separator '{cfg.fragment_separator}' is not a token of {codec.name}")
            self.fragment_id = fid
        s = sentinels
        self._pre = np.array([s.prefix], dtype=np.int64)
        self._mid = np.array([s.middle], dtype=np.int64)
        self._suf = np.array([s.suffix], dtype=np.int64)
        self._pre_suf = np.array([s.prefix, s.suffix], dtype=np.int64)
        self._eot = np.array([s.eot], dtype=np.int64) if s.eot is not None else np.zeros(0, dtype=np.int64)

    # -- whole contexts -------------------------------------------------------------------------------------------

    def apply(self, tokens: np.ndarray, rng: Uniforms, out_len: int, *, check: bool = False) -> FIMSample:
        """Context-level FIM of ``tokens`` (a packed context, ideally ``out_len + margin`` long)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        stats = SampleStats()
        rate = self.cfg.fim_rate
        if rate <= 0.0 or self.cfg.mode == "off":
            return self.finish([tokens], out_len, stats, consumed=len(tokens))
        # Unchanged documents (and their EODs) stay one slice of `tokens`: a context whose documents are not FIM'd
        # is returned without copying, and the final join only copies around the FIM'd ones.
        parts: list[np.ndarray] = []
        n = len(tokens)
        produced = start = run = 0
        eods = (tokens == self.eod).nonzero()[0].tolist()
        eods.append(n)
        for end in eods:
            if produced >= out_len:
                break
            stats.docs += 1
            out = self._segment_parts(tokens[start:end], rng, stats, check) if end > start else None
            if out is None:
                produced += end - start
            else:  # the FIM'd layout's parts go straight into the one final join
                parts.append(tokens[run:start])
                parts.extend(out)
                run = end
                produced += sum(map(len, out))
                if produced <= out_len:
                    stats.effective_fim_docs += 1
            if end < n:
                produced += 1
            start = end + 1
        parts.append(tokens[run:min(start, n)])
        return self.finish(parts, out_len, stats, consumed=min(start, n))

    def segment(self, seg: np.ndarray, rng: Uniforms, stats: SampleStats, *,
                check: bool = False, rate: float | None = None) -> np.ndarray | None:
        """FIM one document segment with probability ``rate`` (default fim_rate); None leaves it unchanged."""
        parts = self._segment_parts(seg, rng, stats, check, rate)
        return None if parts is None else _join(parts)

    def _segment_parts(self, seg: np.ndarray, rng: Uniforms, stats: SampleStats, check: bool,
                       rate: float | None = None) -> list | None:
        """:meth:`segment` as a list of id arrays/lists to concatenate (the caller joins once)."""
        if self.fragment_id is not None and rate is None:
            return self._fragments(seg, rng, stats, check)
        if rng.random() >= (self.cfg.fim_rate if rate is None else rate):
            return None
        cut_u = rng.random(2)
        spm = rng.random() < self.cfg.spm_rate
        parts = self._fim_parts(seg, cut_u, spm, stats, check)
        if parts is None:
            stats.skipped_docs += 1
        else:
            stats.fim_docs += 1
            stats.spm_docs += int(spm)
            stats.fim_lengths.append(sum(map(len, parts)))
        return parts

    def _fragments(self, seg: np.ndarray, rng: Uniforms, stats: SampleStats, check: bool) -> list | None:
        """File-level FIM: split on the separator token, FIM each fragment independently, keep the separators."""
        seps = np.flatnonzero(seg == self.fragment_id).tolist()
        rate = self.cfg.effective_fragment_rate
        if not seps:
            return self._segment_parts(seg, rng, stats, check, rate)
        parts, changed, start = [], False, 0
        for end in seps + [len(seg)]:
            frag = seg[start:end]
            out = self._segment_parts(frag, rng, stats, check, rate) if len(frag) else None
            changed |= out is not None
            if out is None:
                parts.append(frag)
            else:
                parts.extend(out)
            if end < len(seg):
                parts.append(seg[end:end + 1])
            start = end + 1
        return parts if changed else None

    def finish(self, parts: list[np.ndarray], out_len: int, stats: SampleStats, *, consumed: int) -> FIMSample:
        """Join, trim the tail, pad by position."""
        joined = _join(parts) if len(parts) != 1 else np.asarray(parts[0], dtype=np.int64)
        produced = len(joined)
        # tokens of the original first out_len positions that FIM growth pushed past the end
        stats.truncated_tokens += max(0, min(produced - out_len, produced - consumed))
        if produced >= out_len:
            return FIMSample(np.ascontiguousarray(joined[:out_len], dtype=np.int64), 0, stats)
        n_pad = out_len - produced
        stats.padded += n_pad
        pad = np.full(n_pad, self.sentinels.pad, dtype=np.int64)
        return FIMSample(np.concatenate([joined.astype(np.int64), pad]), n_pad, stats)

    # -- one document -----------------------------------------------------------------------------------------------

    def fim_document(self, seg: np.ndarray, cut_u: np.ndarray, spm: bool, stats: SampleStats, *,
                     check: bool = False) -> np.ndarray | None:
        """The FIM layout of one segment, cut at characters ``floor(u * (n_chars + 1))``; None if not FIM-able."""
        parts = self._fim_parts(seg, cut_u, spm, stats, check)
        return None if parts is None else _join(parts)

    def _fim_parts(self, seg: np.ndarray, cut_u: np.ndarray, spm: bool, stats: SampleStats,
                   check: bool = False) -> list | None:
        """:meth:`fim_document` as a list of parts: sentinels and each piece's corpus slices and re-encoded ids."""
        pieces = self._cut_pieces(seg, cut_u, stats)
        if pieces is None:
            return None
        pre, mid, suf = pieces
        if check:
            buf = self.codec.decode_bytes(seg)
            lo, hi = utf8_bounds(buf)
            self._check(buf[lo:hi], _join(pre), _join(mid), _join(suf), stats)
        if not spm:
            return [self._pre, *pre, self._suf, *suf, self._mid, *mid, self._eot]
        if self.cfg.spm_variant == "v2":
            return [self._pre_suf, *suf, self._mid, *pre, *mid, self._eot]
        return [self._suf, *suf, self._pre, *pre, self._mid, *mid, self._eot]

    def _cut_pieces(self, seg: np.ndarray, cut_u: np.ndarray, stats: SampleStats) -> tuple[list, list, list] | None:
        """(prefix, middle, suffix) of ``seg`` cut at two uniformly drawn characters; None if not FIM-able.

        Each piece is a list of parts (corpus id slices and re-encoded id lists) that concatenate to its ids.

        The segment is located in *characters* without decoding it: ``codec.char_info`` counts the characters that
        start in each id's bytes, so a cumulative sum maps character ``c`` to the token holding it
        (``searchsorted``). Only the partial UTF-8 characters at the two edges need bytes (the first and last few
        tokens), and only the re-encode windows around the cuts are decoded and encoded. Segments holding special
        tokens (or private-use characters that look like our placeholders) and ``reencode_window=0`` decode the
        whole segment.
        """
        codec = self.codec
        n = len(seg)
        info = codec.char_info[seg]
        cend = info.cumsum()  # cend[t]: characters starting in tokens 0..t
        buf = None
        if cend[-1] >= SLOW_PATH_FLAG:  # special ids or 0xF3 bytes: the text decides whether FIM is safe
            cend = (info & (SLOW_PATH_FLAG - 1)).cumsum()
            buf = codec.decode_bytes(seg)
            lo, hi = utf8_bounds(buf)
            if b"\xf3" in buf and self._placeholder_clash(seg, buf[lo:hi]):
                return None
        if buf is None and n >= _EDGE_TOKENS * 2:
            # Usually the first id starts with a character and the last one ends with ASCII: nothing to trim. Else
            # the trims look at <= 5 bytes, and every id has >= 1 byte here (else SLOW_PATH_FLAG), so the first and
            # last 5 tokens hold them and do not overlap.
            lead = utf8_head_trim(codec.decode_bytes(seg[:_EDGE_TOKENS])) if codec.starts_cont_list[seg[0]] else 0
            if codec.ends_ascii_list[seg[-1]]:
                trail = 0
            else:
                tail = codec.decode_bytes(seg[-_EDGE_TOKENS:])
                trail = len(tail) - utf8_tail_end(tail)
        else:
            if buf is None:
                buf = codec.decode_bytes(seg)
            lead, hi = utf8_bounds(buf)
            trail = len(buf) - hi
        # characters of the region: all that start in the segment, less the incomplete one the context end cut
        m = int(cend[-1]) - (1 if trail else 0)
        if m < max(1, self.cfg.min_doc_chars):
            return None
        i, j = min(int(cut_u[0] * (m + 1)), m), min(int(cut_u[1] * (m + 1)), m)
        if i > j:
            i, j = j, i
        stats.trimmed_bytes += lead + trail
        try:
            if self.cfg.reencode_window <= 0:
                if buf is None:
                    buf = codec.decode_bytes(seg)
                text = buf[lead:len(buf) - trail].decode("utf-8")
                return tuple([ids] if ids else [] for ids in codec.encode_batch([text[:i], text[i:j], text[j:]]))
            return self._split(seg, cend, lead, trail, m, (i, j), plain=buf is None or b"\xf3" not in buf)
        except UnicodeDecodeError:  # invalid UTF-8 inside the segment (not produced by `codeja tokenize`)
            return None

    def _split(self, seg: np.ndarray, cend: np.ndarray, lead: int, trail: int, m: int,
               cuts: tuple[int, int], *, plain: bool = False) -> tuple[list, list, list]:
        """Prefix, middle and suffix (lists of parts), re-encoding only ``reencode_window`` tokens around each cut.

        The region (the segment less ``lead`` bytes before its first character and ``trail`` bytes of an incomplete
        last character) is cut at its start, at characters ``cuts`` and at its end. Each cut inside the bytes gets a
        window of ``reencode_window`` tokens on both sides, widened to word starts (:meth:`_word_edge`) and then
        until both ends are character boundaries; overlapping windows merge. Outside windows the corpus ids are
        reused as they are. Pieces 0 and 4 (the partial characters at the edges) are dropped and never encoded.
        """
        n = len(seg)
        w = self.cfg.reencode_window
        cont = self.codec.starts_cont_list  # id -> its first byte is a UTF-8 continuation byte
        table = self.codec.table  # id -> bytes (windows are short: a join beats a numpy gather)
        total = int(cend[-1])
        windows: list[list] = []  # [L, R, [character cuts]]; L None: a cut on the segment's first or last byte
        region_cuts = (0, *cuts, m)
        # the token in which each cut's character starts
        tokens_at = cend.searchsorted(region_cuts, side="right").tolist()
        for c, t in zip(region_cuts, tokens_at):
            if c >= total or (c == 0 and lead == 0):
                windows.append([None, None, [c]])  # at the very start or end: a token boundary, nothing to re-encode
                continue
            lo_t, hi_t = max(0, t - w), min(n, t + w + 1)
            lo_t, hi_t = self._word_edge(seg, lo_t, -1), self._word_edge(seg, hi_t, 1)
            while lo_t > 0 and cont[seg[lo_t]]:
                lo_t -= 1
            while hi_t < n and cont[seg[hi_t]]:
                hi_t += 1
            if windows and windows[-1][0] is not None and lo_t < windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], hi_t)
                windows[-1][2].append(c)
            else:
                windows.append([lo_t, hi_t, [c]])

        pieces: list[list] = [[] for _ in range(5)]
        texts: list[str] = []
        slots: list[tuple[int, int]] = []  # (piece, position in that piece's list) for each text to encode
        cur, pos = 0, 0
        for L, R, wcuts in windows:
            if L is None:
                if wcuts[0] >= total:
                    pieces[cur].append(seg[pos:])
                    pos = n
                cur += 1
                continue
            pieces[cur].append(seg[pos:L])
            raw = b"".join([table[t] for t in seg[L:R].tolist()])
            # the bytes before the first character / of the cut last character belong to the dropped edge pieces
            text = raw[lead if L == 0 else 0:len(raw) - (trail if R == n else 0)].decode("utf-8")
            base = int(cend[L - 1]) if L else 0
            bounds = [0, *(c - base for c in wcuts), len(text)]
            for k in range(len(bounds) - 1):
                if k > 0:
                    cur += 1
                if 1 <= cur <= 3 and bounds[k + 1] > bounds[k]:
                    slots.append((cur, len(pieces[cur])))
                    pieces[cur].append(None)
                    texts.append(text[bounds[k]:bounds[k + 1]])
            pos = R
        if pos < n:
            pieces[cur].append(seg[pos:])
        # plain: the segment has no 0xF3 byte, so no placeholder character can be in the texts. One call per text,
        # not encode_batch: a batch goes to the tokenizer's thread pool, which for a few short texts costs twice the
        # CPU time (4 texts: 54 us alone, 122 us CPU with TOKENIZERS_PARALLELISM on)
        encode = self.codec.encode_plain if plain else self.codec.encode
        for (p, k), ids in zip(slots, map(encode, texts)):
            pieces[p][k] = ids  # a list: np.concatenate converts it
        return pieces[1], pieces[2], pieces[3]

    def _word_edge(self, seg: np.ndarray, x: int, step: int) -> int:
        """Move window edge ``x`` (a token index) by ``step`` to the nearest word start, ``_EDGE_SEARCH`` at most.

        A word start is a token beginning with whitespace after one that does not end with it. Pre-tokenizers
        split there, and what lies on either side is matched without looking across it; elsewhere a window that
        is encoded alone can come out differently: a whitespace run cut off from the word after it becomes one
        token (regex ``\\s+(?!\\S)`` at the end of the text) where the corpus has two.
        """
        n, ws, es = len(seg), self.codec.starts_space_list, self.codec.ends_space_list
        for _ in range(_EDGE_SEARCH):
            if x <= 0 or x >= n or (ws[seg[x]] and not es[seg[x - 1]]):
                break
            x += step
        return x

    def _placeholder_clash(self, seg: np.ndarray, text_bytes: bytes) -> bool:
        """The document literally contains a private-use character we use for special tokens: don't FIM it."""
        try:
            text = text_bytes.decode("utf-8")
        except UnicodeDecodeError:
            return True
        n_marks = sum(1 for c in text if self.codec.has_placeholder_clash(c))
        n_special = int(np.isin(seg, self.codec.special_ids).sum()) if len(self.codec.special_ids) else 0
        return n_marks != n_special

    def _check(self, original: bytes, pre: np.ndarray, mid: np.ndarray, suf: np.ndarray, stats: SampleStats) -> None:
        stats.checked_docs += 1
        got = self.codec.decode_bytes(pre) + self.codec.decode_bytes(mid) + self.codec.decode_bytes(suf)
        if got != original:
            stats.roundtrip_mismatches += 1
        before = original.decode("utf-8", errors="replace").count("\ufffd")
        after = sum(self.codec.decode_bytes(x).decode("utf-8", errors="replace").count("\ufffd")
                    for x in (pre, mid, suf))
        stats.replacement_chars += max(0, after - before)


def sample_rng(seed: int, epoch: int, index: int, stream: int = 0) -> np.random.Generator:
    """A numpy generator for one sample: a pure function of (seed, epoch, index), so workers, ranks and resumes agree.

    The datasets use the cheaper :class:`SampleRandom` (same role, same key); this stays for callers that want a
    full ``numpy.random.Generator``.
    """
    return np.random.default_rng([seed, epoch, index, stream])


class SampleRandom:
    """Uniform floats in [0, 1) for one sample: BLAKE2b in counter mode, keyed by (seed, epoch, index, stream).

    A pure function of its key like :func:`sample_rng`, so any worker count, rank or resume point draws the same
    numbers, but about 1 us to create where numpy's ``default_rng`` (SeedSequence) takes about 20 us: plain packing
    of a 2k context costs about 30 us, so seeding numpy per sample alone would cost context FIM 40 % of its
    throughput. It offers only ``random()`` / ``random(k)``, the part of ``numpy.random.Generator`` the transform
    uses (so either can be passed to :meth:`FIMTransform.apply`). Each 64-byte digest gives eight 53-bit floats.
    """

    __slots__ = ("_block", "_key", "_pool")
    _PERSON = b"codeja-fim"

    def __init__(self, seed: int, epoch: int, index: int, stream: int = 0):
        self._key = struct.pack("<4q", seed, epoch, index, stream)
        self._block = 0
        self._pool: list[float] = []

    def _refill(self) -> None:
        digest = hashlib.blake2b(self._key + self._block.to_bytes(8, "little"), digest_size=64,
                                 person=self._PERSON).digest()
        self._block += 1
        # top 53 bits of each 64-bit word -> a double in [0, 1); reversed so that pop() yields them in order
        self._pool = [(w >> 11) * _TWO_POW_M53 for w in reversed(struct.unpack("<8Q", digest))]

    def random(self, size: int | None = None) -> float | np.ndarray:
        if size is None:
            if not self._pool:
                self._refill()
            return self._pool.pop()
        return np.array([self.random() for _ in range(size)], dtype=np.float64)


_TWO_POW_M53 = 2.0 ** -53


def sample_random(seed: int, epoch: int, index: int, stream: int = 0) -> SampleRandom:
    """The randomness of one sample (see :class:`SampleRandom`): a pure function of (seed, epoch, index, stream)."""
    return SampleRandom(seed, epoch, index, stream)
