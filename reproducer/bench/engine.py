"""The integer engine's goals (`python -m reproducer.bench --engine`; part of `make bench`), each
printed beside its reference: what the code measured before the engine, at `BEFORE`, on this
kind of machine, and the goal it was built for.

- breadth-first states/s in one process (CPU time), cas-flip 2/2/3 and 3/1/2;
- the three-enactor proofs, cas-flip and cas-guarded 3/1/3, on two worker processes (seconds
  on the clock), with the peak memory of the largest process;
- the in-process samplers: runs/s of uniform random walks over the engine a sampler shares,
  from empty memos (a fresh process) and memoised, on the default world and on cas-flip;
- the async cas_flip port (`examples/cas_flip.py`), two enactors, the default plans: every
  schedule with at most 3 preemptions, and how far the whole proof gets within its budget.

Every part has a state or time budget: about six minutes in all, most of it the two 3/1/3
proofs.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path

from reproducer.running.choices import RandomChoices
from reproducer.running.engine import Walk, clear_cache, engine_for
from reproducer.search import explore, explore_bfs
from reproducer.world.config import Config

__all__ = ["BEFORE", "engine", "sampler_speed"]

BEFORE = "1856848"
ASYNC_FIX = "examples.cas_flip:enactor"
ASYNC_BUDGET_STATES = 1_000_000
WINDOW_S = 3.0


def engine(out: Callable[[str], None]) -> None:
    out(f"== the integer engine: each beside its reference (measured at {BEFORE}) and its goal; "
        "CPU seconds in one process, clock seconds with worker processes")
    for config, reference in ((Config(variant="cas-flip", enactors=2, endpoints=2, plans=3),
                               "32,500 (131,815 states in 4.0-4.3 s)"),
                              (Config(variant="cas-flip", enactors=3, plans=2),
                               "30,900 (2,037,923 states in 66 s)")):
        started = time.process_time()
        proof = explore_bfs(config, max_states=60_000_000)
        cpu = time.process_time() - started
        assert proof.states is not None
        out(f"bfs, one process, {_world(config)}: {proof.states:,} states in {cpu:.1f} s: "
            f"{proof.states / cpu:,.0f} states/s (reference {reference} states/s; goal "
            f">= 150,000); exhausted {proof.exhausted}; VmHWM {_vmhwm_mb():,.0f} MB")
    for variant, reference in (("cas-flip", "735-740 s"), ("cas-guarded", "842 s")):
        config = Config(variant=variant, enactors=3, plans=3)
        started = time.perf_counter()
        proof = explore_bfs(config, max_states=60_000_000, workers=2)
        wall = time.perf_counter() - started
        assert proof.states is not None
        out(f"bfs, 2 worker processes, {_world(config)}: {proof.states:,} states, exhausted "
            f"{proof.exhausted}, in {wall:.0f} s (reference {reference}; goal <= 180 s); "
            f"largest worker process {_children_peak_mb():,.0f} MB")
    for label, config, reference in (
            ("default world", Config(), "~600 from empty memos, ~1,600 memoised"),
            ("random on cas-flip", Config(variant="cas-flip"),
             "~570 from empty memos, ~920 memoised")):
        empty, memoised = sampler_speed(config)
        out(f"samplers in process, {label}: {empty:,.0f} runs/s from empty memos, "
            f"{memoised:,.0f} memoised (reference {reference}; goal 3x)")
    port = Config(enactor=ASYNC_FIX, enactors=2)
    bounded = explore("bfs", port, preemptions=3, workers=1)
    out(f"async cas_flip port, 2 enactors, {port.plans} plans: {bounded.checked} checked in "
        f"{bounded.seconds:.1f} s, {bounded.states:,} states, found {bounded.found} (goal "
        "<= 10 s; detangle: 63 s for <= 3 delays)")
    proof = explore_bfs(port, max_states=ASYNC_BUDGET_STATES, workers=1)
    out(f"async cas_flip port, every schedule: {proof.states:,} states in {proof.seconds:.0f} s, "
        f"exhausted {proof.exhausted}, found {proof.found} (goal: exhausted in <= 60 s; before: "
        "not exhausted at 1,000,000 states after 171 s)")


def _world(config: Config) -> str:
    return f"{config.variant} {config.enactors}/{config.endpoints}/{config.plans}"


def sampler_speed(config: Config) -> tuple[float, float]:
    """Random walks over the engine a sampler shares, as `explore --strategy random` makes
    them: runs/s in a window from empty memos, then in a window after it."""
    clear_cache()

    def window(offset: int) -> float:
        shared = engine_for(config)
        started = time.process_time()
        n = 0
        while time.process_time() - started < WINDOW_S:
            Walk(shared, RandomChoices(offset + n), max_steps=config.max_steps)
            n += 1
        return n / (time.process_time() - started)

    return window(0), window(1_000_000)


def _vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
