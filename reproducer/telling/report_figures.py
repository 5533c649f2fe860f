"""Sections of pictures for a report: a heading, a paragraph, a small table, then each picture.

The story's second act (the lease fleet's collapse after the DNS repair) and `reproducer
collapse --html` put their charts and maps in pages this way. The pictures are SVG strings
drawn elsewhere (`reproducer.metastable`'s renderers) and are inserted as markup: they must come
from the package's own renderers, which escape every piece of text they draw. Everything else
in a section (titles, paragraphs, table cells, captions) is text and is escaped here (the
report's rule 2); nothing is fetched (rule 1).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FIGURES_CSS", "Figure", "FigureSection", "figure_section"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One picture: its title, its SVG markup (from the package's renderers), a caption."""

    title: str
    svg: str
    caption: str = ""


@dataclass(frozen=True, slots=True)
class FigureSection:
    """A section of pictures; `anchor` is its id in the page (`#anchor` links to it)."""

    title: str
    anchor: str
    paragraphs: tuple[str, ...] = ()
    figures: tuple[Figure, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (f'<table class="summary">{f"<thead><tr>{head}</tr></thead>" if head else ""}'
            f"<tbody>{body}</tbody></table>")


def figure_section(section: FigureSection) -> str:
    """The section as HTML."""
    parts = [f'<section class="figures" id="{_e(section.anchor)}"><h2>{_e(section.title)}</h2>']
    parts.extend(f"<p>{_e(p)}</p>" for p in section.paragraphs)
    if section.rows or section.header:
        parts.append(_table(section.header, section.rows))
    for figure in section.figures:
        caption = f"<p>{_e(figure.caption)}</p>" if figure.caption else ""
        parts.append(f'<figure><figcaption><b>{_e(figure.title)}</b>{caption}</figcaption>'
                     f'<div class="picture">{figure.svg}</div></figure>')
    parts.append("</section>")
    return "".join(parts)


FIGURES_CSS = """
.figures figure{margin:14px 0 0}.figures figcaption p{margin:2px 0 6px;color:var(--muted)}
.figures .picture{overflow-x:auto}.figures .picture svg{max-width:100%;height:auto}
"""
