"""A run's time series for people: a text table for the terminal, an SVG chart for pages.

Both are pure functions of a `Series` (from the model or from the real run). The chart has
three panels on one time axis: goodput and wasted work (per second), the manager's queue, and
the leases held; the DNS outage is shaded across all three and the run's events (record
emptied, DNS repaired, the operators) are marked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reproducer.metastable.series import Sample, Series
from reproducer.metastable.svg import GOOD, OUTAGE, QUEUE, WASTED, esc, fmt, svg_open, ticks

__all__ = ["RowsSoFar", "series_rows", "series_svg"]


def series_rows(series: Series, every_s: float = 1.0) -> list[str]:
    """The series as a table, one row per `every_s` (rates averaged, levels at the row's end)."""
    rows = [f"{'t (s)':>7}  {'DNS':5}  {'goodput/s':>9}  {'wasted/s':>8}  {'failed/s':>8}  "
            f"{'queue':>6}  {'in flight':>9}  {'leases held':>11}"]
    group: list[Sample] = []
    for sample in series.samples:
        group.append(sample)
        if sample.t_s + 1e-9 >= len(rows) * every_s or sample is series.samples[-1]:
            span = sum(s.interval_s for s in group)

            def mean(rate: Callable[[Sample], float], span: float = span,
                     group: Sequence[Sample] = tuple(group)) -> float:
                return sum(rate(s) * s.interval_s for s in group) / span

            dns = "ok" if all(s.dns_ok for s in group) else "EMPTY"
            last = group[-1]
            rows.append(f"{last.t_s:7.2f}  {dns:5}  {mean(lambda s: s.goodput_per_s):9.1f}  "
                        f"{mean(lambda s: s.wasted_per_s):8.1f}  "
                        f"{mean(lambda s: s.failed_per_s):8.1f}  {last.queue:6d}  "
                        f"{last.in_flight:9d}  {last.leases_held:5d}/{series.hosts:<5d}")
            group = []
    return rows


class RowsSoFar:
    """The table of a series still running: `add(sample)` returns the rows completed by it (the
    header first), `rest(series)` the rows left once the run is over. Printed in turn, they are
    `series_rows(series)`."""

    def __init__(self, hosts: int, every_s: float = 1.0) -> None:
        self._hosts, self._every_s = hosts, every_s
        self._samples: list[Sample] = []
        self._given = 0

    def add(self, sample: Sample) -> list[str]:
        self._samples.append(sample)
        rows = series_rows(Series(self._hosts, 0.0, 0.0, 0.0, tuple(self._samples)),
                           self._every_s)
        done = rows[self._given:len(rows) - 1]  # the last row may still grow
        self._given = len(rows) - 1
        return done

    def rest(self, series: Series) -> list[str]:
        rows = series_rows(series, self._every_s)[self._given:]
        self._given += len(rows)
        return rows


_W = 900
_HALO = 'stroke="white" stroke-width="3" paint-order="stroke"'  # legible over the lines
_LEFT, _RIGHT, _TOP, _GAP, _PANEL, _BOTTOM = 70, 20, 40, 26, 130, 44


def series_svg(series: Series, *, element_id: str = "second-act-series") -> str:
    """Three panels (goodput and waste, queue, leases) over time, the outage shaded."""
    samples = series.samples
    height = _TOP + 3 * _PANEL + 2 * _GAP + _BOTTOM
    x_max = max(series.end_s, series.outage_end_s, 1e-9)
    plot_w = _W - _LEFT - _RIGHT

    def sx(t: float) -> float:
        return round(_LEFT + t / x_max * plot_w, 2)

    out = [svg_open(_W, height, f"{series.label}: goodput, queue and leases over time",
                    element_id),
           f'<text x="{_LEFT}" y="22" font-size="14" font-weight="bold">{esc(series.label)}'
           "</text>"]
    rate_top = max([series.steady_rate_per_s] + [max(s.goodput_per_s, s.wasted_per_s)
                                                 for s in samples])
    panels: list[tuple[str, float, tuple[tuple[str, str, Callable[[Sample], float]], ...]]] = [
        ("per second", rate_top, (("goodput (leases established)", GOOD,
                                   lambda s: s.goodput_per_s),
                                  ("wasted (work for attempts already given up)", WASTED,
                                   lambda s: s.wasted_per_s))),
        ("queue", max([1] + [s.queue for s in samples]),
         (("attempts waiting in the manager's queue", QUEUE, lambda s: float(s.queue)),)),
        ("leases held", float(series.hosts),
         ((f"leases held (of {series.hosts})", GOOD, lambda s: float(s.leases_held)),)),
    ]
    for index, (title, top, lines) in enumerate(panels):
        y0 = _TOP + index * (_PANEL + _GAP)
        out.append(_panel(samples, sx, y0, top, title, lines, series))
    bottom = _TOP + 3 * _PANEL + 2 * _GAP
    for t in ticks(0.0, x_max, 10):
        out.append(f'<text x="{sx(t)}" y="{bottom + 16}" text-anchor="middle" fill="#495057">'
                   f"{fmt(t)}</text>")
    out.append(f'<text x="{_LEFT + plot_w / 2}" y="{height - 8}" text-anchor="middle">seconds '
               "since the run began (grey: the endpoint's record is empty)</text>")
    for event in series.events:
        x = sx(event.t_s)
        out.append(f'<line x1="{x}" x2="{x}" y1="{_TOP - 6}" y2="{bottom}" stroke="#212529" '
                   f'stroke-dasharray="4 3"><title>{esc(event.label)}</title></line>'
                   f'<text x="{x + 3}" y="{_TOP - 8}" font-size="11" {_HALO}>'
                   f"{esc(event.label)}</text>")
    out.append("</svg>")
    return "".join(out)


def _panel(samples: Sequence[Sample], sx: Callable[[float], float], y0: float, top: float,
           title: str, lines: tuple[tuple[str, str, Callable[[Sample], float]], ...],
           series: Series) -> str:
    plot_w = _W - _LEFT - _RIGHT
    top = max(top, 1e-9)

    def sy(value: float) -> float:
        return round(y0 + _PANEL - value / top * _PANEL, 2)

    out = [f'<rect x="{_LEFT}" y="{y0}" width="{plot_w}" height="{_PANEL}" fill="#f8f9fa" '
           'stroke="#adb5bd"/>']
    if series.outage_s > 0:
        x1, x2 = sx(series.outage_start_s), sx(series.outage_end_s)
        out.append(f'<rect x="{x1}" y="{y0}" width="{max(x2 - x1, 0.5)}" height="{_PANEL}" '
                   f'fill="{OUTAGE}" fill-opacity="0.25"><title>DNS outage: '
                   f"{fmt(series.outage_start_s)}–{fmt(series.outage_end_s)} s</title></rect>")
    for value in ticks(0.0, top, 4):
        out.append(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{sy(value)}" '
                   f'y2="{sy(value)}" stroke="#dee2e6"/><text x="{_LEFT - 6}" '
                   f'y="{sy(value) + 4}" text-anchor="end" fill="#495057">{fmt(value)}</text>')
    out.append(f'<text transform="translate(16 {y0 + _PANEL / 2}) rotate(-90)" '
               f'text-anchor="middle">{esc(title)}</text>')
    for offset, (name, colour, value_of) in enumerate(lines):
        points = []
        for s in samples:
            y = sy(value_of(s))
            points.append(f"{sx(s.t_s - s.interval_s)},{y} {sx(s.t_s)},{y}")
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                   f'points="{" ".join(points)}"><title>{esc(name)}</title></polyline>'
                   f'<rect x="{_LEFT + 8 + offset * 330}" y="{y0 + 6}" width="12" height="12" '
                   f'fill="{colour}"/><text x="{_LEFT + 24 + offset * 330}" y="{y0 + 16}" '
                   f'{_HALO}>{esc(name)}</text>')
    return "".join(out)
