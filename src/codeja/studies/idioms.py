"""Placeholder idioms: the bodies that `codeja study contaminate` writes where real function bodies were.

The list is data (``resources/placeholder_idioms.yaml``, or a user's file with the same layout): per language,
idioms with an ``id``, a ``group`` (``held-in``: the curation filter was tuned on the phrase; ``held-out``: it
was not; ``bare-stub``: no comment at all), the comment's natural language and the body ``lines``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from codeja.codeparse import canonical_language
from codeja.errors import ConfigError

GROUPS = ("held-in", "held-out", "bare-stub")
SHIPPED = "resources/placeholder_idioms.yaml"
NATURAL = ("en", "ja", "none")


@dataclass(frozen=True)
class Idiom:
    id: str
    language: str
    group: str
    lang: str  # natural language of the comment: en, ja or none
    lines: tuple[str, ...]

    def render(self, indent: str) -> str:
        """The body: the first line goes where the old body started, the others on new lines at ``indent``."""
        return ("\n" + indent).join(self.lines)


def load_idioms(path: str | Path | None = None) -> dict[str, tuple[Idiom, ...]]:
    """language -> idioms, from ``path`` or the shipped list; every entry checked, errors name the entry."""
    if path is None:
        text = resources.files("codeja.studies").joinpath(SHIPPED).read_text("utf-8")
        source = "placeholder_idioms.yaml"
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{p}: idiom file not found")
        text, source = p.read_text("utf-8"), str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: invalid YAML: {e}") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{source}: expected a mapping language -> list of idioms")
    out: dict[str, tuple[Idiom, ...]] = {}
    seen: set[str] = set()
    for language, entries in data.items():
        lang = canonical_language(str(language)) or str(language)
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{source}: {language}: expected a non-empty list of idioms")
        idioms = []
        for i, e in enumerate(entries):
            where = f"{source}: {language}[{i}]"
            if not isinstance(e, dict):
                raise ConfigError(f"{where}: expected a mapping with id, group, lang, lines")
            unknown = set(e) - {"id", "group", "lang", "lines"}
            if unknown:
                raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: id, group, lang, lines)")
            iid, group, nat, lines = e.get("id"), e.get("group"), e.get("lang", "none"), e.get("lines")
            if not isinstance(iid, str) or not iid:
                raise ConfigError(f"{where}: id: expected a non-empty string")
            if group not in GROUPS:
                raise ConfigError(f"{where} ({iid}): group: expected one of {', '.join(GROUPS)}, "
                                  f"got {group!r}")
            if nat not in NATURAL:
                raise ConfigError(f"{where} ({iid}): lang: expected one of {', '.join(NATURAL)}, got {nat!r}")
            if not (isinstance(lines, list) and lines
                    and all(isinstance(x, str) and x.strip() for x in lines)):
                raise ConfigError(f"{where} ({iid}): lines: expected a non-empty list of non-blank strings")
            if any("\n" in x for x in lines):
                raise ConfigError(f"{where} ({iid}): lines: one line per entry (no newlines inside)")
            key = f"{lang}:{iid}"
            if key in seen:
                raise ConfigError(f"{where}: duplicate id '{iid}' for {lang}")
            seen.add(key)
            idioms.append(Idiom(iid, lang, group, nat, tuple(lines)))
        out[lang] = tuple(idioms)
    return out
