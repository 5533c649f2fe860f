"""Small pieces the second act's pictures share: escaping, tick steps, numbers, the frame.

The pictures are plain SVG strings with their colours inline (no stylesheet, no script), so
they stand alone in a file and drop into an HTML page unchanged. Every piece of text is escaped.
"""

from __future__ import annotations

import html
import math

__all__ = ["COLLAPSED", "FONT", "GOOD", "OUTAGE", "QUEUE", "RECOVERED", "WASTED", "esc", "fmt",
           "nice_step", "svg_open", "ticks"]

FONT = 'font-family="system-ui, sans-serif" font-size="12"'
GOOD = "#2f9e44"  # goodput, leases
WASTED = "#e03131"  # work done for nobody
QUEUE = "#1971c2"
OUTAGE = "#868e96"  # the shaded outage
RECOVERED = "#b2f2bb"
COLLAPSED = "#ffa8a8"


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt(value: float) -> str:
    return f"{value:.6g}"


def nice_step(span: float, count: int) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about `count` ticks over `span`."""
    raw = max(span, 1e-9) / count
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def ticks(low: float, high: float, count: int) -> list[float]:
    step = nice_step(high - low, count)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 9) for i in range(int((high - first) / step + 1e-9) + 1)]


def svg_open(width: int, height: int, label: str, element_id: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="{esc(element_id)}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{esc(label)}" {FONT}>'
            f'<rect width="{width}" height="{height}" fill="white"/>')
