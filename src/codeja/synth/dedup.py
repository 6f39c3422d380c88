"""Exact and near-duplicate removal on instructions.

Exact: the NFKC-normalised, case-folded, whitespace-collapsed text. Near: MinHash over character n-grams with
LSH (datasketch); characters rather than words so Japanese, which has no spaces, needs no segmenter. Rows are
seen in row order and the first of a group is kept, so the result does not depend on batching.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def char_ngrams(text: str, n: int) -> set[str]:
    t = normalize(text)
    if len(t) <= n:
        return {t}
    return {t[i:i + n] for i in range(len(t) - n + 1)}


class InstructionDeduplicator:
    """Feed instructions in order; :meth:`check` says whether one duplicates an earlier kept one."""

    def __init__(self, threshold: float = 0.8, ngram: int = 5, num_perm: int = 128):
        # heavy: datasketch (kept out of `codeja --help` and light imports)
        from datasketch import MinHashLSH

        self.threshold, self.ngram, self.num_perm = threshold, ngram, num_perm
        self.exact: dict[str, int] = {}
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.sigs: dict[str, object] = {}
        self._perms = None  # generated once: building them per MinHash costs more than hashing a short text

    def _minhash(self, text: str):
        from datasketch import MinHash

        if self._perms is None:
            proto = MinHash(num_perm=self.num_perm, seed=1)
            self._perms, self._scheme = proto.permutations, proto.scheme
        m = MinHash(num_perm=self.num_perm, seed=1, permutations=self._perms, scheme=self._scheme)
        m.update_batch([g.encode("utf-8") for g in sorted(char_ngrams(text, self.ngram))])
        return m

    def check(self, row_id: int, text: str) -> tuple[str, str] | None:
        """None when new (and remember it); else (reason, detail) naming the earlier row."""
        key = hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()
        if key in self.exact:
            return "exact_duplicate", f"same text as row {self.exact[key]}"
        m = self._minhash(text)
        # LSH gives candidates; confirm with the estimated Jaccard so the threshold means what it says
        best = None
        for other in self.lsh.query(m):
            j = m.jaccard(self.sigs[other])
            if j >= self.threshold and (best is None or j > best[1] or (j == best[1] and int(other) < int(best[0]))):
                best = (other, j)
        if best is not None:
            return "near_duplicate", f"MinHash Jaccard {best[1]:.2f} with row {best[0]}"
        self.exact[key] = row_id
        name = str(row_id)
        self.lsh.insert(name, m)
        self.sigs[name] = m
        return None
