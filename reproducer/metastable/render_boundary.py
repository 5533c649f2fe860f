"""The boundary map for people: a text grid for the terminal, an SVG picture for pages.

Both are pure functions of a `BoundaryMap`. Rows are fleet sizes, largest on top; columns are
outage lengths, shortest on the left; a cell is recovered ("." / green) or collapsed
("#" / red). The SVG cell's tooltip gives the goodput the property judged and, for recovered
cells, how long after the repair every lease was held again.
"""

from __future__ import annotations

from reproducer.metastable.boundary import BoundaryMap
from reproducer.metastable.svg import COLLAPSED, RECOVERED, esc, fmt, svg_open

__all__ = ["boundary_grid", "boundary_svg"]


def boundary_grid(boundary: BoundaryMap, *, times: bool = False) -> list[str]:
    """The map as lines of text: '#' collapsed, '.' recovered; with `times`, a recovered cell
    shows the seconds from the repair until every lease was held for good instead."""
    def mark(outage_s: float, hosts: int) -> str:
        cell = boundary.cell(outage_s, hosts)
        if not cell.recovered:
            return "#"
        return "." if not times or cell.recovery_s is None else f"{cell.recovery_s:.1f}"

    width = max(5 if times else 4, *(len(fmt(o)) + 1 for o in boundary.outages_s))
    legend = ("seconds from the repair to every lease held ('.' not yet at the end of the "
              "run), '#' collapsed" if times else "'#' collapsed, '.' recovered")
    lines = [f"{boundary.policy}: {legend}",
             f"{'hosts':>6} | " + "".join(f"{fmt(o):>{width}}" for o in boundary.outages_s)
             + "   <- outage (s)"]
    lines.append("-" * 7 + "+" + "-" * (1 + width * len(boundary.outages_s)))
    for hosts in sorted(boundary.hosts, reverse=True):
        lines.append(f"{hosts:>6} | " + "".join(f"{mark(o, hosts):>{width}}"
                                                for o in boundary.outages_s))
    return lines


_CELL_W, _CELL_H, _LEFT, _TOP, _BOTTOM = 44, 22, 70, 40, 50


def boundary_svg(boundary: BoundaryMap, *, element_id: str = "second-act-boundary") -> str:
    """The map as a coloured grid with labelled axes."""
    columns, rows = len(boundary.outages_s), len(boundary.hosts)
    width = _LEFT + columns * _CELL_W + 20
    height = _TOP + rows * _CELL_H + _BOTTOM
    out = [svg_open(width, height, f"boundary map for the {boundary.policy} policy: outage "
                    "length across, fleet size down", element_id),
           f'<text x="{_LEFT}" y="22" font-size="14" font-weight="bold">{esc(boundary.policy)}'
           "</text>"]
    for r, hosts in enumerate(sorted(boundary.hosts, reverse=True)):
        y = _TOP + r * _CELL_H
        out.append(f'<text x="{_LEFT - 6}" y="{y + _CELL_H / 2 + 4}" text-anchor="end">'
                   f"{hosts}</text>")
        for c, outage in enumerate(boundary.outages_s):
            cell = boundary.cell(outage, hosts)
            verdict = "recovered" if cell.recovered else "collapsed"
            when = ("" if cell.recovery_s is None
                    else f", every lease held {cell.recovery_s:.2f} s after the repair")
            out.append(f'<rect x="{_LEFT + c * _CELL_W}" y="{y}" width="{_CELL_W}" '
                       f'height="{_CELL_H}" fill="{RECOVERED if cell.recovered else COLLAPSED}" '
                       f'stroke="white"><title>{esc(f"{hosts} hosts, outage {fmt(outage)} s: ")}'
                       f"{verdict}, goodput {cell.goodput_per_s:.1f}/s{esc(when)}</title></rect>")
    axis_y = _TOP + rows * _CELL_H
    for c, outage in enumerate(boundary.outages_s):
        out.append(f'<text x="{_LEFT + c * _CELL_W + _CELL_W / 2}" y="{axis_y + 16}" '
                   f'text-anchor="middle">{fmt(outage)}</text>')
    legend_x = _LEFT + columns * _CELL_W - 200
    out.append(f'<rect x="{legend_x}" y="10" width="12" height="12" fill="{RECOVERED}"/>'
               f'<text x="{legend_x + 16}" y="20">recovered</text>'
               f'<rect x="{legend_x + 100}" y="10" width="12" height="12" fill="{COLLAPSED}"/>'
               f'<text x="{legend_x + 116}" y="20">collapsed</text>')
    out.append(f'<text x="{_LEFT + columns * _CELL_W / 2}" y="{height - 12}" '
               'text-anchor="middle">outage length (s)</text>'
               f'<text transform="translate(16 {_TOP + rows * _CELL_H / 2}) rotate(-90)" '
               'text-anchor="middle">fleet size (hosts)</text></svg>')
    return "".join(out)
