"""The one FIM transform: tokens of a packed context -> FIM'd tokens of exactly the requested length.

Algorithm (Bavarian et al. 2022, Sections 3 and 3.2, Appendices C and D), context level:

1. Split the context on the document separator (EOD). Each segment is a document, or the part of one that fell
   inside this context (the first and last segments usually are).
2. With probability ``fim_rate`` a segment is FIM'd: its bytes come from the codec's id->bytes table; partial UTF-8
   characters at the segment's edges (a context boundary cut through a character) are dropped; two cut points are
   drawn uniformly over its *characters*; prefix, middle and suffix are encoded separately, exactly like the corpus
   (no BOS/EOS, no dummy prefix, literal sentinel strings stay text).
3. PSM ``<PRE> P <SUF> S <MID> M`` or, with probability ``spm_rate``, SPM (variant 2: ``<PRE> <SUF> S <MID> P M``;
   variant 1: ``<SUF> S <PRE> P <MID> M``). The EOD after the document stays where it was and stays in the loss:
   it is what teaches the model to stop once the middle joins the suffix.
4. Rejoin, trim the tail to the requested length; if shorter (rare: the caller reads a margin of extra tokens),
   pad and report how many positions are padding so the caller masks them *by position*.

Only the tokens next to a cut are re-encoded (``reencode_window``; 0 re-encodes whole pieces): the rest of each
piece keeps the corpus' own ids, which makes the transform cheap and is byte-exact either way. All randomness comes
from the ``numpy.random.Generator`` the caller passes, derived from (seed, epoch, sample index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from codeja.fim.codec import TokenCodec, utf8_bounds
from codeja.fim.config import FIMConfig
from codeja.fim.sentinels import Sentinels


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

    def add(self, other: "SampleStats") -> None:
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
                from codeja.errors import ConfigError

                raise ConfigError(f"fragment_separator '{cfg.fragment_separator}' is not a token of {codec.name}")
            self.fragment_id = fid
        s = sentinels
        self._pre = np.array([s.prefix], dtype=np.int64)
        self._mid = np.array([s.middle], dtype=np.int64)
        self._suf = np.array([s.suffix], dtype=np.int64)
        self._pre_suf = np.array([s.prefix, s.suffix], dtype=np.int64)
        self._eot = np.array([s.eot], dtype=np.int64) if s.eot is not None else np.zeros(0, dtype=np.int64)

    # -- whole contexts -------------------------------------------------------------------------------------------

    def apply(self, tokens: np.ndarray, rng: np.random.Generator, out_len: int, *, check: bool = False) -> FIMSample:
        """Context-level FIM of ``tokens`` (a packed context, ideally ``out_len + margin`` long)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        stats = SampleStats()
        rate = self.cfg.fim_rate
        if rate <= 0.0 or self.cfg.mode == "off":
            return self.finish([tokens], out_len, stats, consumed=len(tokens))
        parts: list[np.ndarray] = []
        produced = 0
        start = 0
        eods = np.flatnonzero(tokens == self.eod).tolist()
        for end in eods + [len(tokens)]:
            if produced >= out_len:
                break
            seg = tokens[start:end]
            stats.docs += 1
            out = self.segment(seg, rng, stats, check=check) if len(seg) else None
            piece = seg if out is None else out
            parts.append(piece)
            produced += len(piece)
            if out is not None and produced <= out_len:
                stats.effective_fim_docs += 1
            if end < len(tokens):
                parts.append(tokens[end:end + 1])
                produced += 1
            start = end + 1
        return self.finish(parts, out_len, stats, consumed=min(start, len(tokens)))

    def segment(self, seg: np.ndarray, rng: np.random.Generator, stats: SampleStats, *,
                check: bool = False, rate: float | None = None) -> np.ndarray | None:
        """FIM one document segment with probability ``rate`` (default fim_rate); None leaves it unchanged."""
        if self.fragment_id is not None and rate is None:
            return self._fragments(seg, rng, stats, check)
        if rng.random() >= (self.cfg.fim_rate if rate is None else rate):
            return None
        cut_u = rng.random(2)
        spm = rng.random() < self.cfg.spm_rate
        out = self.fim_document(seg, cut_u, spm, stats, check=check)
        if out is None:
            stats.skipped_docs += 1
        else:
            stats.fim_docs += 1
            stats.spm_docs += int(spm)
            stats.fim_lengths.append(len(out))
        return out

    def _fragments(self, seg: np.ndarray, rng: np.random.Generator, stats: SampleStats, check: bool) -> np.ndarray | None:
        """File-level FIM: split on the separator token, FIM each fragment independently, keep the separators."""
        seps = np.flatnonzero(seg == self.fragment_id).tolist()
        if not seps:
            return self.segment(seg, rng, stats, check=check, rate=self.cfg.effective_fragment_rate)
        parts, changed, start = [], False, 0
        for end in seps + [len(seg)]:
            frag = seg[start:end]
            out = self.segment(frag, rng, stats, check=check, rate=self.cfg.effective_fragment_rate) if len(frag) else None
            changed |= out is not None
            parts.append(frag if out is None else out)
            if end < len(seg):
                parts.append(seg[end:end + 1])
            start = end + 1
        return np.concatenate(parts) if changed else None

    def finish(self, parts: list[np.ndarray], out_len: int, stats: SampleStats, *, consumed: int) -> FIMSample:
        """Join, trim the tail, pad by position."""
        joined = np.concatenate(parts) if len(parts) != 1 else parts[0]
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
        codec = self.codec
        buf = codec.decode_bytes(seg)
        arr = np.frombuffer(buf, dtype=np.uint8)
        lo, hi = utf8_bounds(arr)
        if b"\xf3" in buf and self._placeholder_clash(seg, buf[lo:hi]):
            return None
        region = arr[lo:hi]
        starts = np.flatnonzero((region & 0xC0) != 0x80) + lo  # byte offset of every character
        m = len(starts)
        if m < max(1, self.cfg.min_doc_chars):
            return None
        i, j = sorted(int(u * (m + 1)) for u in cut_u)
        i, j = min(i, m), min(j, m)
        p1 = int(starts[i]) if i < m else hi
        p2 = int(starts[j]) if j < m else hi
        stats.trimmed_bytes += lo + (len(buf) - hi)
        try:
            if self.cfg.reencode_window <= 0:
                text = buf[lo:hi].decode("utf-8")
                pre_t, mid_t, suf_t = (np.asarray(x, dtype=np.int64) for x in
                                       codec.encode_batch([text[:i], text[i:j], text[j:]]))
            else:
                _, pre_t, mid_t, suf_t, _ = self._split(seg, buf, arr, [lo, p1, p2, hi], keep=(1, 2, 3))
        except UnicodeDecodeError:
            return None
        if check:
            self._check(buf[lo:hi], pre_t, mid_t, suf_t, stats)
        if not spm:
            parts = [self._pre, pre_t, self._suf, suf_t, self._mid, mid_t, self._eot]
        elif self.cfg.spm_variant == "v2":
            parts = [self._pre_suf, suf_t, self._mid, pre_t, mid_t, self._eot]
        else:
            parts = [self._suf, suf_t, self._pre, pre_t, self._mid, mid_t, self._eot]
        return np.concatenate(parts)

    def _split(self, seg: np.ndarray, buf: bytes, arr: np.ndarray, cuts: list[int], keep: tuple[int, ...]) -> list[np.ndarray]:
        """Split ``seg`` at byte offsets ``cuts`` into len(cuts)+1 token pieces, re-encoding only near each cut.

        Each interior cut gets a window of ``reencode_window`` tokens on both sides, widened until both ends sit on
        character boundaries; overlapping windows merge. Outside windows the corpus ids are reused as they are.
        Pieces not in ``keep`` (the partial-UTF-8 edges) are returned empty and never decoded.
        """
        n = len(seg)
        w = self.cfg.reencode_window
        cum = np.concatenate([[0], np.cumsum(self.codec.token_lens[seg])])
        nbytes = len(buf)

        def boundary(p: int) -> bool:
            return p <= 0 or p >= nbytes or (arr[p] & 0xC0) != 0x80

        windows: list[list] = []  # [L, R, [cuts]]
        for c in cuts:
            if c <= 0 or c >= nbytes:
                windows.append([None, None, [c]])  # a cut at a segment end needs no re-encoding
                continue
            t = int(np.searchsorted(cum, c, side="right")) - 1
            lo_t, hi_t = max(0, t - w), min(n, t + w + 1)
            while lo_t > 0 and not boundary(int(cum[lo_t])):
                lo_t -= 1
            while hi_t < n and not boundary(int(cum[hi_t])):
                hi_t += 1
            if windows and windows[-1][0] is not None and lo_t < windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], hi_t)
                windows[-1][2].append(c)
            else:
                windows.append([lo_t, hi_t, [c]])

        pieces: list[list] = [[] for _ in range(len(cuts) + 1)]
        texts: list[str] = []
        slots: list[tuple[int, int]] = []  # (piece, position in that piece's list) for each text to encode
        cur, pos = 0, 0
        for L, R, wcuts in windows:
            if L is None:  # cut exactly at 0 or at the end: a piece boundary on a token boundary
                c = wcuts[0]
                if c >= nbytes:
                    pieces[cur].append(seg[pos:])
                    pos = n
                cur += 1
                continue
            pieces[cur].append(seg[pos:L])
            bounds = [int(cum[L]), *wcuts, int(cum[R])]
            for k in range(len(bounds) - 1):
                if k > 0:
                    cur += 1
                if cur in keep and bounds[k + 1] > bounds[k]:
                    slots.append((cur, len(pieces[cur])))
                    pieces[cur].append(None)
                    texts.append(buf[bounds[k]:bounds[k + 1]].decode("utf-8"))
            pos = R
        if pos < n:
            pieces[cur].append(seg[pos:])
        for (p, k), ids in zip(slots, self.codec.encode_batch(texts)):
            pieces[p][k] = np.asarray(ids, dtype=np.int64)
        empty = np.zeros(0, dtype=np.int64)
        return [np.concatenate(p).astype(np.int64, copy=False) if (i in keep and p) else empty
                for i, p in enumerate(pieces)]

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
        after = sum(self.codec.decode_bytes(x).decode("utf-8", errors="replace").count("\ufffd") for x in (pre, mid, suf))
        stats.replacement_chars += max(0, after - before)


def sample_rng(seed: int, epoch: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator for one sample: a pure function of (seed, epoch, index), so workers, ranks and resumes agree."""
    return np.random.default_rng([seed, epoch, index, stream])
