"""The traffic chart of the report: what clients saw, as an inline SVG (no script, no fetch).

`TrafficPoint` is one interval of traffic through the load balancers, `Marker` a moment worth
pointing at ("record emptied", "repair"); `traffic_section` renders both as the report's "What
clients saw" section, every piece of text escaped (the report's rules 1 and 2).
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["CHART_CSS", "IntervalRecord", "Marker", "TrafficPoint", "traffic_points_from",
           "traffic_section"]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# -- the traffic values ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafficPoint:
    """One interval of traffic through the load balancers, starting `t_s` seconds after the
    traffic started and lasting `interval_s`: requests served (`ok`) and failed, by reason."""

    t_s: float
    ok: int
    failed: int
    failures_by_reason: Mapping[str, int] = field(default_factory=dict)
    interval_s: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.t_s) and self.t_s >= 0):
            raise ValueError(f"TrafficPoint.t_s must be a finite number of seconds >= 0, "
                             f"got {self.t_s!r}")
        if not (math.isfinite(self.interval_s) and self.interval_s > 0):
            raise ValueError(f"TrafficPoint.interval_s must be a positive number of seconds, "
                             f"got {self.interval_s!r}")
        for name, count in (("ok", self.ok), ("failed", self.failed),
                            *self.failures_by_reason.items()):
            if count < 0:
                raise ValueError(f"TrafficPoint at t={self.t_s:g}s: count {name!r} is {count}; "
                                 "request counts cannot be negative")

    @property
    def end_s(self) -> float:
        return self.t_s + self.interval_s

    @property
    def ok_per_s(self) -> float:
        return self.ok / self.interval_s

    @property
    def failed_per_s(self) -> float:
        return self.failed / self.interval_s


@dataclass(frozen=True, slots=True)
class Marker:
    """A moment on the traffic chart, e.g. "record emptied" or "repair"."""

    t_s: float
    label: str


class IntervalRecord(Protocol):
    """What `traffic_points_from` reads of a record (fake_lb's `IntervalStats` has it)."""

    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...

    @property
    def succeeded(self) -> int: ...

    @property
    def failures(self) -> Sequence[tuple[str, int]]: ...


def traffic_points_from(records: Iterable[IntervalRecord]) -> tuple[TrafficPoint, ...]:
    """The chart's points from the load generator's per-interval records."""
    return tuple(TrafficPoint(t_s=r.start_s, ok=r.succeeded,
                              failed=sum(count for _, count in r.failures),
                              failures_by_reason=dict(r.failures),
                              interval_s=r.end_s - r.start_s) for r in records)


# -- the traffic chart -------------------------------------------------------------------------

_W, _H = 1000, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 24, 44, 52
_OK_COLOUR, _FAIL_COLOUR = "#2f9e44", "#e03131"
_Scale = Callable[[float], float]


def _nice_step(span: float, ticks: int) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about `ticks` ticks over `span`."""
    raw = max(span, 1e-9) / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def traffic_section(points: Sequence[TrafficPoint], markers: Sequence[Marker]) -> str:
    totals: Counter[str] = Counter()
    for p in points:
        totals.update(p.failures_by_reason)
    ok, failed = sum(p.ok for p in points), sum(p.failed for p in points)
    reasons = ", ".join(f"{_e(r)} {c}" for r, c in sorted(totals.items()))
    return ('<section class="traffic"><h2>What clients saw</h2><p>Requests through the load '
            "balancers, per second, in each interval. The load balancers resolve the endpoint "
            "before every request: once DNS answers with no address, requests fail.</p>"
            f"{_chart(points, markers)}<p class=\"totals\">{ok + failed} requests: {ok} served, "
            f"{failed} failed{f' ({reasons})' if reasons else ''}.</p></section>")


def _chart(points: Sequence[TrafficPoint], markers: Sequence[Marker]) -> str:
    points = sorted(points, key=lambda p: p.t_s)
    width, height = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    x_min = min([0.0, points[0].t_s] + [m.t_s for m in markers])
    x_max = max([p.end_s for p in points] + [m.t_s for m in markers])
    x_span = max(x_max - x_min, 1e-9)
    y_step = _nice_step(max(max(p.ok_per_s, p.failed_per_s) for p in points) or 1.0, 5)
    y_top = y_step * max(1, math.ceil(max(max(p.ok_per_s, p.failed_per_s)
                                          for p in points) / y_step - 1e-9))

    def sx(t: float) -> float:
        return round(_LEFT + (t - x_min) / x_span * width, 2)

    def sy(v: float) -> float:
        return round(_TOP + height - v / y_top * height, 2)

    svg = [f'<svg id="traffic-chart" class="chart" viewBox="0 0 {_W} {_H}" role="img" '
           f'xmlns="http://www.w3.org/2000/svg" aria-label="requests served and failed per '
           f'second over time"><rect x="{_LEFT}" y="{_TOP}" width="{width}" height="{height}" '
           'class="plot"/>']
    y_tick = 0.0
    while y_tick <= y_top + 1e-9:
        svg.append(f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + width}" y1="{sy(y_tick)}" '
                   f'y2="{sy(y_tick)}"/><text class="tick" x="{_LEFT - 8}" y="{sy(y_tick) + 4}" '
                   f'text-anchor="end">{_fmt(y_tick)}</text>')
        y_tick += y_step
    x_step = _nice_step(x_span, 10)
    x_tick = math.ceil(x_min / x_step) * x_step
    while x_tick <= x_max + 1e-9:
        svg.append(f'<line class="grid" x1="{sx(x_tick)}" x2="{sx(x_tick)}" y1="{_TOP}" '
                   f'y2="{_TOP + height}"/><text class="tick" x="{sx(x_tick)}" '
                   f'y="{_TOP + height + 18}" text-anchor="middle">{_fmt(x_tick)}</text>')
        x_tick += x_step
    series: tuple[tuple[str, str, Callable[[TrafficPoint], float]], ...] = (
        ("ok", _OK_COLOUR, lambda p: p.ok_per_s),
        ("failed", _FAIL_COLOUR, lambda p: p.failed_per_s))
    for name, colour, rate in series:
        area, line = _step_paths(points, rate, sx, sy)
        svg.append(f'<path class="area {name}" d="{area}" fill="{colour}"/>'
                   f'<path class="line {name}" d="{line}" stroke="{colour}"/>')
    for p in points:
        why = ", ".join(f"{r} {c}" for r, c in sorted(p.failures_by_reason.items()))
        svg.append(f'<rect class="interval" x="{sx(p.t_s)}" y="{_TOP}" '
                   f'width="{max(sx(p.end_s) - sx(p.t_s), 0.5)}" height="{height}">'
                   f"<title>{_fmt(p.t_s)}–{_fmt(p.end_s)} s: {p.ok} served, {p.failed} failed"
                   f"{_e(f' ({why})') if why else ''}</title></rect>")
    svg.append(_marker_marks(markers, sx, _TOP, height))
    svg.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT + width}" y1="{_TOP + height}" '
        f'y2="{_TOP + height}"/><line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" '
        f'y2="{_TOP + height}"/>'
        f'<text class="axis-title" x="{_LEFT + width / 2}" y="{_H - 10}" text-anchor="middle">'
        "seconds since the traffic started</text>"
        f'<text class="axis-title" transform="translate(18 {_TOP + height / 2}) rotate(-90)" '
        'text-anchor="middle">requests per second</text>'
        f'<g class="legend" transform="translate({_LEFT} 16)">'
        f'<rect width="14" height="14" y="-2" fill="{_OK_COLOUR}"/>'
        '<text x="20" y="10">served (ok)</text>'
        f'<rect x="130" width="14" height="14" y="-2" fill="{_FAIL_COLOUR}"/>'
        '<text x="150" y="10">failed</text>'
        f'<line x1="230" x2="250" y1="5" y2="5" class="marker-line"/>'
        '<text x="256" y="10">event</text></g></svg>')
    return "".join(svg)


def _step_paths(points: Sequence[TrafficPoint], rate: Callable[[TrafficPoint], float],
                sx: _Scale, sy: _Scale) -> tuple[str, str]:
    """The series as steps (each interval is a flat segment): the area path and the line."""
    area: list[str] = []
    line: list[str] = []
    base = sy(0.0)
    end: float | None = None
    for p in points:
        x0, x1, y = sx(p.t_s), sx(p.end_s), sy(rate(p))
        if end is None or abs(p.t_s - end) > 1e-6:  # a gap: start a new segment
            if end is not None:
                area.append(f"L{sx(end)},{base}Z")
            area.append(f"M{x0},{base}L{x0},{y}")
            line.append(f"M{x0},{y}")
        else:
            area.append(f"L{x0},{y}")
            line.append(f"L{x0},{y}")
        area.append(f"L{x1},{y}")
        line.append(f"L{x1},{y}")
        end = p.end_s
    if end is not None:
        area.append(f"L{sx(end)},{base}Z")
    return "".join(area), "".join(line)


def _marker_marks(markers: Sequence[Marker], sx: _Scale, top: int, height: int) -> str:
    """Dashed lines with labels; a label that would overlap an earlier one goes a row down."""
    out: list[str] = []
    row_ends: list[float] = []
    for marker in sorted(markers, key=lambda m: m.t_s):
        x = sx(marker.t_s)
        label_w = 7.0 * len(marker.label) + 10
        flip = x + label_w > _W - _RIGHT  # near the right edge the label goes left of the line
        left = x - label_w if flip else x
        row = next((i for i, end in enumerate(row_ends) if end < left - 4), len(row_ends))
        if row == len(row_ends):
            row_ends.append(0.0)
        row_ends[row] = left + label_w
        y = top + 16 + row * 20
        tx = x - 5 if flip else x + 5
        out.append(f'<g class="marker"><line class="marker-line" x1="{x}" x2="{x}" y1="{top}" '
                   f'y2="{top + height}"/><rect class="marker-bg" x="{left}" y="{y - 13}" '
                   f'width="{label_w}" height="18" rx="3"/><text x="{tx}" y="{y}" '
                   f'text-anchor="{"end" if flip else "start"}">{_e(marker.label)}</text></g>')
    return "".join(out)



CHART_CSS = """
.chart{width:100%;height:auto;display:block}
.chart .plot{fill:#fff}.chart .grid{stroke:#e9ecef}.chart .axis{stroke:#495057}
.chart text{font-size:12px;fill:#495057}.chart .axis-title{font-size:13px;fill:var(--ink)}
.chart .area{fill-opacity:.16;stroke:none}.chart .line{fill:none;stroke-width:2.5}
.chart .interval{fill:transparent}.chart .interval:hover{fill:rgba(0,0,0,.05)}
.chart .marker-line{stroke:#5f3dc4;stroke-width:1.5;stroke-dasharray:5 4}
.chart .marker-bg{fill:#f3f0ff;stroke:#d0bfff}.chart .marker text{fill:#5f3dc4;font-weight:600}
"""
