"""Byte-exact encoding and decoding with a Hugging Face fast tokenizer.

Character-level FIM on a pre-tokenized corpus has to turn token ids back into text and text into ids again.
``tokenizer.decode`` is the wrong tool for that: it cleans up spaces, strips the SentencePiece dummy space, and
turns a multi-byte character that a context boundary cut in half into U+FFFD. ``tokenizer(text)`` is wrong too:
it adds BOS/EOS and parses literal ``<fim_prefix>`` or ``<|endoftext|>`` inside code as control tokens.

:class:`TokenCodec` does both exactly:

* ``decode_bytes(ids)`` concatenates each id's raw bytes from a table built once (byte-level BPE: the GPT-2
  byte-to-unicode map; SentencePiece-style: ``▁`` is a space and ``<0xNN>`` byte-fallback pieces are bytes; added
  tokens: their text). No cleanup, nothing inserted, partial characters stay bytes.
* ``encode(text)`` runs a private copy of the backend tokenizer with special-token matching off
  (``encode_special_tokens``), no post-processor (no BOS/EOS) and the SentencePiece dummy prefix disabled, so
  ``decode_bytes(encode(s)) == s.encode()`` for every string the vocabulary can represent, and
  ``encode(a) + encode(b)`` decodes to ``a + b``. One exception, inherent to SentencePiece-style vocabularies: a
  literal ``▁`` (U+2581) in the text is the same piece as a space, so it decodes as a space (the corpus written by
  ``codeja tokenize`` already holds it that way, so FIM of that corpus stays byte-exact).

The tokenize stage encodes the corpus with the same ``encode`` so that the FIM transform re-encodes pieces exactly
the way the corpus was encoded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np

from codeja.errors import CodejaError

# Private-use code points (plane 15) that stand for special tokens inside decoded text, so that special tokens
# embedded in a document survive a decode -> cut -> encode round trip as the same single ids.
SPECIAL_BASE = 0xF0000
_SPECIAL_MIN_CHAR = chr(SPECIAL_BASE)
# Added to TokenCodec.char_info for ids whose bytes need the decoding path (empty, or holding a 0xF3 byte); far
# above any character count a context can reach, so a segment's summed info reveals such ids.
SLOW_PATH_FLAG = 1 << 40
_JOIN_MAX = 256  # decode_bytes: below this many ids a Python join is faster than the numpy gather
_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")

PROBES = (
    "def f(x):\n    return x  + 1\n",
    "  leading and trailing spaces  ",
    "日本語のコメント: 変数を初期化する",
    "a <fim_prefix> b <|endoftext|> c </s> <s>",
    "\t\ttabs\n\n\nnewlines",
)


@cache
def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's bytes_to_unicode: the printable character each byte is mapped to by ByteLevel."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _types(node: Any) -> list[dict]:
    """All component dicts of a (possibly Sequence) normalizer / pre-tokenizer / decoder JSON node."""
    if not node:
        return []
    out = [node]
    for key in ("normalizers", "pretokenizers", "decoders", "processors"):
        for child in node.get(key) or []:
            out.extend(_types(child))
    return out


def _without_dummy_prefix(spec: dict) -> dict:
    """Disable the SentencePiece dummy prefix ('▁' prepended to every encoded string) in a tokenizer.json dict.

    Conversions express it as a Metaspace pre-tokenizer with prepend_scheme first/always, a Prepend('▁') normalizer,
    or a Replace('\\A▁' -> '▁▁') normalizer. Each separately encoded FIM piece would otherwise gain a space.
    """
    for node in _types(spec.get("pre_tokenizer")):
        if node.get("type") == "Metaspace":
            node["prepend_scheme"] = "never"
            node.pop("add_prefix_space", None)
    for node in _types(spec.get("decoder")):
        if node.get("type") == "Metaspace":
            node["prepend_scheme"] = "never"
            node.pop("add_prefix_space", None)

    def keep(n: dict) -> bool:
        if n.get("type") == "Prepend":
            return False
        pat = (n.get("pattern") or {}).get("Regex", "") if n.get("type") == "Replace" else ""
        return not pat.startswith("\\A")

    norm = spec.get("normalizer")
    if norm:
        if norm.get("type") == "Sequence":
            norm["normalizers"] = [n for n in norm["normalizers"] if keep(n)]
        elif not keep(norm):
            spec["normalizer"] = None
    # a ByteLevel pre-tokenizer may also add a space in front
    for node in _types(spec.get("pre_tokenizer")):
        if node.get("type") == "ByteLevel":
            node["add_prefix_space"] = False
    return spec


class TokenCodec:
    """Exact id <-> bytes conversion for one tokenizer (see the module docstring). Picklable for workers."""

    def __init__(self, tokenizer: Any):
        backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
        if backend is None or not hasattr(backend, "to_str"):
            raise CodejaError(
                f"{type(tokenizer).__name__}: FIM needs a fast (Rust `tokenizers`) tokenizer; load it with "
                "AutoTokenizer.from_pretrained(path) (SentencePiece .model files convert automatically)"
            )
        self.name = str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)
        self._spec_json = backend.to_str()
        self._setup()

    # -- construction -------------------------------------------------------------------------------------------

    def _setup(self) -> None:
        # heavy: tokenizers (kept out of `codeja --help` and light imports)
        from tokenizers import Tokenizer

        spec = json.loads(self._spec_json)
        self._encoder = Tokenizer.from_str(json.dumps(_without_dummy_prefix(spec)))
        self._encoder.encode_special_tokens = True  # literal "<fim_prefix>" in code stays text
        self._encoder.no_truncation()
        self._encoder.no_padding()
        dec_types = {n.get("type") for n in _types(spec.get("decoder"))}
        pre_types = {n.get("type") for n in _types(spec.get("pre_tokenizer"))}
        if "ByteLevel" in dec_types or "ByteLevel" in pre_types:
            self.kind = "byte-level"
        elif "Metaspace" in dec_types or "Metaspace" in pre_types or "ByteFallback" in dec_types or any(
            n.get("type") == "Replace" and (n.get("pattern") or {}).get("String") == "▁"
            for n in _types(spec.get("decoder"))
        ):
            self.kind = "sentencepiece"
        else:
            raise CodejaError(f"{self.name}: unsupported tokenizer decoder {sorted(t for t in dec_types if t)}; "
                              "FIM supports byte-level BPE and SentencePiece-style (Metaspace/ByteFallback) tokenizers")
        self.byte_fallback = bool(spec.get("model", {}).get("byte_fallback")) or "ByteFallback" in dec_types
        vocab = self._encoder.get_vocab(with_added_tokens=True)
        self.vocab_size = max(vocab.values()) + 1
        added = {t["id"]: t for t in spec.get("added_tokens", [])}
        self.special_ids = np.array(sorted(i for i, t in added.items() if t.get("special")), dtype=np.int64)
        self._special_char = {int(i): chr(SPECIAL_BASE + k) for k, i in enumerate(self.special_ids)}
        self._char_special = {c: i for i, c in self._special_char.items()}
        if len(self._special_char) > 0xFFFD:
            raise CodejaError(f"{self.name}: too many special tokens ({len(self._special_char)})")
        # Special tokens that are also ordinary pieces of the model (SentencePiece control symbols converted to a
        # Unigram vocabulary): the model itself can emit them for literal text such as "<fim_prefix>".
        model_vocab = spec.get("model", {}).get("vocab") or {}
        pieces = set(model_vocab) if isinstance(model_vocab, dict) else {p[0] for p in model_vocab}
        self._special_in_model = np.array(
            [i for i in self.special_ids if self._encoder.id_to_token(int(i)) in pieces], dtype=np.int64)
        self._special_in_model_set = frozenset(int(i) for i in self._special_in_model)
        self._special_content = {int(i): added[int(i)]["content"] for i in self.special_ids}
        bdec = _byte_decoder()
        table: list[bytes] = [b""] * self.vocab_size
        for piece, i in vocab.items():
            if i in self._special_char:
                table[i] = self._special_char[i].encode("utf-8")
            elif i in added:
                table[i] = added[i]["content"].encode("utf-8")
            elif self.kind == "byte-level":
                try:
                    table[i] = bytes(bdec[c] for c in piece)
                except KeyError:  # not a byte-level piece (should not happen): keep its text
                    table[i] = piece.encode("utf-8")
            else:
                m = _BYTE_PIECE.match(piece) if self.byte_fallback else None
                table[i] = bytes([int(m.group(1), 16)]) if m else piece.replace("▁", " ").encode("utf-8")
        self.table = table
        # Flat byte buffer + offsets: numpy gathers a whole context's bytes without a Python loop per token.
        lens = np.fromiter((len(b) for b in table), dtype=np.int64, count=len(table))
        self.token_lens = lens
        self._starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        self._flat = np.frombuffer(b"".join(table), dtype=np.uint8)
        self._build_char_tables(lens)
        self.tokenizer_hash = hashlib.sha256(self._spec_json.encode("utf-8")).hexdigest()
        # the vocabulary/merges alone: unchanged when FIM sentinels are added, so a corpus stays usable
        self.model_hash = hashlib.sha256(json.dumps(spec.get("model"), sort_keys=True).encode("utf-8")).hexdigest()
        self.roundtrip_ok = all(self.decode_bytes(self.encode(p)) == p.encode("utf-8") for p in PROBES[:3])

    def _build_char_tables(self, lens: np.ndarray) -> None:
        """Per-id tables that let the FIM transform locate characters in a token sequence without decoding it.

        * ``char_info[id]``: how many characters *start* in the token's bytes (bytes that are not UTF-8
          continuation bytes), plus ``SLOW_PATH_FLAG`` when the token is empty or contains byte 0xF3 (the lead byte
          of the private-use placeholders that stand for special tokens, see ``SPECIAL_BASE``). A cumulative sum
          over a segment's ids gives the character offset of every token; a non-zero high part says the segment
          needs the decoding path.
        * ``starts_cont[id]``: the token's first byte is a UTF-8 continuation byte (a token boundary before it is
          not a character boundary); ``ends_ascii_list[id]``: its last byte is ASCII (a segment ending with it has
          no partial character to trim).

        Built once per tokenizer with numpy (no Python loop over the vocabulary); rebuilt after unpickling.
        """
        flat = self._flat
        ends = self._starts + lens

        def per_token(byte_mask: np.ndarray) -> np.ndarray:
            # count of masked bytes inside each token: difference of a running sum (empty tokens give 0)
            run = np.concatenate([[0], np.cumsum(byte_mask, dtype=np.int64)])
            return run[ends] - run[self._starts]

        chars = per_token((flat & 0xC0) != 0x80)
        slow = (per_token(flat == 0xF3) > 0) | (lens == 0)
        self.char_info = chars + slow.astype(np.int64) * SLOW_PATH_FLAG
        first = flat[np.minimum(self._starts, max(len(flat) - 1, 0))] if len(flat) else np.zeros(len(lens), np.uint8)
        last = flat[np.maximum(ends - 1, 0)] if len(flat) else np.zeros(len(lens), np.uint8)
        self.starts_cont = ((first & 0xC0) == 0x80) & (lens > 0)
        # scalar lookups (a few per document) are faster on lists than on numpy arrays
        self.starts_cont_list = self.starts_cont.tolist()
        self.ends_ascii_list = ((last < 0x80) & (lens > 0)).tolist()  # the id's bytes end with a whole character
        space = np.zeros(256, dtype=bool)
        space[[0x09, 0x0A, 0x0D, 0x20]] = True
        self.starts_space_list = (space[first] & (lens > 0)).tolist()
        self.ends_space_list = (space[last] & (lens > 0)).tolist()

    def __getstate__(self) -> dict:
        return {"name": self.name, "_spec_json": self._spec_json}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._setup()

    # -- the two directions -------------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` with no BOS/EOS, no dummy prefix and no special-token parsing (private-use placeholders
        for special tokens, as produced by :meth:`decode_text`, become those special ids again)."""
        if self._has_placeholder(text):
            return self._encode_with_specials(text)
        return self._plain(self._encoder.encode(text, add_special_tokens=False).ids)

    def encode_plain(self, text: str) -> list[int]:
        """:meth:`encode` for a text known to hold no placeholder character (skips that check)."""
        return self._plain(self._encoder.encode(text, add_special_tokens=False).ids)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        if any(self._has_placeholder(t) for t in texts):
            return [self.encode(t) for t in texts]
        return [self._plain(e.ids) for e in self._encoder.encode_batch_fast(list(texts), add_special_tokens=False)]

    def encode_batch_plain(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`encode_batch` for texts known to hold no placeholder character (skips that check)."""
        return [self._plain(e.ids) for e in self._encoder.encode_batch_fast(list(texts), add_special_tokens=False)]

    def _has_placeholder(self, text: str) -> bool:
        # placeholders are the highest code points in use: max() is one C pass, the exact test runs only if needed
        return bool(self._char_special) and bool(text) and max(text) >= _SPECIAL_MIN_CHAR and any(
            c in self._char_special for c in text)

    def _plain(self, ids: list[int]) -> list[int]:
        """Replace special ids the model emitted for plain text by the encodings of their characters one by one."""
        if not self._special_in_model_set or self._special_in_model_set.isdisjoint(ids):
            return ids
        out: list[int] = []
        for i in ids:
            if i in self._special_content:
                for ch in self._special_content[i]:
                    out.extend(self._encoder.encode(ch, add_special_tokens=False).ids)
            else:
                out.append(i)
        return out

    def _encode_with_specials(self, text: str) -> list[int]:
        out: list[int] = []
        start = 0
        for k, ch in enumerate(text):
            sid = self._char_special.get(ch)
            if sid is not None:
                if k > start:
                    out.extend(self._plain(self._encoder.encode(text[start:k], add_special_tokens=False).ids))
                out.append(sid)
                start = k + 1
        if start < len(text):
            out.extend(self._plain(self._encoder.encode(text[start:], add_special_tokens=False).ids))
        return out

    def decode_bytes(self, ids: Iterable[int] | np.ndarray) -> bytes:
        """Raw bytes of ``ids`` (special tokens as their placeholder characters); never inserts or removes bytes."""
        arr = np.asarray(ids, dtype=np.int64)
        if arr.size <= _JOIN_MAX:  # a join over the bytes table beats numpy's fixed cost on short id runs
            return b"".join([self.table[i] for i in arr.tolist()])
        lens = self.token_lens[arr]
        total = int(lens.sum())
        # index of every output byte in the flat table: start of its token + position inside the token
        offs = np.repeat(self._starts[arr] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        return self._flat[offs + np.arange(total)].tobytes()

    def decode_text(self, ids: Iterable[int] | np.ndarray) -> str:
        """Text of complete ids (raises UnicodeDecodeError on partial characters; use utf8 trimming first)."""
        return self.decode_bytes(ids).decode("utf-8")

    def render(self, ids: Iterable[int] | np.ndarray) -> str:
        """Human-readable text with special tokens spelled out (for inspection only)."""
        text = self.decode_bytes(ids).decode("utf-8", errors="replace")
        return "".join(self._special_text(c) for c in text) if self._char_special else text

    def _special_text(self, ch: str) -> str:
        sid = self._char_special.get(ch)
        if sid is None:
            return ch
        return self._encoder.id_to_token(sid)

    def token_to_id(self, token: str) -> int | None:
        return self._encoder.token_to_id(token)

    def id_to_token(self, i: int) -> str | None:
        return self._encoder.id_to_token(i)

    def has_placeholder_clash(self, text: str) -> bool:
        """True if ``text`` itself contains a private-use character we use for special tokens (never FIM such a doc)."""
        return any(c in self._char_special for c in text)


def utf8_bounds(buf: bytes | np.ndarray) -> tuple[int, int]:
    """(start, end) of the longest span of ``buf`` that drops only partial UTF-8 characters at its two edges.

    Leading continuation bytes (a character cut by the context start) and a trailing incomplete multi-byte sequence
    (a character cut by the context end) are excluded; nothing in the middle is touched.
    """
    a = np.frombuffer(buf, dtype=np.uint8) if isinstance(buf, (bytes, bytearray)) else buf
    start = utf8_head_trim(a)
    return start, max(start, utf8_tail_end(a, start))


def utf8_head_trim(a: bytes | np.ndarray) -> int:
    """How many leading continuation bytes (a character cut by the context start; at most 4 are looked at) to drop.

    Looks at the first 4 bytes only, so the first few tokens' bytes are enough to call it.
    """
    n, start = len(a), 0
    while start < n and start < 4 and (a[start] & 0xC0) == 0x80:
        start += 1
    return start


def utf8_tail_end(a: bytes | np.ndarray, start: int = 0) -> int:
    """Where ``a`` ends once a trailing incomplete multi-byte character is dropped (``len(a)`` if complete).

    Looks at the last 5 bytes only (and never before ``start``), so the last few tokens' bytes are enough.
    """
    n = len(a)
    # walk back over up to 3 continuation bytes to the last lead byte, then check it is complete
    k = n - 1
    while k >= start and n - k <= 4 and (a[k] & 0xC0) == 0x80:
        k -= 1
    if k >= start:
        lead = int(a[k])
        need = (1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110
                else 4 if lead >> 3 == 0b11110 else 1)
        if n - k < need:
            return k
    return n
