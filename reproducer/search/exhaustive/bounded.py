"""Bounded proofs: every schedule with at most K preemptions checked, K = 0, 1, 2, ... in turn
(iterative context bounding, as CHESS does: Musuvathi and Qadeer, PLDI 2007), with states
cached, over any workers the engine steps (state machines, async enactors, programs).

Preemption bounding, not delay bounding: a step is a *preemption* when the worker that moved
last is still ready and another one moves (the core's choice 0 is "keep going", Rule 2); a
switch away from a worker that is waiting or finished is free. A delay (Emmi, Qadeer and
Rakamaric, POPL 2011) is any choice but the scheduler's default, so a schedule with d delays
has at most d preemptions: at the same K, the preemption bound checks strictly more schedules.

Theory of operation
-------------------
- Rule 1 (cost): a state's cost is the least number of preemptions of a schedule that reaches
  it. Its identity is the breadth-first search's (`identity`, the same reductions) with the
  worker that moved last added, since that decides what the next steps cost; the reductions
  that reorder steps (`por`, `glue`) are left out: moving a step can add preemptions.
- Rule 2 (buckets): states wait in the bucket of their cost; bucket K is expanded, breadth
  first, once every bucket below it is empty. A step that preempts puts its child in bucket
  K + 1; any other step, in bucket K. A state is expanded once, at its least cost (a state
  queued again at a lower cost is expanded there, and its earlier entry skipped).
- Rule 3 (the claim): when bucket K is empty, every state a schedule with at most K
  preemptions reaches has been expanded, so every such schedule was checked, within
  `max_steps` (a state at the step bound that could still move is said: `steps_cut`). The
  first violation is reported at the least K; within it, the first found. When every bucket
  is empty, every reachable state was checked: a full proof, whatever K was asked.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from reproducer.running.engine import ORDER, State
from reproducer.running.simulation import Simulation
from reproducer.search.exhaustive.expansion import Expansion, Paths
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS
from reproducer.search.outcome import Exploration, Progress, Ticker, collector_paused
from reproducer.world.config import Config

__all__ = ["search_bounded"]

_REORDERING = ("por", "glue")


def search_bounded(config: Config, preemptions: int, *, max_states: int,
                   progress: Progress | None = None,
                   reductions: Iterable[str] = DEFAULT_REDUCTIONS) -> Exploration:
    """Every schedule with at most `preemptions` preemptions (module docstring), in this
    process. The outcome's `checked_preemptions` is the largest K fully checked."""
    if preemptions < 0:
        raise ValueError(f"preemptions {preemptions}: need 0 or more")
    with collector_paused():
        return _search(config, preemptions, max_states, progress,
                       tuple(r for r in reductions if r not in _REORDERING))


def _search(config: Config, bound: int, max_states: int, progress: Progress | None,
            reductions: tuple[str, ...]) -> Exploration:
    ticker = Ticker(progress, "bfs")
    expansion = Expansion(config, reductions, current=True)
    engine = expansion.engine
    expand = expansion.expand
    root = engine.root
    fp = expansion.identity.fingerprint(root)
    cost: dict[int, int] = {fp: 0}  # each state's least cost so far
    paths = Paths()
    depth_of = array("I", [0])
    buckets: list[list[tuple[State, int, int]]] = [[(root, fp, 0)]]
    expanded = 0
    truncated = steps_cut = False
    checked = -1
    found: tuple[int, int, int] | None = None  # (cost, parent entry, worker)

    k = 0
    while k < len(buckets) and k <= bound:
        queue = buckets[k]
        at = 0
        while at < len(queue):  # grows as free steps add to it (Rule 2)
            state, h, entry = queue[at]
            at += 1
            if cost[h] < k:
                continue  # expanded already, at a lower cost
            depth = depth_of[entry]
            if depth >= config.max_steps:
                steps_cut = steps_cut or (not engine.finished(state)
                                          and bool(engine.ready(state)))
                continue
            ready = engine.ready(state)
            moved_last = engine.orders[state[ORDER]][1]
            can_preempt = moved_last is not None and moved_last in ready
            made, new, broke, _ = expand(state, h, set())
            expanded += made
            for _, w, child_fp, child in new:
                step_cost = k + (1 if can_preempt and w != moved_last else 0)
                known = cost.get(child_fp)
                if known is not None and known <= step_cost:
                    continue
                if known is None and len(cost) >= max_states:
                    truncated = True
                    continue
                cost[child_fp] = step_cost
                depth_of.append(depth + 1)
                while len(buckets) <= step_cost:
                    buckets.append([])
                buckets[step_cost].append((child, child_fp, paths.add(entry, w)))
            if broke is not None:
                w = broke[1]
                step_cost = k + (1 if can_preempt and w != moved_last else 0)
                if found is None or step_cost < found[0]:
                    found = (step_cost, entry, w)
                if step_cost == k:
                    break
            if ticker.due():
                ticker.say(f"{k} preemption{'s' * (k != 1)}: {len(cost):,} states, "
                           f"{expanded:,} steps")
        buckets[k] = []  # (expanded: free the memory)
        if found is not None:
            # at cost k, or k + 1 by a preemption out of bucket k, which is now complete:
            # the least either way
            checked = found[0] - 1
            break
        if not truncated:
            checked = k
            if k < bound and ticker.progress is not None:
                ticker.say(f"every schedule with at most {k} preemption{'s' * (k != 1)} "
                           f"checked: no invariant broken ({len(cost):,} states, "
                           f"{expanded:,} steps)")
        k += 1
    if found is not None:
        step_cost, entry, w = found
        result = Simulation(config).follow([*paths.of(entry), w], strict=True).result()
        return Exploration(strategy="bfs", config=config, seconds=ticker.elapsed(),
                           result=result, first_seconds=ticker.elapsed(),
                           found_steps=result.length, states=len(cost),
                           steps_expanded=expanded, reductions=expansion.used,
                           preemptions=bound, checked_preemptions=checked,
                           found_preemptions=step_cost,
                           by_history=tuple(engine.by_history.items()))
    everything = not truncated and all(not b for b in buckets[k:])
    if everything:
        checked = bound  # (and every schedule with more: the reachable states are all checked)
    return Exploration(strategy="bfs", config=config, seconds=ticker.elapsed(),
                       states=len(cost), exhausted=everything, steps_cut=steps_cut,
                       steps_expanded=expanded, reductions=expansion.used,
                       preemptions=bound, checked_preemptions=checked,
                       by_history=tuple(engine.by_history.items()))
