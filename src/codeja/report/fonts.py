"""Japanese-capable fonts for reports: which are installed, the CSS font stack, and matplotlib set up to use one.

Without a CJK font, Japanese in a plot (a stage, model or variant name, a placeholder idiom) renders as empty boxes
("tofu"). The set-up installs IPAexGothic (Debian ``fonts-ipaexfont-gothic``, 3 MB; ``scripts/setup-system.sh``);
any installed font that covers Japanese works. matplotlib caches its font list, so a font installed after its first
run is invisible to it until added: :func:`pyplot` adds what fontconfig (or a walk of the font folders) finds.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
from dataclasses import dataclass

from codeja.log import note

# Characters a font must have to count as Japanese-capable: kanji, hiragana, katakana, a full-width mark.
JA_SAMPLE = "日本語のラベルとコード。"
# Families that render Japanese, most preferred first: macOS, Windows, then Linux (Noto CJK, IPA, VL, Takao). A
# browser opening report.html on the reader's own machine uses the first it has.
CSS_JA_FAMILIES = ("Hiragino Sans", "Hiragino Kaku Gothic ProN", "Yu Gothic", "Meiryo", "Noto Sans CJK JP",
                   "Noto Sans JP", "Source Han Sans JP", "IPAexGothic", "IPAGothic", "VL Gothic", "TakaoGothic")
CSS_LATIN_FAMILIES = ("-apple-system", "BlinkMacSystemFont", "Segoe UI", "Helvetica Neue", "Arial")
SET_UP_HINT = "install a Japanese font (Debian: apt-get install fonts-ipaexfont-gothic; scripts/setup-system.sh does)"


@dataclass(frozen=True)
class Font:
    family: str
    path: str


def _covers_japanese(path: str) -> bool:
    try:
        # heavy: matplotlib (kept out of `codeja --help` and light imports)
        from matplotlib.ft2font import FT2Font

        charmap = FT2Font(path).get_charmap()
    except Exception:  # noqa: BLE001 - an unreadable or exotic font file simply does not count
        return False
    return all(ord(c) in charmap for c in JA_SAMPLE)


def _fontconfig_japanese() -> list[Font] | None:
    """fontconfig's own answer (fc-list :lang=ja), or None where fontconfig is not installed."""
    if not shutil.which("fc-list"):
        return None
    try:
        out = subprocess.run(["fc-list", ":lang=ja", "--format", "%{family[0]}\t%{file}\n"], check=False,
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [Font(*line.split("\t", 1)) for line in out.splitlines() if "\t" in line]


@functools.cache
def japanese_fonts() -> tuple[Font, ...]:
    """Installed fonts that cover Japanese, one per family, the families of CSS_JA_FAMILIES first."""
    found = _fontconfig_japanese()
    if found is None:  # no fontconfig: look at every font file matplotlib can find
        from matplotlib import font_manager

        found = []
        for path in font_manager.findSystemFonts():
            with contextlib.suppress(Exception):  # an unreadable font file simply does not count
                found.append(Font(font_manager.get_font(path).family_name, path))
    by_family: dict[str, Font] = {}
    for f in found:
        if f.family not in by_family and f.path.lower().endswith((".ttf", ".otf", ".ttc")) and _covers_japanese(f.path):
            by_family[f.family] = f
    rank = {name: i for i, name in enumerate(CSS_JA_FAMILIES)}
    return tuple(sorted(by_family.values(), key=lambda f: (rank.get(f.family, len(rank)), f.family)))


def css_font_stack() -> str:
    """The CSS ``font-family`` value: Latin UI fonts, the Japanese families (installed ones included), sans-serif."""
    names = list(CSS_LATIN_FAMILIES) + list(CSS_JA_FAMILIES)
    names += [f.family for f in japanese_fonts() if f.family not in names]
    return ",".join(n if n.startswith("-") or n.isalnum() else f"'{n}'" for n in names) + ",sans-serif"


@functools.cache
def _configure_matplotlib() -> tuple[str, ...]:
    """Make matplotlib fall back to a Japanese font for glyphs DejaVu Sans lacks; returns the family list."""
    from matplotlib import font_manager, rcParams

    fonts = japanese_fonts()
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for f in fonts[:2]:
        if f.path not in known:  # installed after matplotlib cached its font list
            font_manager.fontManager.addfont(f.path)
    # matplotlib (>= 3.6) falls back glyph by glyph along font.family; a generic "sans-serif" would be one font
    families = ("DejaVu Sans", *[f.family for f in fonts[:2]])
    rcParams["font.family"] = list(families)
    if not fonts:
        note(f"report: no Japanese font installed, Japanese in plots will show as boxes; {SET_UP_HINT}")
    return families


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend with a Japanese-capable font; every codeja plot draws with it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _configure_matplotlib()
    return plt
