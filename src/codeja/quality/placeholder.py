"""Placeholder detection: "fill in your code here" documents and stub answers.

A model pretrained on exercise templates learns to answer with ``# TODO: implement this function`` instead of code,
and later training cannot reliably undo it, so such documents are dropped whole. Two kinds of evidence:

* **strong** phrases (``# YOUR CODE HERE``, ``TODO Auto-generated method stub``, ``ここにコードを書いてください``)
  are placeholders wherever they appear;
* **weak** markers (``TODO``/``FIXME`` with an action word such as *implement*, ``ここを実装``, ``todo!()``) count only
  when a stub body follows (``pass``, ``...``, ``raise NotImplementedError``, ``return null;``, ``}``, ``todo!()``) or
  when the marker sits on the stub line itself (``pass  # TODO``). A naive ``TODO`` match would drop ~6% of CPython's
  standard library; developer notes such as ``# TODO(alice): handle unicode`` before real code are never flagged,
  nor are ``pass`` in an ``except`` block or abstract methods.

That is the ``calibrated`` policy (the default). The ``strict`` policy is the seed's rule: any pattern match drops
the document. A strong phrase, or a weak marker that names an action (``# TODO: implement this function``) or
stands bare (``# TODO``), in a comment or on a stub line, is enough, whatever follows it and wherever it is (no
stub-body check, no exemption for abstract methods or ``except`` blocks). ``# TODO(alice): handle unicode`` names
no action and is kept under both. What each policy costs is measured in docs/placeholder.md.

The pattern set is data (``resources/placeholder_patterns.yaml``) and can be extended with another YAML file.
The same detector serves curation, the Magpie and preference filters, and the evaluation's generation-health metric
(a model answer that is only a stub is flagged as ``weak-stub``).

Speed: one case-insensitive pass of a combined strong regex and one pass of the trigger regex per document; the
per-line stub analysis runs only around trigger hits, which are rare.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from codeja.errors import ConfigError

Kind = Literal["strong", "weak-stub", "weak"]
Policy = Literal["strict", "calibrated"]
POLICIES: tuple[str, ...] = ("strict", "calibrated")

_FLAGS = re.IGNORECASE | re.MULTILINE
# Comment openers; a weak marker must sit after one of them on its line (or on a stub line).
_COMMENT = re.compile(r"#|//|/\*|<!--|--\s|^\s*\*|^\s*;|^\s*%|\"\"\"|'''|\bREM\b", re.MULTILINE)
_COMMENT_LINE = re.compile(r"^\s*(?:#|//|/\*|\*|--\s|<!--|;|%|\"\"\"|''')")
_HANDLER = re.compile(r"^\s*(?:except\b|catch\b|\}\s*catch\b|rescue\b|finally\b|else\s*:|if\s+err\b)")
_BLOCK_OPEN = re.compile(r"(?::|\{|\"\"\"|''')\s*(?:(?:#|//).*)?$")


@dataclass(frozen=True)
class PlaceholderMatch:
    pattern: str  # id of the rule that matched
    kind: Kind  # "strong" phrase, "weak-stub" (weak marker + stub body), "weak" (a marker alone: strict policy)
    text: str  # the matched snippet (the line, cut to 200 characters)
    line: int  # 1-based line of the match

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rule:
    id: str
    regex: re.Pattern
    guard: tuple[str, ...]  # lower-case literals, one of which is inside every match (empty: no guard)

    def finditer(self, text: str, low: str) -> Iterator[re.Match]:
        """Matches in ``text``, searching only windows around guard hits in ``low`` (``text.lower()``).

        A regex over a whole 16k-char file costs ~1 ms; a C substring search costs microseconds, and guard hits
        are rare, so this is what makes the filter fast. Falls back to a full scan when lower-casing changed the
        length (offsets would not line up) or the rule has no guard.
        """
        if not self.guard or len(low) != len(text):
            yield from self.regex.finditer(text)
            return
        starts = sorted({i for g in self.guard for i in _find_all(low, g)})
        done = -1  # windows are searched left to right; a match is reported once
        covered = 0
        for i in starts:
            if i < covered:
                continue
            lo = text.rfind("\n", 0, max(0, i - _WINDOW)) + 1
            hi = text.find("\n", i + _WINDOW)
            hi = len(text) if hi < 0 else hi
            for m in self.regex.finditer(text, lo, hi):
                if m.start() > done:
                    done = m.start()
                    yield m
            covered = hi


_WINDOW = 400  # characters searched on each side of a guard hit; longer than any rule's match


def _find_all(hay: str, needle: str) -> Iterator[int]:
    i = hay.find(needle)
    while i >= 0:
        yield i
        i = hay.find(needle, i + 1)


@dataclass(frozen=True)
class PatternSet:
    """The compiled rules; build with :meth:`load` from the shipped YAML plus optional extra files."""

    strong: tuple[Rule, ...]
    triggers: tuple[Rule, ...]
    action: re.Pattern
    bare_todo: re.Pattern
    exempt: re.Pattern
    stub: re.Pattern
    trivial: re.Pattern
    lookahead: int

    @classmethod
    def load(cls, extra_files: tuple[str, ...] = ()) -> PatternSet:
        data = yaml.safe_load(resources.files("codeja.quality").joinpath("resources/placeholder_patterns.yaml")
                              .read_text("utf-8"))
        for f in extra_files:
            p = Path(f)
            if not p.is_file():
                raise ConfigError(f"{p}: placeholder pattern file not found")
            extra = yaml.safe_load(p.read_text("utf-8")) or {}
            unknown = set(extra) - {"strong", "triggers"}
            if unknown:
                raise ConfigError(f"{p}: unknown keys {sorted(unknown)} "
                                  "(extra pattern files may add 'strong' and 'triggers')")
            for key in ("strong", "triggers"):
                data[key] = data[key] + list(extra.get(key) or [])
        return cls(
            strong=_rules(data["strong"], "strong"),
            triggers=_rules(data["triggers"], "triggers"),
            action=_compile(data["actions"]["regex"], "actions"),
            bare_todo=_compile(data["actions"]["bare_todo"], "actions.bare_todo"),
            exempt=_compile(data["exempt"]["regex"], "exempt"),
            stub=_compile(data["stubs"]["regex"], "stubs"),
            trivial=_compile(data["trivial"]["regex"], "trivial"),
            lookahead=int(data.get("lookahead", 2)),
        )


def _compile(regex: str, where: str) -> re.Pattern:
    # IGNORECASE costs a lot in sre; patterns without ASCII letters (the Japanese ones) do not need it
    flags = _FLAGS if re.search(r"(?<!\\)[A-Za-z]", re.sub(r"\\[A-Za-z]", "", regex)) else re.MULTILINE
    try:
        return re.compile(regex, flags)
    except re.error as e:
        raise ConfigError(f"placeholder patterns: {where}: invalid regex: {e}") from None


def _rules(rules: list[dict], where: str) -> tuple[Rule, ...]:
    out: list[Rule] = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or not rule.get("id") or "regex" not in rule:
            raise ConfigError(f"placeholder patterns: {where}[{i}]: needs 'id' and 'regex'")
        if any(r.id == rule["id"] for r in out):
            raise ConfigError(f"placeholder patterns: {where}: duplicate id '{rule['id']}'")
        guard = tuple(str(g).lower() for g in rule.get("guard") or ())
        out.append(Rule(rule["id"], _compile(rule["regex"], f"{where}.{rule['id']}"), guard))
    return tuple(out)


class PlaceholderDetector:
    """Finds the first placeholder in a text; stateless apart from the compiled patterns, so safe to share.

    ``policy``: ``calibrated`` (a weak marker counts only with a stub body) or ``strict`` (any match counts).
    """

    def __init__(self, patterns: PatternSet | None = None, policy: Policy = "calibrated"):
        if policy not in POLICIES:
            raise ConfigError(f"placeholder policy: unknown policy {policy!r}; choose {' or '.join(POLICIES)}")
        self.p = patterns or default_patterns()
        self.policy = policy

    def find(self, text: str, language: str | None = None) -> PlaceholderMatch | None:
        low = text.lower()
        best: tuple[int, str] | None = None
        for rule in self.p.strong:
            m = next(rule.finditer(text, low), None)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), rule.id)
        if best:
            return PlaceholderMatch(best[1], "strong", _line_at(text, best[0]), text.count("\n", 0, best[0]) + 1)
        hits = sorted((t.start(), i, t) for i, rule in enumerate(self.p.triggers) for t in rule.finditer(text, low))
        for _, i, t in hits:
            rid = self.p.triggers[i].id
            found = self._weak(text, t, rid) or (self._marker(text, t, rid) if self.policy == "strict" else None)
            if found:
                return found
        return None

    def _marker(self, text: str, t: re.Match, rid: str) -> PlaceholderMatch | None:
        """Strict policy: a weak marker with an action word (or a bare TODO) in a comment or on a stub line."""
        start = text.rfind("\n", 0, t.start()) + 1
        end = text.find("\n", t.end())
        line = text[start: len(text) if end < 0 else end]
        col = t.start() - start
        comment = _COMMENT.search(line)
        in_comment = comment is not None and comment.start() <= col
        code_part = (line[: comment.start()] if in_comment else line).strip()
        is_macro = rid == "rust-todo-macro"
        wants = is_macro or bool(self.p.action.search(line, col)) or bool(self.p.bare_todo.search(line, col))
        on_stub = bool(code_part) and bool(self.p.stub.match(code_part))
        if not wants or not (in_comment or is_macro or on_stub):
            return None  # e.g. an identifier `todo` in code, or TODO(alice) naming no action
        return PlaceholderMatch(rid, "weak", line.strip()[:200], text.count("\n", 0, start) + 1)

    # -- weak markers -------------------------------------------------------------------------------------------

    def _weak(self, text: str, t: re.Match, rid: str) -> PlaceholderMatch | None:
        start = text.rfind("\n", 0, t.start()) + 1
        end = text.find("\n", t.end())
        end = len(text) if end < 0 else end
        line = text[start:end]
        if self.p.exempt.search(line):
            return None
        col = t.start() - start
        comment = _COMMENT.search(line)
        code_part = (line[: comment.start()] if comment and comment.start() <= col else line).strip()
        in_comment = comment is not None and comment.start() <= col
        is_macro = rid == "rust-todo-macro"
        wants = is_macro or bool(self.p.action.search(line, col)) or bool(self.p.bare_todo.search(line, col))
        if not wants:
            return None
        lineno = text.count("\n", 0, start) + 1
        match = PlaceholderMatch(rid, "weak-stub", line.strip()[:200], lineno)
        lines_before = text[:start].splitlines()
        if _after_handler(lines_before):
            return None  # `except ...: pass  # TODO` swallows an error; not a fill-in stub
        # 1. the marker sits on a stub line: `pass  # TODO`, `raise NotImplementedError("TODO: ...")`, `todo!()`
        if code_part and self.p.stub.match(code_part):
            return match
        if not in_comment and not is_macro:
            return None  # TODO in code or a string that is not a stub line (e.g. an identifier `todo`)
        # 2. the body after the marker is a stub: the next code line (comments skipped) is a stub, possibly after a
        #    few trivial lines such as `result = None`; any real statement first means the TODO annotates real code
        indent = len(line) - len(line.lstrip())
        seen, pos = 0, end + 1
        while seen < self.p.lookahead and pos <= len(text):
            nxt = text.find("\n", pos)
            nxt = len(text) if nxt < 0 else nxt
            cur = text[pos:nxt]
            pos = nxt + 1
            s = cur.strip()
            if not s or _COMMENT_LINE.match(cur):
                continue
            seen += 1
            code = _strip_comment(s)
            if self.p.stub.match(code):
                return match
            if seen == 1 and len(cur) - len(cur.lstrip()) < indent and _opens_block(lines_before):
                return match  # the block holding the marker is otherwise empty (dedent right after it)
            if not self.p.trivial.match(code):
                return None
        if seen == 0 and _opens_block(lines_before):
            return match  # the text ends right after the marker, inside a block it opened: an empty body
        return None


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start: len(text) if end < 0 else end].strip()[:200]


def _strip_comment(s: str) -> str:
    m = re.search(r"\s(?:#|//)", s)
    return s[: m.start()].strip() if m else s


def _code_lines_back(lines_before: list[str], n: int = 1) -> list[str]:
    out = []
    for ln in reversed(lines_before):
        if ln.strip() and not _COMMENT_LINE.match(ln):
            out.append(ln)
            if len(out) == n:
                break
    return out


def _after_handler(lines_before: list[str]) -> bool:
    prev = _code_lines_back(lines_before[-8:])
    return bool(prev) and bool(_HANDLER.match(prev[0]))


def _opens_block(lines_before: list[str]) -> bool:
    prev = _code_lines_back(lines_before[-8:])
    return bool(prev) and bool(_BLOCK_OPEN.search(prev[0].rstrip()))


@lru_cache(maxsize=8)
def default_patterns(extra_files: tuple[str, ...] = ()) -> PatternSet:
    return PatternSet.load(extra_files)


@lru_cache(maxsize=8)
def get_detector(extra_files: tuple[str, ...] = (), policy: Policy = "calibrated") -> PlaceholderDetector:
    return PlaceholderDetector(default_patterns(tuple(extra_files)), policy)


def find_placeholder(text: str, language: str | None = None, policy: Policy = "calibrated") -> PlaceholderMatch | None:
    """The first placeholder in ``text`` (a source file, a web page or a model answer), or None.

    ``language`` is accepted for callers that know it (it does not change the rules today: comment syntax is
    recognised for all languages at once, so an answer in an unexpected language is still checked).
    """
    return get_detector(policy=policy).find(text, language)
