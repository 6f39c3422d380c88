"""HTML and Markdown for every codeja report: one page template, one table renderer, Markdown rendered as HTML.

Templates live in ``templates/`` (jinja2, autoescaped: text is escaped unless it is :class:`markupsafe.Markup`).
:class:`Doc` builds a report's HTML and Markdown side by side, section by section; stage reports that write their own
Markdown (``report.md``) go through :func:`markdown_html`, which embeds the images they reference, so every page
is self-contained.
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from codeja.report.fonts import css_font_stack

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


@functools.cache
def _env():
    return jinja2.Environment(loader=jinja2.PackageLoader("codeja.report", "templates"), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _blocks():
    return _env().get_template("blocks.html.jinja").module


def is_numeric(cell: object) -> bool:
    """Right-align cells that read as numbers ("0.125", "-3", "12 (4%)"), not flags ("--force")."""
    c = str(cell)
    return bool(c) and (c[0].isdigit() or (c[0] == "-" and c[1:2].isdigit()))


def table_html(header: list[str], rows: list[list]) -> Markup:
    """The table every report uses; cells are escaped unless they are Markup."""
    return Markup(_blocks().table(header, rows, is_numeric))


def table_md(header: list[str], rows: list[list], align: str = "") -> str:
    """A Markdown table; ``align``: a letter per column, ``r`` right-aligns it (``"lrr"``), else left."""
    def cell(c: object) -> str:
        return str(c).replace("|", "\\|").replace("\n", " ")

    rule = ["---:" if a == "r" else "---" for a in align.ljust(len(header), "l")]
    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "".join(f"{r}|" for r in rule)]
    lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def data_uri(path: Path) -> str:
    return f"data:{IMAGE_TYPES[path.suffix.lower()]};base64,{base64.b64encode(path.read_bytes()).decode()}"


@functools.cache
def _markdown():
    # raw HTML in a report.md is shown as text, never interpreted
    return MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")


def markdown_html(text: str, base_dir: str | Path | None = None, demote: int = 0) -> Markup:
    """Markdown to HTML; images relative to ``base_dir`` are embedded; headings moved down ``demote`` levels."""
    md = _markdown()
    tokens = md.parse(text)
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close") and demote:
            tok.tag = f"h{min(6, int(tok.tag[1]) + demote)}"
        for child in tok.children or []:
            src = child.attrGet("src") if child.type == "image" else None
            if src and base_dir is not None and not re.match(r"^[a-z]+:", src):
                path = Path(base_dir) / src
                if path.suffix.lower() in IMAGE_TYPES and path.is_file():
                    child.attrSet("src", data_uri(path))
    return Markup(md.renderer.render(tokens, md.options, {}))


def page(title: str, body: str, *, lang: str = "en", toc: list[tuple[str, str]] | None = None,
         generator: str | None = None) -> str:
    """A whole self-contained HTML page (CSS inline, Japanese-capable font stack)."""
    return _env().get_template("page.html.jinja").render(title=title, body=Markup(body), lang=lang,
                                                         font_stack=Markup(css_font_stack()), toc=toc or [],
                                                         generator=generator)


def _anchor(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^\w-]+", "-", text.lower(), flags=re.UNICODE).strip("-") or "section"
    anchor, i = base, 1
    while anchor in taken:
        i += 1
        anchor = f"{base}-{i}"
    taken.add(anchor)
    return anchor


class Doc:
    """A report under construction: each call adds the same content to the HTML and to the Markdown version."""

    def __init__(self) -> None:
        self.h: list[str] = []
        self.m: list[str] = []
        self.toc: list[tuple[str, str]] = []
        self._anchors: set[str] = set()

    def heading(self, text: str, level: int = 2) -> None:
        anchor = _anchor(text, self._anchors)
        if level == 2:
            self.toc.append((anchor, text))
        self.h.append(f"<h{level} id=\"{anchor}\">{escape(text)}</h{level}>")
        self.m.append("#" * level + " " + text + "\n")

    def para(self, text: str, muted: bool = False) -> None:
        cls = ' class="muted"' if muted else ""
        self.h.append(f"<p{cls}>{escape(text)}</p>")
        self.m.append(text + "\n")

    def table(self, header: list[str], rows: list[list]) -> None:
        if rows:
            self.h.append(table_html(header, rows))
            self.m.append(table_md(header, rows))

    def images(self, imgs: list[tuple[str, str]], md_dir: str | None = None) -> None:
        """(file name, base64 PNG) pairs; the Markdown links them as ``md_dir/name`` where they exist as files."""
        if not imgs:
            return
        self.h.append(_blocks().figures(imgs))
        if md_dir:
            self.m += [f"![{n}]({md_dir}/{n})\n" for n, _ in imgs]
        else:  # drawn for the report only: no file to link
            self.m += [f"({n}: see the HTML report)\n" for n, _ in imgs]

    def markdown(self, text: str, base_dir: str | Path | None = None, *, demote: int = 2,
                 md_link: str | None = None) -> None:
        """Markdown written by a stage, rendered into the HTML; the Markdown report links it (or includes it)."""
        self.h.append(f"<div class=\"embedded\">{markdown_html(text, base_dir, demote)}</div>")
        self.m.append(f"Details: [{md_link}]({md_link})\n" if md_link else text + "\n")

    def details(self, summary: str, body_html: Markup | str, md: str | None = None) -> None:
        """A collapsed block in the HTML (``body_html`` is escaped unless Markup); ``md`` goes to the Markdown."""
        self.h.append(_blocks().details(summary, body_html))
        if md:
            self.m.append(md + "\n")

    def html(self, title: str, generator: str | None = None) -> str:
        return page(title, "\n".join(self.h), toc=self.toc if len(self.toc) > 2 else None, generator=generator)

    def markdown_text(self) -> str:
        return "\n".join(self.m)
