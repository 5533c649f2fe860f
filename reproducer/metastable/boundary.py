"""The boundary map: outage length x fleet size -> recovered or collapsed, for one policy.

Every cell is one virtual-time run of the same base scenario with that outage and that many
hosts, judged by the recovery property. The map is data (`BoundaryMap`, JSON both ways); the
renderers in `render_boundary.py` draw it as a text grid or an SVG.

Why the boundary has this shape (the collapsing policy; docs/second-act.md has the numbers): a
host whose renewal falls due during the outage keeps retrying, so when DNS comes back about
hosts * min(1, outage / renewal period) hosts ask within a retry delay. The pool serves some of
them in time, and every success takes a host out of the loop; the surplus times out and is queued
again while its dead copies stay in line. If the surplus is large enough, the queue's wait passes
the timeout before enough hosts get out, and from then on nothing the pool serves is alive. That
state sustains itself (the HotOS paper's sustaining effect) because the hosts stuck in it ask
for more than the pool serves: hosts / timeout_s > capacity / (service_s + rtt_s). So a fleet
needs both a large enough trigger and a large enough load to stay down: a short outage tips
only the largest fleets, and small fleets survive any outage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reproducer.metastable.params import ParamError
from reproducer.metastable.recovery import Recovery
from reproducer.metastable.scenario import Scenario
from reproducer.metastable.simulation import simulate

__all__ = ["BoundaryMap", "Cell", "map_boundary", "scenario_at"]


@dataclass(frozen=True, slots=True)
class Cell:
    outage_s: float
    hosts: int
    recovered: bool
    goodput_per_s: float
    recovery_s: float | None  # from the repair until every lease was held for good


@dataclass(frozen=True, slots=True)
class BoundaryMap:
    """Cells for every (outage, hosts) pair, rows by fleet size, columns by outage length."""

    policy: str
    outages_s: tuple[float, ...]
    hosts: tuple[int, ...]
    cells: tuple[Cell, ...]  # row-major: hosts[0] with every outage, then hosts[1], ...

    def cell(self, outage_s: float, hosts: int) -> Cell:
        try:
            row, column = self.hosts.index(hosts), self.outages_s.index(outage_s)
        except ValueError:
            raise KeyError(f"no cell for outage {outage_s!r} s and {hosts!r} hosts; the map has "
                           f"outages {list(self.outages_s)} and fleet sizes "
                           f"{list(self.hosts)}") from None
        return self.cells[row * len(self.outages_s) + column]

    def collapsed(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if not c.recovered)

    def smallest_collapsed_fleet(self, outage_s: float) -> int | None:
        """The fewest hosts that collapse after an outage of `outage_s` (None: none does)."""
        sizes = [c.hosts for c in self.cells if c.outage_s == outage_s and not c.recovered]
        return min(sizes) if sizes else None

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "outages_s": list(self.outages_s),
                "hosts": list(self.hosts),
                "cells": [[c.outage_s, c.hosts, c.recovered, round(c.goodput_per_s, 3),
                           c.recovery_s] for c in self.cells]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BoundaryMap:
        cells = tuple(Cell(float(o), int(h), bool(r), float(g),
                           None if s is None else float(s))
                      for o, h, r, g, s in data["cells"])
        return cls(str(data["policy"]), tuple(float(o) for o in data["outages_s"]),
                   tuple(int(h) for h in data["hosts"]), cells)


def scenario_at(base: Scenario, prop: Recovery, outage_s: float, hosts: int) -> Scenario:
    """`base` with this outage and fleet size, observed long enough for `prop` to judge it."""
    params = base.params.evolve(hosts=hosts)
    return base.evolve(params=params, outage_s=outage_s, after_s=prop.after_s(params))


def map_boundary(base: Scenario, prop: Recovery, outages_s: Sequence[float],
                 hosts: Sequence[int]) -> BoundaryMap:
    """Run every cell in virtual time and judge it (rows: `hosts`, columns: `outages_s`)."""
    if not outages_s or not hosts:
        raise ParamError("a boundary map needs at least one outage length and one fleet size")
    cells = []
    for n in hosts:
        for outage in outages_s:
            verdict = prop.judge(simulate(scenario_at(base, prop, outage, n)))
            cells.append(Cell(float(outage), int(n), verdict.recovered, verdict.goodput_per_s,
                              verdict.recovery_s))
    return BoundaryMap(base.policy.name, tuple(float(o) for o in outages_s),
                       tuple(int(n) for n in hosts), tuple(cells))
