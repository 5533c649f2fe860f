"""`reproducer wild`: the race let loose, its flags and what it prints."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace
from pathlib import Path

from reproducer.cli.explore import enactor_error
from reproducer.cli.parsing import (
    EXIT_FOUND,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Command,
    Report,
    UsageError,
    config_from_args,
    output_file,
)
from reproducer.commands import replay_command, shell_command, trust_flags
from reproducer.wild import (
    Faults,
    WildError,
    WildProgress,
    WildResult,
    WildSettings,
    parse_stall,
    run_wild,
)
from reproducer.world.config import Config

__all__ = ["COMMAND"]

ROUND_PLANS = 50  # the most generations a configuration allows: the longest round


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=30.0, metavar="SECONDS",
                        help="how long to run (default 30)")
    parser.add_argument("--until-violation", action="store_true",
                        help="stop at the first violation (or after --duration)")
    parser.add_argument("--plan-interval", type=float, default=0.05, metavar="SECONDS",
                        help="the planner writes a plan every SECONDS (default 0.05); a round "
                             f"is --plans plans (default {ROUND_PLANS} here)")
    parser.add_argument("--latency", type=float, default=1.0, metavar="MS",
                        help="mean of the exponential delay before each enactor operation "
                             "(default 1)")
    parser.add_argument("--stall", default="0.02:1.0", metavar="PROB:SECONDS",
                        help="after its freshness check an enactor stalls SECONDS with "
                             "probability PROB (default 0.02:1.0)")
    parser.add_argument("--no-faults", action="store_true",
                        help="inject no latency and no stall")
    parser.add_argument("--seed", type=int, default=0, help="seed of the injected faults")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                        help="a progress line every SECONDS (default 1)")
    parser.add_argument("--traffic", type=float, default=20.0, metavar="RATE",
                        help="requests/s through the load balancers (default 20; 0: no load "
                             "balancers)")
    parser.add_argument("--out", type=output_file, default=Path("reports/wild.replay.json"),
                        help="where to write the replay file of the first violation (default "
                             "reports/wild.replay.json)")


def _settings(args: argparse.Namespace) -> WildSettings:
    try:
        prob, stall_s = parse_stall(args.stall)
        faults = Faults() if args.no_faults else Faults(args.latency, prob, stall_s, args.seed)
        if args.no_faults:
            faults = replace(faults, seed=args.seed)
        return WildSettings(duration_s=args.duration, until_violation=args.until_violation,
                            plan_interval_s=args.plan_interval, faults=faults,
                            progress_interval_s=args.interval,
                            traffic_rate_per_s=args.traffic, replay_path=args.out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def wild_config(args: argparse.Namespace, config: Config) -> Config:
    """The shared flags' world, with rounds of --plans plans (default the longest allowed)
    and a step bound no round reaches."""
    plans = args.plans if getattr(args, "plans", None) is not None else ROUND_PLANS
    return replace(config, plans=plans, max_steps=100_000)


def _summary(result: WildResult) -> list[str]:
    lines = [f"{result.seconds:.1f}s, {result.rounds} rounds ({result.rounds_completed} ran to "
             f"the end), {result.plans_published} plans published, {result.plans_applied} "
             f"became active; flips by enactor: "
             + ", ".join(f"{n} {c}" for n, c in result.applied_by)]
    lines.append(f"violations: {len(result.violations)} ({result.per_1000_plans:.1f} per 1,000 "
                 f"plans); clients saw {result.clients_saw}; requests failed "
                 f"{result.requests_failed}/{result.requests_sent}")
    for number, v in result.violations[:5]:
        lines.append(f"  round {number}: {v.describe()}")
    if len(result.violations) > 5:
        lines.append(f"  ... and {len(result.violations) - 5} more rounds")
    return lines


def _replay_lines(result: WildResult) -> list[str]:
    check, path = result.check, result.replay
    if check is None or result.first is None:
        return []
    got = check.result.violation
    if check.exact and got is not None:
        head = (f"the capture replays under the scheduler to the same violation: invariant "
                f"{got.invariant} at step {got.step}")
    else:
        head = (f"the capture does not replay exactly: {check.reason}" if check.reason else
                "the capture replays without the violation")
    lines = [head]
    if path is not None:
        config = check.result.config
        lines += [f"replay file: {path}", f"replay it:   {replay_command(path, config)}",
                  "shrink it:   " + shell_command("explore", "--from", path,
                                                  *trust_flags(config))]
    return lines


def main(args: argparse.Namespace, report: Report) -> int:
    """`reproducer wild`: exit 0 when no invariant broke, 1 when one did."""
    settings = _settings(args)
    config = wild_config(args, config_from_args(args))
    quiet = bool(getattr(args, "json", False))
    if not quiet:
        report(f"wild: {config.label}, {config.enactors} enactors, a plan every "
               f"{settings.plan_interval_s:g} s in rounds of {config.plans}, "
               f"{settings.faults.describe()}, "
               + (f"{settings.traffic_rate_per_s:g} requests/s through the load balancers"
                  if settings.traffic_rate_per_s else "no traffic")
               + f"; {'until the first violation, at most ' if settings.until_violation else ''}"
               f"{settings.duration_s:g} s")

    def progress(p: WildProgress) -> None:
        if not quiet:
            report(p.line())

    try:
        result = asyncio.run(run_wild(config, settings, progress))
    except WildError as exc:
        if exc.enactor_error is not None:  # as run and explore print it
            raise UsageError(enactor_error(config, exc.enactor_error, step=exc.step,
                                           round_number=exc.round_number)) from None
        raise UsageError(str(exc)) from None
    if quiet:
        report(json.dumps(result.to_json()))
    else:
        for line in _summary(result) + _replay_lines(result):
            report(line)
    if result.interrupted:  # Ctrl-C: the summary so far is printed and the capture kept
        if not quiet:
            report("interrupted (Ctrl-C): the numbers above are those so far")
        return EXIT_INTERRUPTED
    return EXIT_FOUND if result.found else EXIT_OK


COMMAND = Command("wild", "the race let loose: free-running enactors at real speed, faults "
                  "injected, a violation caught and replayed", add_arguments, main)
