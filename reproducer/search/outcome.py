"""What an exploration reports (`Exploration`), and the progress ticker every strategy uses.

The leaf of `reproducer.search`: it imports nothing else of search, and every room imports it.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from reproducer.running.trace import RunResult
from reproducer.world.config import Config

__all__ = ["PROGRESS_INTERVAL_S", "Exploration", "Progress", "Ticker", "collector_paused"]

Progress = Callable[[str], None]
PROGRESS_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Exploration:
    """The outcome of one exploration, built by keyword. `result` is the reported (minimised)
    counterexample."""

    strategy: str
    config: Config
    executions: int = 0  # runs made to find it (bfs: 0; it counts `steps_expanded` instead)
    seconds: float
    result: RunResult | None = None
    first_at: int | None = None  # the execution that first broke an invariant
    first_seconds: float | None = None
    found_steps: int | None = None  # length of the first violating run, before shrinking
    shrunk_steps: int | None = None  # after the strategy's own shrinking (hypothesis)
    local_steps: int | None = None  # after minimise's local passes, before its last check
    minimise_runs: int = 0
    states: int | None = None  # bfs: distinct states reached
    exhausted: bool = False  # bfs: every reachable state within the bounds was checked
    # bfs: some state at the step bound (max_steps) could still move: what lies beyond it was
    # not checked, so even an exhausted search is no proof
    steps_cut: bool = False
    transport: str = "memory"
    steps_expanded: int | None = None  # bfs: steps taken from a state to a successor
    reductions: tuple[str, ...] = ()  # bfs: the reductions of a state's identity used
    workers: int = 1  # processes (or cluster shares) that did the searching
    preemptions: int | None = None  # bfs --preemptions K: the bound asked for
    checked_preemptions: int | None = None  # every schedule with at most this many was checked
    found_preemptions: int | None = None  # the preemptions of the counterexample found
    # bfs: async enactors told by their history, not their state, and why (a local that is not
    # a value): (worker, reason)
    by_history: tuple[tuple[str, str], ...] = ()
    minimise_cut: bool = False  # minimise stopped at its time budget (programs)

    @property
    def found(self) -> bool:
        return self.result is not None and self.result.violation is not None

    @property
    def steps(self) -> int | None:
        return self.result.length if self.found and self.result else None

    def to_json(self) -> dict[str, Any]:
        v = self.result.violation if self.result else None
        out: dict[str, Any] = {
            "strategy": self.strategy, "variant": self.config.label,
            "transport": self.transport,
            "executions": None if self.strategy == "bfs" else self.executions,
            "found": self.found,
            "invariant": v.invariant if v else None, "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "first_found_at": self.first_at,
            "first_found_seconds": None if self.first_seconds is None
            else round(self.first_seconds, 3),
            "found_steps": self.found_steps, "shrunk_steps": self.shrunk_steps,
            "local_steps": self.local_steps,
            "minimise_runs": self.minimise_runs,
            "minimise_cut": self.minimise_cut,
            "violation": None if v is None else v.describe(),
            "choices": list(self.result.choices) if self.found and self.result else None,
            "config": self.config.to_json(),
            "workers": self.workers,
        }
        if self.strategy == "bfs":
            out["states"] = self.states
            out["exhausted"] = self.exhausted
            out["steps_cut"] = self.steps_cut
            out["steps_expanded"] = self.steps_expanded
            out["reductions"] = list(self.reductions)
            out["by_history"] = {worker: why for worker, why in self.by_history}
            if self.preemptions is not None:
                out["preemptions"] = self.preemptions
                out["checked_preemptions"] = self.checked_preemptions
                out["found_preemptions"] = self.found_preemptions
                out["checked"] = self.checked
        return out

    @property
    def checked(self) -> str | None:
        """What a preemption-bounded search established, in words: "every schedule with at
        most K preemptions" (None when it checked no bound whole, or is not one)."""
        k = self.checked_preemptions
        if k is None or k < 0:
            return None
        return f"every schedule with at most {k} preemption{'s' if k != 1 else ''}"


class Ticker:
    """Calls `progress` at most once per interval (nothing is printed from here)."""

    def __init__(self, progress: Progress | None, label: str) -> None:
        self.progress = progress
        self.label = label
        self.start = time.perf_counter()
        self.next = self.start + PROGRESS_INTERVAL_S

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def due(self) -> bool:
        """True about once per interval, when there is someone to tell."""
        if self.progress is None:
            return False
        now = time.perf_counter()
        if now < self.next:
            return False
        self.next = now + PROGRESS_INTERVAL_S
        return True

    def say(self, what: str) -> None:
        if self.progress is not None:
            self.progress(f"{self.label}: {what} ({self.elapsed():.0f}s)")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a search: a search makes no cyclic garbage
    (the same peak memory either way: breadth-first search's states are tuples of integers,
    a sampled run over the integer engine makes none either), and the collector's full passes
    over the millions of objects a search keeps cost a good part of its time
    (docs/benchmarks.md)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
