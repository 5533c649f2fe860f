"""A bounded load generator: `rate_per_s` requests a second for `duration_s`, through the LBs.

Theory of operation
-------------------
- The schedule is pure: request i is sent at offset i / rate_per_s (an open loop, so a slow LB
  does not slow the offered load down) and belongs to interval floor(offset / interval_s).
  Requests go to the LB URLs in turn and alternate PUT /items/k<n> and GET /items/k<n>.
- The accounting is pure: `IntervalBook` knows how many requests each interval will send, counts
  outcomes as they finish, and hands back each interval's frozen `IntervalStats` as soon as all
  of its requests (and those of every earlier interval) have finished, in order.
- The runner is the adapter: it sleeps until each offset on an injected clock and sleep, sends,
  and records. Every request is bounded by `timeout_s`, the number of requests by the schedule,
  so a run ends by itself after at most duration_s + timeout_s.
- Success means the request was served by a backend (any status below 500, so a GET of a key
  stored on another backend, a 404, counts). A failure's reason is the LB's
  `X-Fake-LB-Reason` header (e.g. "dns-empty-answer"), or "http-<status>", "lb-unreachable",
  "timeout".
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from fake_lb._lb import REASON_HEADER

__all__ = ["IntervalBook", "IntervalStats", "Outcome", "TrafficPlan", "TrafficReport",
           "classify_reply", "run_traffic"]

_MAX_REQUESTS = 1_000_000

LB_UNREACHABLE = "lb-unreachable"
TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class TrafficPlan:
    """What to send: `rate_per_s` for `duration_s`, reported every `interval_s`."""

    rate_per_s: float
    duration_s: float
    interval_s: float = 1.0
    timeout_s: float = 2.0

    def __post_init__(self) -> None:
        for field_name in ("rate_per_s", "duration_s", "interval_s", "timeout_s"):
            value = getattr(self, field_name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"TrafficPlan.{field_name} must be a positive number, "
                                 f"got {value!r}")
        if self.total_requests > _MAX_REQUESTS:
            raise ValueError(f"TrafficPlan of {self.total_requests} requests "
                             f"(rate {self.rate_per_s:g}/s for {self.duration_s:g} s) exceeds "
                             f"the bound of {_MAX_REQUESTS}; lower the rate or the duration")

    @property
    def total_requests(self) -> int:
        return math.ceil(self.rate_per_s * self.duration_s - 1e-9)

    @property
    def interval_count(self) -> int:
        return max(1, math.ceil(self.duration_s / self.interval_s - 1e-9))

    def offset_s(self, i: int) -> float:
        return i / self.rate_per_s

    def interval_of(self, i: int) -> int:
        return min(int(self.offset_s(i) / self.interval_s), self.interval_count - 1)

    @staticmethod
    def request(i: int) -> tuple[str, str]:
        """(method, path) of request i: PUT then GET of the same key."""
        return ("PUT" if i % 2 == 0 else "GET"), f"/items/k{i // 2}"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    reason: str | None  # None when ok
    latency_s: float


@dataclass(frozen=True, slots=True)
class IntervalStats:
    """One interval of a run. `failures` is ((reason, count), ...) sorted by reason."""

    index: int
    start_s: float
    end_s: float
    sent: int
    succeeded: int
    failures: tuple[tuple[str, int], ...]
    max_latency_ms: float

    @property
    def failed(self) -> int:
        return sum(count for _, count in self.failures)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "start_s": self.start_s, "end_s": self.end_s,
                "sent": self.sent, "succeeded": self.succeeded, "failed": self.failed,
                "failures": dict(self.failures), "max_latency_ms": self.max_latency_ms}

    def line(self) -> str:
        """The live terminal line: "t= 3.0- 4.0s sent 50 ok 48 fail 2 (dns-empty-answer 2)"."""
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.failures)
        return (f"t={self.start_s:5.1f}-{self.end_s:5.1f}s sent {self.sent:5d} "
                f"ok {self.succeeded:5d} fail {self.failed:5d}"
                + (f" ({reasons})" if reasons else ""))


@dataclass(frozen=True, slots=True)
class TrafficReport:
    plan: TrafficPlan
    targets: tuple[str, ...]
    intervals: tuple[IntervalStats, ...]

    @property
    def sent(self) -> int:
        return sum(i.sent for i in self.intervals)

    @property
    def succeeded(self) -> int:
        return sum(i.succeeded for i in self.intervals)

    def failures(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for interval in self.intervals:
            total.update(dict(interval.failures))
        return dict(sorted(total.items()))

    def to_json(self) -> dict[str, Any]:
        return {"rate_per_s": self.plan.rate_per_s, "duration_s": self.plan.duration_s,
                "interval_s": self.plan.interval_s, "targets": list(self.targets),
                "sent": self.sent, "succeeded": self.succeeded, "failures": self.failures(),
                "intervals": [i.to_json() for i in self.intervals]}


def classify_reply(status: int, reason_header: str | None) -> tuple[bool, str | None]:
    """(ok, reason) for an HTTP reply through an LB."""
    if status < 500:
        return True, None
    return False, reason_header or f"http-{status}"


class IntervalBook:
    """Pure accounting of a run's outcomes into intervals, completed in order."""

    def __init__(self, plan: TrafficPlan) -> None:
        self.plan = plan
        self._expected = Counter(plan.interval_of(i) for i in range(plan.total_requests))
        self._done: Counter[int] = Counter()
        self._ok: Counter[int] = Counter()
        self._failures: dict[int, Counter[str]] = {}
        self._max_latency: dict[int, float] = {}
        self._next = 0

    def record(self, i: int, outcome: Outcome) -> list[IntervalStats]:
        """Count request i's outcome; return the intervals this completes (maybe none)."""
        k = self.plan.interval_of(i)
        self._done[k] += 1
        if outcome.ok:
            self._ok[k] += 1
        else:
            self._failures.setdefault(k, Counter())[outcome.reason or "unknown"] += 1
        self._max_latency[k] = max(self._max_latency.get(k, 0.0), outcome.latency_s)
        return self.completed()

    def completed(self) -> list[IntervalStats]:
        out: list[IntervalStats] = []
        while self._next < self.plan.interval_count and \
                self._done[self._next] >= self._expected[self._next]:
            out.append(self._stats(self._next))
            self._next += 1
        return out

    def _stats(self, k: int) -> IntervalStats:
        step = self.plan.interval_s
        return IntervalStats(
            index=k, start_s=round(k * step, 6),
            end_s=round(min((k + 1) * step, self.plan.duration_s), 6),
            sent=self._expected[k], succeeded=self._ok[k],
            failures=tuple(sorted(self._failures.get(k, Counter()).items())),
            max_latency_ms=round(self._max_latency.get(k, 0.0) * 1000, 3))


async def run_traffic(
    targets: Sequence[str],
    plan: TrafficPlan,
    *,
    on_interval: Callable[[IntervalStats], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> TrafficReport:
    """Send `plan` through the LB base URLs `targets` (e.g. "http://127.0.0.101:8080") and
    return the per-interval report. `on_interval` is called with each interval as it completes
    (the CLI prints it as a live line). Cancelling the run cancels its in-flight requests."""
    if not targets:
        raise ValueError("run_traffic needs at least one LB URL to send through")
    urls = tuple(t.rstrip("/") for t in targets)
    book = IntervalBook(plan)
    intervals: list[IntervalStats] = []

    def deliver(done: list[IntervalStats]) -> None:
        for stats in done:
            intervals.append(stats)
            if on_interval is not None:
                on_interval(stats)

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        method, path = plan.request(i)
        started = clock()
        try:
            async with session.request(method, urls[i % len(urls)] + path,
                                       data=b"v" if method == "PUT" else None) as reply:
                await reply.read()
                ok, reason = classify_reply(reply.status, reply.headers.get(REASON_HEADER))
        except TimeoutError:
            ok, reason = False, TIMEOUT
        except aiohttp.ClientError:
            ok, reason = False, LB_UNREACHABLE
        deliver(book.record(i, Outcome(ok, reason, max(0.0, clock() - started))))

    timeout = aiohttp.ClientTimeout(total=plan.timeout_s)
    connector = aiohttp.TCPConnector(limit=0, use_dns_cache=False)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        try:
            deliver(book.completed())  # leading intervals that send nothing
            start = clock()
            for i in range(plan.total_requests):
                delay = start + plan.offset_s(i) - clock()
                if delay > 0:
                    await sleep(delay)
                task = asyncio.create_task(one(session, i))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return TrafficReport(plan, urls, tuple(intervals))
