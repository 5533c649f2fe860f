"""Runs to the first violation, per strategy and world, over many seeds, with 95% confidence
intervals (`python -m reproducer.bench.measure`, or `python -m reproducer.bench --strategies`).

For each (world, strategy), every seed explores until the first violating run, without
minimising, and the number of runs is recorded (censored at `max_runs`). Reported: the median
with a distribution-free 95% interval (order statistics of a binomial(n, 1/2)), and the
probability that one run breaks an invariant, runs being independent trials: found / all runs,
with a Wilson 95% interval (Wilson 1927). Hypothesis is measured as the default strategy runs
it, with its own shrinking switched off (only the runs before the first violation count).
"""

from __future__ import annotations

import argparse
import math
import shlex
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reproducer.search import explore
from reproducer.world.config import Config

__all__ = ["WORLDS", "Measurement", "measure", "runs_to_first_violation", "table"]

Z95 = 1.959964
WORLDS: dict[str, Config] = {
    "default": Config(),
    "empty record only": Config(enactors=2, invariants=(1,)),
    "cleanup-checks-active 2/3/5": Config(variant="cleanup-checks-active", enactors=2,
                                          endpoints=3, plans=5),
    "empty record 3/3/3": Config(enactors=3, endpoints=3, invariants=(1,)),
    # the outage's own enactor written as asyncio code (examples/aws_2025.py)
    "async port empty record": Config(enactor="examples.aws_2025:enactor", enactors=2,
                                      invariants=(1,)),
    # the outage's enactor as a program: a boto3 script, each enactor an OS process (run from a
    # checkout: the path is relative)
    "boto3 program empty record": Config(
        program=f"{shlex.quote(sys.executable)} examples/programs/route53_enactor.py",
        enactors=2, invariants=(1,)),
}
SAMPLERS = ("random", "pos", "surw", "pct-4", "hypothesis")


@dataclass(frozen=True, slots=True)
class Measurement:
    world: str
    strategy: str
    runs: tuple[int | None, ...]  # per seed: runs to the first violation (None: none found)
    max_runs: int = 2_000  # where each seed's count was cut off

    @property
    def found(self) -> int:
        return sum(r is not None for r in self.runs)

    def median(self) -> tuple[float, float, float]:
        """(median, low, high): censored seeds count as infinitely many runs."""
        values = sorted(math.inf if r is None else r for r in self.runs)
        n = len(values)
        half = Z95 * math.sqrt(n) / 2
        lo, hi = max(0, math.floor(n / 2 - half)), min(n - 1, math.ceil(n / 2 + half))
        return statistics.median(values), values[lo], values[hi]

    def per_run(self) -> tuple[float, float, float]:
        """(p, low, high): the chance that one run breaks an invariant, Wilson interval."""
        trials = sum(r if r is not None else self.max_runs for r in self.runs)
        k = self.found
        p = k / trials
        denom = 1 + Z95 ** 2 / trials
        centre = (p + Z95 ** 2 / (2 * trials)) / denom
        spread = Z95 * math.sqrt(p * (1 - p) / trials + Z95 ** 2 / (4 * trials ** 2)) / denom
        return p, max(0.0, centre - spread), min(1.0, centre + spread)


def runs_to_first_violation(strategy: str, config: Config, seed: int, max_runs: int
                            ) -> int | None:
    """The runs `strategy` ("pct-4": PCT at depth 4) makes until its first violating run,
    without minimising (Hypothesis: without its shrinking either, which comes after)."""
    name, _, depth = strategy.partition("-")
    found = explore(name, config, seed=seed, max_runs=max_runs,  # type: ignore[arg-type]
                    depth=int(depth or 3), database=None, shrink=False)
    return found.first_at


def measure(worlds: dict[str, Config], strategies: Sequence[str], seeds: int, max_runs: int,
            progress: Callable[[str], None] | None = None) -> list[Measurement]:
    out = []
    for label, config in worlds.items():
        for strategy in strategies:
            runs = tuple(runs_to_first_violation(strategy, config, s, max_runs)
                         for s in range(seeds))
            m = Measurement(label, strategy, runs, max_runs)
            out.append(m)
            if progress:
                progress(table([m], header=False))
    return out


def table(measurements: Sequence[Measurement], header: bool = True) -> str:
    lines = ["| world | strategy | found | median runs [95% CI] | mean (found) | p per run "
             "[95% Wilson] |", "|---|---|---|---|---|---|"] if header else []
    for m in measurements:
        med, lo, hi = m.median()
        got = [r for r in m.runs if r is not None]
        p, plo, phi = m.per_run()
        mean = f"{statistics.mean(got):.1f}" if got else "-"
        lines.append(f"| {m.world} | {m.strategy} | {m.found}/{len(m.runs)} | "
                     f"{med:g} [{lo:g}, {hi:g}] | {mean} | {p:.4f} [{plo:.4f}, {phi:.4f}] |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reproducer.bench.measure")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--max-runs", type=int, default=2_000)
    parser.add_argument("--strategies", default=",".join(SAMPLERS))
    parser.add_argument("--worlds", default=",".join(WORLDS))
    args = parser.parse_args(argv)
    worlds = {w: WORLDS[w] for w in args.worlds.split(",")}
    print(table([]), flush=True)
    measure(worlds, args.strategies.split(","), args.seeds, args.max_runs,
            lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
