"""The benchmark of programs as enactors (`python -m reproducer.bench --programs`, and part of
`make bench`): a program's start-up (a fresh interpreter against a fork from the fork server),
runs/s with two Python+boto3 programs (forked, and fresh interpreters) and with two shell
programs, where a run's time goes (waiting for the programs, the rest), and the seconds from
the start to the first violation of the boto3 outage script under the default strategy. Run
from a checkout: the programs are the ones in examples/programs/."""

from __future__ import annotations

import os
import resource
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from reproducer import programs as progs
from reproducer.running.choices import RandomChoices
from reproducer.running.simulation import Simulation, clear_cache
from reproducer.search import explore
from reproducer.world.config import Config

__all__ = ["programs"]


def _median(values: list[int | None]) -> str:
    got = [v for v in values if v is not None]
    return f"{statistics.median(got):g}" if got else "none found"


PROGRAM_WINDOW_S = 10.0
BOTO3 = "examples/programs/route53_enactor.py"
SHELL = "sh examples/programs/nsupdate_enactor.sh"
FIRST_SEEDS = 5


def _children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def programs(out: Callable[[str], None]) -> None:
    """Programs as enactors (module docstring). The programs' CPU is counted once their
    spawners have ended (they are our children; the programs are theirs)."""
    root = Path(__file__).resolve().parent.parent.parent
    if not (root / BOTO3).is_file():
        out(f"== programs: skipped, {BOTO3} is not here (run from a checkout)")
        return
    os.chdir(root)
    python = shlex.quote(sys.executable)
    boto3 = f"{python} {BOTO3}"
    out("== programs (--program): 2 enactors, the default world; each enactor an OS process")
    progs.settings.pool = 0  # start-up alone: no process started ahead
    for fork in (False, True):
        progs.settings.fork_server = fork
        progs.shutdown()
        layout = Config().layout
        progs.ProgramWorker.start(boto3, ["enactor-1"], layout)  # the fork server, started
        waits = []
        for _ in range(8):
            start = time.perf_counter()
            progs.ProgramWorker.start(boto3, ["enactor-1"], layout)
            waits.append(time.perf_counter() - start)
        how = "forked from the fork server" if fork else "a fresh interpreter"
        out(f"boto3 program start-up to its first request, {how}: median "
            f"{statistics.median(waits) * 1000:.0f} ms")
    progs.settings.pool = 1
    for label, command, fork in (("Python+boto3, forked", boto3, True),
                                 ("Python+boto3, fresh interpreters", boto3, False),
                                 ("shell (dig, nsupdate, curl, jq)", SHELL, True)):
        progs.settings.fork_server = fork
        progs.shutdown()
        clear_cache()
        config = Config(program=command, enactors=2)
        for seed in range(2):  # the spawners, the pool and the root, started
            Simulation(config).advance(RandomChoices(seed))
        cpu, waited, steps = _children_cpu_s(), progs.host().waited_s, 0
        start = time.perf_counter()
        runs = 0
        while time.perf_counter() - start < PROGRAM_WINDOW_S:
            sim = Simulation(config)
            sim.advance(RandomChoices(1000 + runs))
            steps += sim.length
            runs += 1
        seconds = time.perf_counter() - start
        waited = progs.host().waited_s - waited
        progs.shutdown()  # its spawners reaped: their children's CPU is counted
        cpu = _children_cpu_s() - cpu
        out(f"{label:<34} {runs / seconds:5.2f} runs/s ({steps / runs:.0f} steps a run); "
            f"a run: {seconds / runs * 1000:.0f} ms, of which {waited / runs * 1000:.0f} ms "
            f"waiting for the programs; programs' CPU {cpu / runs * 1000:.0f} ms a run")
    progs.settings.fork_server = True
    firsts: list[float] = []
    executions: list[int | None] = []
    for seed in range(FIRST_SEEDS):
        progs.shutdown()
        clear_cache()
        res = explore("hypothesis", Config(program=boto3, enactors=2), seed=seed,
                      max_runs=2_000, database=None, shrink=False)
        executions.append(res.first_at)
        if res.first_seconds is not None:
            firsts.append(res.first_seconds)
    out(f"boto3 outage script, hypothesis (the default), 1 worker: seconds from the start to "
        f"the first violation, median of {FIRST_SEEDS} seeds "
        f"{statistics.median(firsts) if firsts else float('nan'):.1f} (max "
        f"{max(firsts, default=float('nan')):.1f}); executions {_median(executions)}")
    progs.shutdown()
