"""The time series a run leaves: goodput, queue, leases and work in flight, sample by sample.

Both runners (virtual time and the real processes) turn the manager's `Counters` into the same
`Sample`s through one `Sampler`, so what the model predicts and what the real run measured are
read, compared and drawn by the same code.

Goodput is leases established per second: renewals and re-establishments that succeeded in
time. Throughput that did not count (the pool working on attempts whose requesters had already
given up) is `wasted_per_s`: in a congestive collapse the pool is busy and goodput is zero.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from reproducer.metastable.manager import Counters

__all__ = ["Event", "Sample", "Sampler", "Series", "record_present"]


def record_present(start_s: float, end_s: float, outage: tuple[float, float] | None,
                   tolerance_s: float = 0.0) -> bool:
    """Whether the endpoint's record was there all through [start_s, end_s): the interval
    overlaps the outage [outage[0], outage[1]) by no more than `tolerance_s` (None: no outage)."""
    if outage is None:
        return True
    overlap = min(end_s, outage[1]) - max(start_s, outage[0])
    return overlap <= tolerance_s


@dataclass(frozen=True, slots=True)
class Sample:
    """One interval [t_s - interval_s, t_s) of a run; `t_s` in seconds since the run began.
    `dns_ok` is False if the endpoint's record was empty at any moment of the interval."""

    t_s: float
    interval_s: float
    goodput_per_s: float
    wasted_per_s: float
    failed_per_s: float
    refused_per_s: float
    queue: int
    in_flight: int
    leases_held: int
    dns_ok: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        return cls(float(data["t_s"]), float(data["interval_s"]), float(data["goodput_per_s"]),
                   float(data["wasted_per_s"]), float(data["failed_per_s"]),
                   float(data["refused_per_s"]), int(data["queue"]), int(data["in_flight"]),
                   int(data["leases_held"]), bool(data["dns_ok"]))


@dataclass(frozen=True, slots=True)
class Event:
    """A moment worth marking on the chart: "record emptied", "DNS repaired", "operators"."""

    t_s: float
    label: str


class Sampler:
    """Turns successive `Counters` into `Sample`s: rates are the change since the last one."""

    def __init__(self, start: Counters, t0: float) -> None:
        self._last = start
        self._t0 = t0

    def sample(self, now: Counters, dns_ok: bool) -> Sample:
        last, self._last = self._last, now
        dt = now.now - last.now
        if not dt > 0:
            raise ValueError(f"samples must move forward in time (from {last.now!r} to "
                             f"{now.now!r})")

        def rate(name: str) -> float:
            change: int = getattr(now, name) - getattr(last, name)
            return change / dt

        return Sample(t_s=round(now.now - self._t0, 6), interval_s=round(dt, 6),
                      goodput_per_s=rate("established"), wasted_per_s=rate("wasted"),
                      failed_per_s=rate("failed"), refused_per_s=rate("refused"),
                      queue=now.queue, in_flight=now.in_flight, leases_held=now.leases_held,
                      dns_ok=dns_ok)


@dataclass(frozen=True, slots=True)
class Series:
    """A whole run: its samples, the outage window [outage_start_s, outage_end_s) in the same
    seconds, the fleet size and what a healthy fleet establishes per second, and its events."""

    hosts: int
    steady_rate_per_s: float
    outage_start_s: float
    outage_end_s: float
    samples: tuple[Sample, ...]
    events: tuple[Event, ...] = ()
    label: str = ""

    @property
    def outage_s(self) -> float:
        return self.outage_end_s - self.outage_start_s

    @property
    def end_s(self) -> float:
        return self.samples[-1].t_s if self.samples else self.outage_end_s

    def between(self, start_s: float, end_s: float) -> tuple[Sample, ...]:
        """The samples whose interval lies inside [start_s, end_s] (to a microsecond)."""
        return tuple(s for s in self.samples
                     if s.t_s - s.interval_s >= start_s - 1e-6 and s.t_s <= end_s + 1e-6)

    def goodput_between(self, start_s: float, end_s: float) -> float | None:
        """Mean goodput over the samples inside [start_s, end_s], None if there are none."""
        inside = self.between(start_s, end_s)
        span = sum(s.interval_s for s in inside)
        if not inside or span <= 0:
            return None
        return sum(s.goodput_per_s * s.interval_s for s in inside) / span

    def recovery_s(self) -> float | None:
        """Seconds from the DNS repair until every lease was held and stayed held to the end of
        the run; None if that never happened (or the run ended before the repair)."""
        if self.end_s < self.outage_end_s:
            return None
        since: float | None = None
        for s in self.samples:
            if s.t_s < self.outage_end_s:
                continue
            held = s.leases_held >= self.hosts
            since = (s.t_s if since is None else since) if held else None
        return None if since is None else round(max(0.0, since - self.outage_end_s), 6)

    def to_json(self) -> dict[str, Any]:
        return {"hosts": self.hosts, "steady_rate_per_s": self.steady_rate_per_s,
                "outage_start_s": self.outage_start_s, "outage_end_s": self.outage_end_s,
                "label": self.label, "events": [asdict(e) for e in self.events],
                "samples": [s.to_json() for s in self.samples]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Series:
        return cls(int(data["hosts"]), float(data["steady_rate_per_s"]),
                   float(data["outage_start_s"]), float(data["outage_end_s"]),
                   tuple(Sample.from_json(s) for s in data["samples"]),
                   tuple(Event(float(e["t_s"]), str(e["label"])) for e in data["events"]),
                   str(data.get("label", "")))

    def json_lines(self) -> Iterable[str]:
        """One JSON object per sample, then one for the whole run (without its samples)."""
        for s in self.samples:
            yield json.dumps({"event": "sample", **s.to_json()})
        head = self.to_json()
        del head["samples"]
        yield json.dumps({"event": "series", **head})
