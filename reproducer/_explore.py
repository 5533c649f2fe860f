"""Exploring the interleavings: random, PCT, Hypothesis, breadth-first; and the shortest story.

Theory of operation
-------------------
Every strategy drives the same runtime through the one source of choices (`ChoiceSource`):
whenever two or more workers are ready, it picks an index into them, 0 being the unsurprising
move. A run is a pure function of its configuration and its choices, so any violating run is
its list of choices, and a replay file is that list.

- random: uniform choices from a seeded generator (the baseline).
- pct: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS
  2010), as Coyote and Shuttle implement it: the n workers get distinct random priorities,
  d-1 priority change points are drawn in [1, k], and the ready worker with the highest
  priority moves. At a change point the worker that moved last is demoted below every other
  worker, including the ones demoted before it (so a worker stalled earlier can overtake one
  stalled later, which the paper's fixed values 1..d-1 never allow). Steps are counted in
  scheduling decisions (a step with one ready worker offers no choice to change); k starts at
  the decisions of the run where every choice is 0 and grows to the most decisions any run of
  the exploration has made, as Shuttle does.
- hypothesis: every choice is a Hypothesis draw (`strategies.schedules()`), through
  `hypothesis.find` with a database key made from the configuration, so the example database
  (.hypothesis/ by default) replays a counterexample first on the next run.
- bfs: breadth-first over states, de-duplicated by a hash of the state (Spin's hash
  compaction: a 64-bit hash per state, so the chance that two of n states collide is about
  n²/2⁶⁵). The first violating state found is at the least depth: its path is the shortest
  violating schedule, the judge of minimality. With no violation and nothing cut by the bound
  on states, every reachable state within `max_steps` was checked.

The shortest story. Hypothesis shrinks its choice sequence (fewer, smaller draws), which is not
the same as fewer steps. After it, `minimise` works on the run as who moved at each step (a
list of worker names) and, deterministically, until nothing changes: removes chunks of steps
(delta debugging, halves down to single steps), removes a worker's steps from some point on,
and swaps two adjacent steps of different workers when that lets a step be removed. Each
candidate is replayed — a named worker that is not ready at its turn is skipped — and kept only
if it still breaks a watched invariant, in fewer steps. Every strategy's counterexample goes
through it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reproducer._runtime import ChoiceSource, RandomChoices, ReplayChoices, RunResult
from reproducer._simulation import Simulation, _State, _Universe
from reproducer._world import Config

if TYPE_CHECKING:
    from reproducer._transport import RealSession

__all__ = [
    "STRATEGIES",
    "Exploration",
    "Minimised",
    "PCTChoices",
    "add_explore_arguments",
    "database_key",
    "explore",
    "explore_bfs",
    "explore_hypothesis",
    "explore_main",
    "explore_pct",
    "explore_random",
    "minimise",
    "pct_horizon",
]

log = logging.getLogger("reproducer.explore")

Strategy = Literal["hypothesis", "random", "pct", "bfs"]
STRATEGIES: tuple[Strategy, ...] = ("hypothesis", "random", "pct", "bfs")
Transport = Literal["memory", "real"]
Progress = Callable[[str], None]

PROGRESS_INTERVAL_S = 1.0
DEFAULT_MAX_STATES = 3_000_000


# -- what an exploration reports ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exploration:
    """The outcome of one exploration. `result` is the reported (minimised) counterexample."""

    strategy: str
    config: Config
    executions: int  # runs made to find it (bfs: steps expanded)
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
    transport: str = "memory"

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
            "transport": self.transport, "executions": self.executions, "found": self.found,
            "invariant": v.invariant if v else None, "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "first_found_at": self.first_at,
            "first_found_seconds": None if self.first_seconds is None
            else round(self.first_seconds, 3),
            "found_steps": self.found_steps, "shrunk_steps": self.shrunk_steps,
            "local_steps": self.local_steps,
            "minimise_runs": self.minimise_runs,
            "violation": None if v is None else v.describe(),
            "choices": list(self.result.choices) if self.found and self.result else None,
            "config": self.config.to_json(),
        }
        if self.strategy == "bfs":
            out["states"] = self.states
            out["exhausted"] = self.exhausted
        return out


class _Ticker:
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


# -- executing one run ----------------------------------------------------------------------------


class _Executor:
    """Runs schedules over one transport. In memory a run builds no trace unless it is kept."""

    def __init__(self, config: Config, transport: Transport) -> None:
        if transport not in ("memory", "real"):
            raise ValueError(f"transport {transport!r}: choose memory or real")
        self.config = config
        self.transport = transport
        self._runner: asyncio.Runner | None = None
        self._session: RealSession | None = None

    def __enter__(self) -> _Executor:
        if self.transport == "real":
            from reproducer._transport import RealSession, fast_event_loop_factory

            self._runner = asyncio.Runner(loop_factory=fast_event_loop_factory())
            self._session = self._runner.run(RealSession(self.config).__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            if self._session is not None:
                self._runner.run(self._session.__aexit__(None, None, None))
                self._session = None
            self._runner.close()
            self._runner = None

    def run(self, source: ChoiceSource) -> tuple[bool, Callable[[], RunResult]]:
        """(broke an invariant?, how to get the full RunResult)."""
        if self._runner is None:
            sim = Simulation(self.config)
            sim.advance(source)
            return bool(sim.violations), sim.result
        assert self._session is not None
        # The runner's loop directly: Runner.run would install and remove a SIGINT handler
        # around every execution, which costs more than a short run itself.
        result = self._runner.get_loop().run_until_complete(self._session.run(source))
        return result.violation is not None, lambda: result


def _memory_result(config: Config, choices: Sequence[int]) -> RunResult:
    sim = Simulation(config)
    sim.advance(ReplayChoices(choices))
    return sim.result()


# -- minimisation ---------------------------------------------------------------------------------


def _replay_schedule(config: Config, names: Sequence[str], limit: int
                     ) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """Replay who-moves-when: a worker that is not ready at its turn is skipped. Returns the
    schedule actually taken and its choices if it breaks a watched invariant within `limit`
    steps, else None."""
    sim = Simulation(config)
    for name in names:
        if sim.stopped or sim.length >= limit:
            break
        ready = sim.ready()
        for i, w in enumerate(ready):
            if sim.names[w] == name:
                if len(ready) > 1:
                    sim.choices.append(i)
                sim._move(w)
                break
    if sim.violations and sim.length <= limit:
        return sim.schedule(), tuple(sim.choices)
    return None


def _segments(schedule: Sequence[str]) -> list[tuple[int, int]]:
    """Maximal runs of one worker: [(start, end), ...] with end exclusive."""
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(schedule) + 1):
        if i == len(schedule) or schedule[i] != schedule[start]:
            out.append((start, i))
            start = i
    return out


@dataclass(frozen=True, slots=True)
class Minimised:
    """What `minimise` did: the shortest run, the length the local passes reached, the
    replays made, and whether the last, exhaustive check found something shorter still."""

    result: RunResult
    local_steps: int
    runs: int
    states: int


def minimise(result: RunResult, *, budget_runs: int = 20_000,
             max_states: int = 400_000) -> Minimised:
    """The deterministic schedule-aware minimisation (module docstring). In memory, same
    configuration; returns the shortest violating run it reaches."""
    config = result.config
    if result.violation is None:
        raise ValueError("minimise() needs a run that broke an invariant")
    best = _memory_result(config, result.choices)
    if best.violation is None:
        raise ValueError("the run does not break an invariant when replayed in memory")
    schedule = tuple(s.worker for s in best.steps)
    runs = 0

    def attempt(candidate: Sequence[str]) -> tuple[str, ...] | None:
        nonlocal runs
        runs += 1
        got = _replay_schedule(config, candidate, len(schedule) - 1)
        return got[0] if got else None

    def deletions(base: tuple[str, ...]) -> tuple[str, ...] | None:
        n = len(base)
        size = max(1, n // 2)
        while size >= 1:  # delta debugging: chunks, halves down to single steps, last first
            for start in range(n - size, -1, -size):
                got = attempt(base[:start] + base[start + size:])
                if got is not None:
                    return got
            if size == 1:
                break
            size //= 2
        for name in sorted(set(base)):  # a worker's steps from some point on
            for start in (i for i, w in enumerate(base) if w == name):
                got = attempt(tuple(w for i, w in enumerate(base) if i < start or w != name))
                if got is not None:
                    return got
        return None

    def moves() -> tuple[str, ...] | None:
        # a segment (a run of one worker's steps) moved earlier, before another segment, then
        # deletions: a writer that comes sooner makes the steps that waited for it go away
        segs = _segments(schedule)
        for k, (start, end) in enumerate(segs):
            for target, _ in segs[:k]:
                moved = (schedule[:target] + schedule[start:end] + schedule[target:start]
                         + schedule[end:])
                got = deletions(moved)
                if got is not None:
                    return got
        return None

    while runs < budget_runs:
        shorter = deletions(schedule) or moves()
        if shorter is None:
            break
        schedule = shorter
    local_steps = len(schedule)
    # Last, exhaustive: is there a shorter violating schedule among the workers this story
    # uses? Breadth-first to one step less than the story (Spin's iterative shortening).
    movers = frozenset(i for i, n in enumerate(config.worker_names) if n in set(schedule))
    check = explore_bfs(config, max_states=max_states, movers=movers,
                        max_depth=len(schedule) - 1)
    if check.found and check.result is not None:
        return Minimised(check.result, local_steps, runs, check.states or 0)
    got = _replay_schedule(config, schedule, len(schedule))
    assert got is not None
    return Minimised(_memory_result(config, got[1]), local_steps, runs, check.states or 0)


# -- strategies -----------------------------------------------------------------------------------


class PCTChoices:
    """PCT as a `ChoiceSource`; see the module docstring."""

    def __init__(self, seed: int, workers: Sequence[str], depth: int, horizon: int) -> None:
        if depth < 1:
            raise ValueError(f"PCT depth {depth}: need at least 1 (d-1 change points)")
        rng = random.Random(seed)
        priorities = list(range(1, len(workers) + 1))
        rng.shuffle(priorities)
        self.priority = dict(zip(workers, priorities, strict=True))  # higher moves first
        points = min(depth - 1, horizon)
        self.change_points = frozenset(rng.sample(range(1, horizon + 1), points))
        self.decisions = 0
        self._lowest = 0
        self._last: str | None = None

    def choose(self, ready: Sequence[str]) -> int:
        self.decisions += 1
        if self.decisions in self.change_points:
            # Demote the worker that moved last (or, before anyone moved, the one about to).
            victim = self._last if self._last is not None else max(
                ready, key=self.priority.__getitem__)
            self.priority[victim] = self._lowest
            self._lowest -= 1
        return max(range(len(ready)), key=lambda i: self.priority[ready[i]])

    def moved(self, worker: str) -> None:
        self._last = worker


def pct_horizon(config: Config) -> int:
    """The first k of PCT: the scheduling decisions of the run where every choice is 0."""
    sim = Simulation(config, stop_at_violation=False)
    sim.advance(ReplayChoices(()))
    return max(1, len(sim.choices))


def _search(strategy: str, config: Config, sources: Callable[[int], ChoiceSource],
            max_runs: int, transport: Transport, progress: Progress | None,
            shrink: bool) -> Exploration:
    ticker = _Ticker(progress, strategy)
    with _Executor(config, transport) as executor:
        for n in range(1, max_runs + 1):
            broke, get = executor.run(sources(n))
            if broke:
                first_seconds = ticker.elapsed()
                found = get()
                if progress and found.violation:
                    progress(f"{strategy}: run {n} broke invariant {found.violation.invariant} "
                             f"in {found.length} steps; minimising")
                m = minimise(found) if shrink else None
                return Exploration(strategy, config, n, ticker.elapsed(),
                                   m.result if m else found, n, first_seconds, found.length,
                                   None, m.local_steps if m else None, m.runs if m else 0,
                                   transport=transport)
            if ticker.due():
                ticker.say(f"{n:,} executions, {n / ticker.elapsed():,.0f}/s, no violation yet")
    return Exploration(strategy, config, max_runs, ticker.elapsed(), transport=transport)


def explore_random(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                   transport: Transport = "memory", progress: Progress | None = None,
                   shrink: bool = True) -> Exploration:
    """Uniformly random schedules; run i uses the generator seeded with (seed, i)."""
    return _search("random", config, lambda n: RandomChoices(seed * 1_000_003 + n), max_runs,
                   transport, progress, shrink)


def explore_pct(config: Config, *, max_runs: int = 10_000, seed: int = 0, depth: int = 3,
                transport: Transport = "memory", progress: Progress | None = None,
                shrink: bool = True) -> Exploration:
    """PCT with bug depth `depth` (d-1 priority change points per run)."""
    names = config.worker_names
    previous: list[PCTChoices] = []
    horizon = pct_horizon(config)

    def source(n: int) -> PCTChoices:
        nonlocal horizon
        if previous:  # k: the most decisions any run so far has made
            horizon = max(horizon, previous[-1].decisions)
        previous[:] = [PCTChoices(seed * 1_000_003 + n, names, depth, horizon)]
        return previous[0]

    return _search("pct", config, source, max_runs, transport, progress, shrink)


def database_key(config: Config) -> bytes:
    """The example-database key of a configuration: one per world, whatever the seed."""
    text = json.dumps({"what": "reproducer.explore/v1", "config": config.to_json()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).digest()


def _database(path: Path | Literal["default"] | None) -> Any:
    from hypothesis import settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    if path == "default":
        default = settings.default
        assert default is not None
        return default.database  # .hypothesis/examples under the working directory
    if path is None:
        return None
    return DirectoryBasedExampleDatabase(str(path))


def explore_hypothesis(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                       transport: Transport = "memory", progress: Progress | None = None,
                       database: Path | Literal["default"] | None = "default",
                       shrink: bool = True) -> Exploration:
    """Hypothesis draws every choice (`strategies.schedules()`), through `hypothesis.find`
    keyed by `database_key(config)`. The database first replays what an earlier run saved;
    the minimised counterexample is saved next to Hypothesis's own shrunk one. `seed` is used
    only with `database=None` (a seeded Hypothesis ignores its database)."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.database import choices_to_bytes
    from hypothesis.errors import NoSuchExample

    from reproducer.strategies import HypothesisSchedule, schedules

    db = _database(database)
    key = database_key(config)
    ticker = _Ticker(progress, "hypothesis")
    executions = 0
    first_at: int | None = None
    first_seconds: float | None = None
    found_steps: int | None = None
    last: list[RunResult] = []

    with _Executor(config, transport) as executor:
        def condition(schedule: HypothesisSchedule) -> bool:
            nonlocal executions, first_at, first_seconds, found_steps
            executions += 1
            broke, get = executor.run(schedule)
            if broke:
                result = get()
                last[:] = [result]
                if first_at is None:
                    first_at, first_seconds = executions, ticker.elapsed()
                    found_steps = result.length
                    if progress and result.violation:
                        progress(f"hypothesis: run {executions} broke invariant "
                                 f"{result.violation.invariant} in {result.length} steps; "
                                 "shrinking")
            if ticker.due():
                ticker.say(f"{executions:,} executions" + (
                    f", shrinking: {last[0].length} steps" if last else ", no violation yet"))
            return broke

        hyp_settings = settings(
            max_examples=max_runs, database=db, deadline=None, derandomize=False,
            phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        # A seeded Hypothesis neither reads nor writes its database: the seed applies only
        # without one (with one, Hypothesis seeds itself and the database replays first).
        rng = random.Random(seed) if db is None else None
        try:
            find(schedules(), condition, settings=hyp_settings, random=rng, database_key=key)
        except NoSuchExample:
            return Exploration("hypothesis", config, executions, ticker.elapsed(),
                               transport=transport)
    shrunk = last[0]
    m = minimise(shrunk) if shrink else None
    final = m.result if m else shrunk
    if db is not None and final.length < shrunk.length:
        # The choice sequence of `schedules()` is exactly one integer per decision, so the
        # minimised run's choices are a valid entry: the next run replays it first.
        db.save(key, choices_to_bytes(final.choices))
    return Exploration("hypothesis", config, executions, ticker.elapsed(), final, first_at,
                       first_seconds, found_steps, shrunk.length,
                       m.local_steps if m else None, m.runs if m else 0, transport=transport)


@dataclass(slots=True)
class _Frontier:
    states: list[_State] = field(default_factory=list)
    paths: list[int] = field(default_factory=list)  # index into the path table


def explore_bfs(config: Config, *, max_states: int = DEFAULT_MAX_STATES,
                progress: Progress | None = None, movers: frozenset[int] | None = None,
                max_depth: int | None = None) -> Exploration:
    """Breadth-first search over states (module docstring), in memory. `movers` (worker
    indices) and `max_depth` narrow it, for `minimise`'s last check."""
    ticker = _Ticker(progress, "bfs")
    universe = _Universe(config, "moves")
    universe.bounded = False  # state identities must stay valid for the whole search
    root = universe.root
    seen: set[int] = {hash(root.key())}
    # path table: (parent entry, worker index); entry 0 is the root
    parents: list[tuple[int, int]] = [(-1, -1)]
    frontier = _Frontier([root], [0])
    expanded = 0
    depth = 0
    truncated = False

    def path_of(entry: int) -> list[int]:
        workers: list[int] = []
        while entry > 0:
            entry, w = parents[entry]
            workers.append(w)
        return workers[::-1]

    limit = config.max_steps if max_depth is None else min(max_depth, config.max_steps)
    while frontier.states and depth < limit:
        nxt = _Frontier()
        for state, entry in zip(frontier.states, frontier.paths, strict=True):
            if state.finished:
                continue
            for w in state.ready():
                if movers is not None and w not in movers:
                    continue
                edge = universe.step(state, w)
                expanded += 1
                child = edge.child
                if child.verdict or (child.finished and child.end_violations):
                    workers = [*path_of(entry), w]
                    result = _result_of_workers(config, workers)
                    return Exploration("bfs", config, expanded, ticker.elapsed(), result,
                                       expanded, ticker.elapsed(), result.length,
                                       states=len(seen))
                h = hash(child.key())
                if h in seen:
                    continue
                if len(seen) >= max_states:
                    truncated = True
                    continue
                seen.add(h)
                parents.append((entry, w))
                nxt.states.append(child)
                nxt.paths.append(len(parents) - 1)
            if ticker.due():
                ticker.say(f"depth {depth}, {len(seen):,} states, {expanded:,} steps")
        frontier = nxt
        depth += 1
    exhausted = not truncated  # every state within max_steps (and max_depth) was checked
    return Exploration("bfs", config, expanded, ticker.elapsed(), None, states=len(seen),
                       exhausted=exhausted)


def _result_of_workers(config: Config, workers: Sequence[int]) -> RunResult:
    sim = Simulation(config)
    for w in workers:
        ready = sim.ready()
        if len(ready) > 1:
            sim.choices.append(ready.index(w))
        sim._move(w)
    return sim.result()


def explore(strategy: Strategy, config: Config, *, max_runs: int = 10_000, seed: int = 0,
            depth: int = 3, transport: Transport = "memory", progress: Progress | None = None,
            database: Path | Literal["default"] | None = "default",
            max_states: int = DEFAULT_MAX_STATES, shrink: bool = True) -> Exploration:
    """One entry point for every strategy (what the CLI calls)."""
    if strategy == "random":
        return explore_random(config, max_runs=max_runs, seed=seed, transport=transport,
                              progress=progress, shrink=shrink)
    if strategy == "pct":
        return explore_pct(config, max_runs=max_runs, seed=seed, depth=depth,
                           transport=transport, progress=progress, shrink=shrink)
    if strategy == "hypothesis":
        return explore_hypothesis(config, max_runs=max_runs, seed=seed, transport=transport,
                                  progress=progress, database=database, shrink=shrink)
    if strategy == "bfs":
        if transport != "memory":
            raise ValueError("--strategy bfs copies states: it runs over --transport memory "
                             "only (replay its counterexample with --transport real)")
        return explore_bfs(config, max_states=max_states, progress=progress)
    raise ValueError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")


# -- command line glue --------------------------------------------------------------------------


def add_explore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", choices=STRATEGIES, default="hypothesis",
                        help="how to pick schedules (default hypothesis)")
    parser.add_argument("--max-runs", type=int, default=10_000,
                        help="executions before giving up (default 10000; not for bfs)")
    parser.add_argument("--max-states", type=int, default=DEFAULT_MAX_STATES,
                        help=f"bfs: distinct states before giving up "
                             f"(default {DEFAULT_MAX_STATES})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--depth", type=int, default=3,
                        help="pct: bug depth d, d-1 priority change points (default 3; the empty "
                             "record of the outage needs 4)")
    parser.add_argument("--transport", choices=("memory", "real"), default="memory",
                        help="memory: the in-process engine; real: UDP to a fake_dns server")
    parser.add_argument("--out", type=Path, default=Path("reports/counterexample.json"),
                        help="where to write the replay file (default "
                             "reports/counterexample.json)")
    parser.add_argument("--database", type=Path, default=None,
                        help="hypothesis: example database directory (default "
                             ".hypothesis/examples, Hypothesis's own)")
    parser.add_argument("--no-database", action="store_true",
                        help="hypothesis: neither replay nor save counterexamples")
    parser.add_argument("--no-shrink", action="store_true",
                        help="report the first violating run as found, not minimised")


def explore_main(args: argparse.Namespace, config: Config, report: Callable[[str], None]) -> int:
    """`reproducer explore`: exit 0 when nothing was found, 1 when a counterexample was."""
    from reproducer._narrate import format_trace
    from reproducer._replay import save_replay

    if args.max_runs < 1 or args.max_states < 1:
        raise ValueError(f"--max-runs {args.max_runs} / --max-states {args.max_states}: "
                         "need at least 1")
    if args.depth < 1:
        raise ValueError(f"--depth {args.depth}: PCT needs a depth of at least 1")
    database: Path | Literal["default"] | None = (
        None if args.no_database else args.database if args.database else "default")
    quiet = bool(getattr(args, "json", False))
    progress = None if quiet else report
    outcome = explore(args.strategy, config, max_runs=args.max_runs, seed=args.seed,
                      depth=args.depth, transport=args.transport, progress=progress,
                      database=database, max_states=args.max_states, shrink=not args.no_shrink)
    replay_path: Path | None = None
    if outcome.found and outcome.result is not None:
        replay_path = save_replay(args.out, outcome.result)
    if quiet:
        data = outcome.to_json()
        data["replay"] = str(replay_path) if replay_path else None
        report(json.dumps(data))
        return 1 if outcome.found else 0
    if not outcome.found or outcome.result is None:
        what = (f"{outcome.states:,} states ({outcome.executions:,} steps); "
                + ("every reachable state within the bounds was checked" if outcome.exhausted
                   else "the state bound cut the search short")
                if outcome.strategy == "bfs" else f"{outcome.executions:,} executions")
        report(f"{outcome.strategy}: no invariant broken in {config.label} — "
               f"{what}, {outcome.seconds:.1f}s")
        return 0
    result = outcome.result
    for line in format_trace(result):
        report(line)
    v = result.violation
    assert v is not None
    story = (f"{outcome.strategy}: invariant {v.invariant} broken — {v.title} — after "
             f"{outcome.executions:,} executions, {outcome.seconds:.1f}s; shortest story "
             f"found: {result.length} steps")
    if outcome.found_steps is not None and outcome.found_steps != result.length:
        story += f" (the first violating run had {outcome.found_steps} steps)"
    if outcome.states is not None:
        story += f"; {outcome.states:,} states"
    report(story)
    report(f"replay file: {replay_path}")
    report(f"replay it:   python -m reproducer replay {replay_path}")
    return 1
