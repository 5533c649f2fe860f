"""`make bench` (python -m reproducer.bench): exploration speed and the strategies compared.

For the default configuration and a larger one (3 enactors, 3 endpoints, 5 plans):
- executions per second over the real transport (UDP to an in-process fake_dns) and in-process
  (random walks over the integer engine a sampler shares, from empty memos and memoised),
  each with the process's peak RSS (VmHWM) so far beside it;
- per strategy (PCT at depths 3, 4 and 5), executions until the first violation, median over
  SEEDS seeds;
- seconds until Hypothesis reports its shrunk, minimised counterexample, and its length next
  to the breadth-first minimum; BFS states and seconds;
- the same speeds for the async port of aws-2025 (`examples/aws_2025.py`, an ordinary
  `async def` enactor) on the default world, beside the state machine's;
- states and seconds for the exhaustive (bounded) proof of each correct fix;
- all the cores: runs/s of random and states/s of breadth-first search with 1 and 2 worker
  processes, results compared (`--parallel` runs only this part, three rounds);
- the integer engine's goals beside their references (`engine.py`; `--engine` runs only this
  part): breadth-first states/s, the three-enactor proofs on two processes, the samplers, the
  async cas_flip port's bounded proof;
- programs as enactors (`--program`; `--programs` runs only this part): a program's start-up
  (a fresh interpreter against a fork from the fork server), runs/s with two Python+boto3
  programs (forked, and fresh interpreters) and with two shell programs, where a run's time
  goes (waiting for the programs, the rest), and the seconds from the start to the first
  violation of the boto3 outage script under the default strategy.
Every part has a run, state or time budget, so the whole stays within about fifteen minutes
(six of them the engine's part, mostly its two three-enactor proofs).

`python -m reproducer.bench --strategies [...]` measures runs to the first violation over many
seeds instead (`reproducer.bench.measure`; `--strategies --help` lists its flags).
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from reproducer.bench.engine import engine, sampler_speed
from reproducer.bench.measure import main as measure_main
from reproducer.bench.programs import programs
from reproducer.running.choices import RandomChoices
from reproducer.running.engine import clear_cache as clear_engines
from reproducer.running.simulation import clear_cache
from reproducer.running.transport import RealSession, fast_event_loop_factory
from reproducer.search import DEFAULT_REDUCTIONS, REDUCTIONS, Strategy, explore, explore_bfs
from reproducer.world.config import Config
from reproducer.world.variants import VARIANTS

ASYNC_PORT = "examples.aws_2025:enactor"
SEEDS = 20
MAX_RUNS = 2_000  # per seed: a strategy that finds nothing in this many runs says so
MINIMISED = 5  # random and PCT: minimise the first five found counterexamples
SPEED_WINDOW_S = 3.0


def _vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rate(run: Callable[[int], object], window_s: float = SPEED_WINDOW_S) -> float:
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < window_s:
        run(n)
        n += 1
    return n / (time.perf_counter() - start)


def _real_speed(config: Config) -> float:
    """Runs over TSIG-signed UDP to one in-process fake_dns, the zone reset by an UPDATE
    before each run (`RealSession`), as `explore --transport real` does."""
    with asyncio.Runner(loop_factory=fast_event_loop_factory()) as runner:
        session = runner.run(RealSession(config).__aenter__())
        try:
            loop = runner.get_loop()  # as `explore` does: no SIGINT handler per run
            # Three windows, fresh schedules in each (the machine's speed drifts by +-20%
            # from minute to minute; the median of three is what we report).
            def window(w: int) -> float:
                return _rate(lambda n: loop.run_until_complete(
                    session.run(RandomChoices(w * 1_000_000 + n))), SPEED_WINDOW_S / 3 * 2)

            return statistics.median(window(w) for w in range(3))
        finally:
            runner.run(session.__aexit__(None, None, None))


def _median(values: list[int | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "none found"
    missed = len(values) - len(got)
    return f"{statistics.median(got):g}" + (f" ({missed} of {len(values)} found nothing)"
                                           if missed else "")


def bench(out: Callable[[str], None]) -> None:
    configs = {"default": Config(),
               "larger": Config(enactors=3, endpoints=3, plans=5),
               # the outage's own symptom, which needs several well-placed preemptions
               "empty record only": Config(enactors=2, invariants=(1,))}
    for label, config in configs.items():
        out(f"== {label}: {config.variant}, {config.enactors} enactors, {config.endpoints} "
            f"endpoints, {config.plans} plans, invariants {config.invariants}")
        real = _real_speed(config)
        out(f"real UDP:           {real:8,.0f} executions/s   VmHWM {_vmhwm_mb():6.0f} MB")
        cold, warm = sampler_speed(config)
        out(f"in-process, memos empty: {cold:8,.0f} executions/s   VmHWM {_vmhwm_mb():6.0f} MB")
        out(f"in-process, memoised:    {warm:8,.0f} executions/s   VmHWM {_vmhwm_mb():6.0f} MB")
        if label == "default":
            port = Config(enactor=ASYNC_PORT)
            out(f"async port ({ASYNC_PORT}), the same world:")
            out(f"  real UDP:         {_real_speed(port):8,.0f} executions/s   "
                f"VmHWM {_vmhwm_mb():6.0f} MB")
            out(f"  in-process:       {sampler_speed(port)[1]:8,.0f} executions/s   "
                f"VmHWM {_vmhwm_mb():6.0f} MB")
        bfs = explore_bfs(config, max_states=600_000)  # the larger world: cut, and said so
        out(f"bfs: shortest violation {bfs.steps} steps, found after expanding "
            f"{bfs.steps_expanded:,} steps over {bfs.states:,} states, {bfs.seconds:.1f}s"
            if bfs.found else f"bfs: no violation, {bfs.states:,} states (exhausted: "
            f"{bfs.exhausted}), {bfs.seconds:.1f}s")
        runs_of: tuple[tuple[Strategy, int], ...] = (
            ("random", 0), ("pct", 3), ("pct", 4), ("pct", 5), ("hypothesis", 0))
        for name, depth in runs_of:
            firsts: list[int | None] = []
            lengths: list[int] = []
            seconds: list[float] = []
            for seed in range(SEEDS):
                # Every seed counts executions to the first violation; Hypothesis's runs are
                # shrunk and minimised every time (its seconds to the story are measured), the
                # baselines' on their first MINIMISED found seeds (the minimiser is the same).
                shrink = name == "hypothesis" or len(lengths) < MINIMISED
                res = explore(name, config, seed=seed, max_runs=MAX_RUNS, depth=depth or 3,
                              database=None, shrink=shrink)
                firsts.append(res.first_at)
                if shrink and res.found and res.steps is not None:
                    lengths.append(res.steps)
                    seconds.append(res.seconds)
            label = f"pct d={depth}" if name == "pct" else name
            line = (f"{label:<10} executions to first violation, median of {len(firsts)} seeds: "
                    f"{_median(firsts)}")
            if lengths:
                hits = sum(1 for n in lengths if n == bfs.steps)
                line += (f"; minimised length {min(lengths)}..{max(lengths)} vs bfs "
                         f"{bfs.steps} (equal in {hits}/{len(lengths)}); seconds to the "
                         f"minimised counterexample, median {statistics.median(seconds):.2f}")
            out(line)
    out("== exhaustive proofs of the correct fixes, max_steps 300: each reduction off, then "
        "the default, then with glue (VmHWM is the process's peak so far)")
    for variant in (name for name, v in VARIANTS.items() if v.correct):
        small = Config(variant=variant, enactors=2, plans=1)
        levers: list[tuple[str, tuple[str, ...]]] = [("none", ())] + [
            (f"default but {r}", tuple(x for x in DEFAULT_REDUCTIONS if x != r))
            for r in DEFAULT_REDUCTIONS] + [
            ("default", DEFAULT_REDUCTIONS), ("default + glue", REDUCTIONS)]
        for label, reductions in levers:
            _proof(out, small, label, reductions, PROOF_CAP)
        for config in (Config(variant=variant, enactors=2, plans=3),
                       Config(variant=variant, enactors=2, endpoints=2, plans=3)):
            _proof(out, config, "default", DEFAULT_REDUCTIONS, PROOF_CAP)
    parallel(out, rounds=1)
    engine(out)
    programs(out)


PROOF_CAP = 1_000_000  # states: a search cut here says so
PARALLEL_RUNS = 20_000  # random runs on a fix (it finds nothing, so every run is made)


def parallel(out: Callable[[str], None], rounds: int = 3) -> None:
    """All the cores: one worker process against two, the median of `rounds`
    alternating rounds, for sampling (runs/s) and breadth-first search (states/s), with the
    results compared and the peak memory of the parent and of the largest worker."""
    out(f"== all cores: 1 vs 2 worker processes, median of {rounds} alternating rounds")
    cfg = Config(variant="cas-flip")
    rates: dict[int, list[float]] = {1: [], 2: []}
    seen: dict[int, tuple[object, ...]] = {}
    for _ in range(rounds):
        for n in (1, 2):
            clear_cache()  # each round starts cold, as a worker process does
            clear_engines()
            res = explore("random", cfg, max_runs=PARALLEL_RUNS, workers=n, shrink=False)
            rates[n].append(res.executions / res.seconds)
            seen[n] = (res.found, res.first_at)
    out(f"random, cas-flip, {PARALLEL_RUNS:,} runs: 1 worker "
        f"{statistics.median(rates[1]):,.0f} runs/s, 2 workers "
        f"{statistics.median(rates[2]):,.0f} runs/s: "
        f"{statistics.median(rates[2]) / statistics.median(rates[1]):.2f}x; "
        f"same result: {seen[1] == seen[2]}")
    for config in (Config(variant="cas-flip", enactors=2, endpoints=2, plans=3),
                   Config(variant="cas-guarded", enactors=2, endpoints=2, plans=3)):
        speeds: dict[int, list[float]] = {1: [], 2: []}
        results: dict[int, tuple[object, ...]] = {}
        for _ in range(rounds):
            for n in (1, 2):
                clear_cache()
                clear_engines()
                res = explore_bfs(config, workers=n)
                assert res.states is not None
                speeds[n].append(res.states / res.seconds)
                results[n] = (res.found, res.states, res.steps_expanded, res.exhausted)
        one, two = statistics.median(speeds[1]), statistics.median(speeds[2])
        out(f"bfs, {config.variant} {config.enactors}/{config.endpoints}/{config.plans}, "
            f"{results[1][1]:,} states: 1 worker {one:,.0f} states/s, 2 workers "
            f"{two:,.0f} states/s: {two / one:.2f}x; same verdict, states and steps: "
            f"{results[1] == results[2]}; peak memory: this process (the 1-worker runs) "
            f"{_vmhwm_mb():.0f} MB, largest worker process "
            f"{_children_peak_mb():.0f} MB")


def _children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _proof(out: Callable[[str], None], config: Config, label: str,
           reductions: tuple[str, ...], cap: int) -> None:
    proof = explore_bfs(config, reductions=reductions, max_states=cap)
    out(f"{config.variant:<12} {config.enactors}/{config.endpoints}/{config.plans} "
        f"reductions {label:<18} found={proof.found} states={proof.states:,} "
        f"exhausted={proof.exhausted} {proof.seconds:.1f}s VmHWM {_vmhwm_mb():.0f} MB")


def main() -> int:
    start = time.perf_counter()
    if sys.argv[1:] == ["--parallel"]:
        parallel(lambda line: print(line, flush=True))
        return 0
    if sys.argv[1:] == ["--programs"]:
        programs(lambda line: print(line, flush=True))
        return 0
    if sys.argv[1:] == ["--engine"]:
        engine(lambda line: print(line, flush=True))
        return 0
    if sys.argv[1:2] == ["--strategies"]:
        return measure_main(sys.argv[2:])
    if sys.argv[1:]:
        usage = ("usage: python -m reproducer.bench [--parallel | --programs | --engine | "
                 "--strategies [--help | FLAGS]]\n"
                 "  no flags: speeds, strategies and proofs (make bench, about fifteen "
                 "minutes)\n"
                 "  --engine: the integer engine's goals beside their references (six "
                 "minutes)\n"
                 "  --parallel: 1 vs 2 worker processes, sampling and bfs (a minute or two)\n"
                 "  --programs: programs as enactors (a minute or two)\n"
                 "  --strategies: runs to the first violation over many seeds")
        if sys.argv[1] in ("-h", "--help"):
            print(usage)
            return 0
        print(f"bench: error: unknown flag {sys.argv[1]!r} (see python -m reproducer.bench "
              "--help)", file=sys.stderr)
        return 2
    bench(lambda line: print(line, flush=True))
    print(f"total {time.perf_counter() - start:.0f}s", file=sys.stderr)
    return 0


def interrupted_is_130() -> int:
    """`main`, with Ctrl-C one line and exit status 130 (its worker pools and processes stop on
    the way out, as every `with` block leaves)."""
    try:
        return main()
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(interrupted_is_130())
