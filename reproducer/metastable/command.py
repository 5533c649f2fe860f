"""`python -m reproducer.metastable`: the second act from the command line.

    python -m reproducer.metastable run [--policy P] [--hosts N] [--outage-s S] ... [--json]
    python -m reproducer.metastable model [the same flags]        (virtual time, no sockets)
    python -m reproducer.metastable boundary [--policies P ...] [--outages 0,1,2] [--fleet 40,80]
    python -m reproducer.metastable search [--policy P] [--shrink outage|fleet] [--max-examples N]
                                           [--sampler hypothesis|uniform] [--seeds N]
    python -m reproducer.metastable manager --lb URL [--lb URL] [fleet flags] --duration-s S

`run` starts fake_dns, a fake_lb fleet and the manager as processes, empties the endpoint's
record for --outage-s with real DNS UPDATEs, and prints the fleet's time series and whether it
recovered; `model` prints what the model predicts for the same flags; `boundary` maps outage
length x fleet size -> recovered or collapsed for each policy; `search` lets Hypothesis find the
smallest outage (or fleet) that leaves the policy stuck, shrunk (or a uniform sampler find one,
unshrunk; with --seeds, it measures how many configurations each takes); `manager` is the
manager's own process (what `run` starts: JSON lines on stdout, operators' commands on stdin).

`reproducer collapse` is the same command line inside `reproducer` (`add_commands` builds the
parsers of both, `execute` runs what they parsed), without the manager's process.

Exit status (`EXIT_STATUSES`): 0 the fleet recovered (search: from everything explored;
boundary, manager: ran); 1 the fleet collapsed: once DNS had been healthy for --healthy-for-s,
goodput stayed below the floor (search: a configuration that collapses was found, with --seeds
by at least one seed); 2 a bad flag
or a process that could not start (one line on stderr); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from reproducer.metastable.boundary import map_boundary
from reproducer.metastable.live_manager import LiveManager, decode_command, encode_counters
from reproducer.metastable.live_run import LiveRunFailed, LiveStage
from reproducer.metastable.params import FleetParams, ParamError
from reproducer.metastable.policies import POLICIES, policy_named
from reproducer.metastable.recovery import Recovery
from reproducer.metastable.render_boundary import boundary_grid, boundary_svg
from reproducer.metastable.render_series import RowsSoFar, series_svg
from reproducer.metastable.scenario import Scenario
from reproducer.metastable.search import (
    SAMPLERS,
    Budget,
    Shrink,
    Space,
    first_stuck,
    sample_uniformly,
    search,
)
from reproducer.metastable.series import Sample, Series
from reproducer.metastable.simulation import simulate
from reproducer.running.files import output_path

__all__ = ["EXIT_STATUSES", "OnFigure", "add_commands", "build_parser", "execute", "main"]

EXIT_RECOVERED = 0
EXIT_COLLAPSED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROG = "python -m reproducer.metastable"

EXIT_STATUSES = """\
exit status:
  0    run, model: the fleet recovered; search: from every configuration explored;
       boundary, manager: it ran
  1    run, model: the fleet collapsed (goodput stayed below the floor once DNS had been
       healthy for --healthy-for-s); search: found a configuration that collapses (with
       --seeds: with at least one seed)
  2    nothing was judged: a bad flag, or a process that could not start (one line on stderr)
  130  interrupted (Ctrl-C)"""

Report = Callable[[str], None]
OnFigure = Callable[[str, str], None]
"""Receives each picture a command draws: its title and its SVG."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line and status 2, not argparse's usage block.
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def _number(kind: type[int] | type[float], low: float, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
            if not value >= low:
                raise ValueError
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        return value
    return parse


def _list(kind: type[int] | type[float], what: str) -> Callable[[str], tuple[float, ...]]:
    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(kind(x) for x in text.split(",") if x.strip())
            if not values or min(values) < 0:
                raise ValueError
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {what} separated by commas, got {text!r}") from None
        return values
    return parse


def _policy(text: str) -> str:
    if text not in POLICIES:
        raise argparse.ArgumentTypeError(
            f"unknown policy {text!r}; choose one of {', '.join(POLICIES)}")
    return text


_COUNT = _number(int, 1, "a whole number >= 1")
_SECONDS = _number(float, 0, "a number of seconds >= 0")
_POSITIVE = _number(float, 1e-9, "a positive number of seconds")


def _fleet_flags(p: argparse.ArgumentParser) -> None:
    d = FleetParams()
    g = p.add_argument_group("the fleet (seconds are the project's scale, not AWS's hours)")
    g.add_argument("--hosts", type=_COUNT, default=d.hosts, help=f"leases (default {d.hosts})")
    g.add_argument("--lease-s", type=_POSITIVE, default=d.lease_s,
                   help=f"a lease's length; renewed with half left (default {d.lease_s:g})")
    g.add_argument("--timeout-s", type=_POSITIVE, default=d.timeout_s,
                   help="an attempt's timeout, queue wait included (default "
                        f"{d.timeout_s:g})")
    g.add_argument("--capacity", type=_COUNT, default=d.capacity,
                   help=f"attempts the backend pool works on at once (default {d.capacity})")
    g.add_argument("--service-s", type=_POSITIVE, default=d.service_s,
                   help=f"the pool's work per attempt (default {d.service_s:g})")
    g.add_argument("--retry-delay-s", type=_POSITIVE, default=d.retry_delay_s,
                   help="about how long a host waits after an error (default "
                        f"{d.retry_delay_s:g})")
    g.add_argument("--policy", type=_policy, default="collapsing",
                   help=f"{' | '.join(POLICIES)} (default collapsing)")
    g.add_argument("--seed", type=int, default=0, help="every random choice comes from it")


def _scenario_flags(p: argparse.ArgumentParser) -> None:
    _fleet_flags(p)
    r = Recovery()
    g = p.add_argument_group("the outage and the property")
    g.add_argument("--outage-s", type=_SECONDS, default=3.0,
                   help="how long the endpoint's record stays empty (default 3)")
    g.add_argument("--warm-s", type=_SECONDS, default=1.0, help="health before it (default 1)")
    g.add_argument("--after-s", type=_POSITIVE,
                   help="how long to watch after the repair (default: --healthy-for-s plus one "
                        "renewal period, lease-s / 2)")
    g.add_argument("--healthy-for-s", type=_SECONDS, default=r.healthy_for_s,
                   help=f"T: the property judges goodput from this long after the repair "
                        f"(default {r.healthy_for_s:g})")
    g.add_argument("--goodput-fraction", type=float, default=r.goodput_fraction,
                   help="G, as a share of a healthy fleet's goodput (default "
                        f"{r.goodput_fraction:g})")
    g.add_argument("--sample-s", type=_POSITIVE, default=0.25, help="(default 0.25)")
    g.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    g.add_argument("--svg", type=output_path, metavar="PATH", help="also write the chart here")


def add_commands(sub: Any, *, manager: bool = True) -> dict[str, argparse.ArgumentParser]:
    """Add run, model, boundary, search (and, with `manager`, the manager's process) to `sub`, an
    `add_subparsers()` result, whatever parser class and destination it has: this module's own
    command line and `reproducer collapse` share them. Each parser sets `act` to its name, which
    `execute` dispatches on. Returns the parsers by name."""
    formatted: dict[str, Any] = {"epilog": EXIT_STATUSES,
                                 "formatter_class": argparse.RawDescriptionHelpFormatter}
    run = sub.add_parser("run", help="one outage on the real processes (about 10 s)",
                         **formatted)
    _scenario_flags(run)
    run.add_argument("--backends", type=_COUNT, default=2, help="backends sharing the capacity")
    run.add_argument("--lbs", type=_COUNT, default=2, help="load balancers")
    model = sub.add_parser("model", help="the same outage in virtual time (milliseconds)",
                           **formatted)
    _scenario_flags(model)
    boundary = sub.add_parser("boundary", help="outage x fleet size -> recovered or collapsed, "
                              "for each policy", **formatted)
    _fleet_flags(boundary)
    boundary.set_defaults(policy=None)
    boundary.add_argument("--policies", type=_policy, nargs="+", default=list(POLICIES),
                          metavar="POLICY", help="(default: all of them)")
    boundary.add_argument("--outages", type=_list(float, "seconds"),
                          default=(0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6),
                          help="the columns, in seconds (default 0,0.5,1,1.5,2,2.5,3,4,5,6)")
    boundary.add_argument("--fleet", type=_list(int, "fleet sizes"),
                          default=tuple(range(40, 241, 40)),
                          help="the rows, in hosts (default 40,80,120,160,200,240)")
    boundary.add_argument("--healthy-for-s", type=_SECONDS, default=Recovery().healthy_for_s)
    boundary.add_argument("--times", action="store_true",
                          help="show the seconds from the repair to every lease held")
    boundary.add_argument("--json", action="store_true")
    boundary.add_argument("--svg", type=output_path, metavar="PATH",
                          help="write the maps here (one SVG per policy: PATH-<policy>.svg)")
    finder = sub.add_parser("search", help="the smallest outage (or fleet) that leaves it stuck: "
                            "Hypothesis, or uniform samples", **formatted)
    _fleet_flags(finder)
    finder.add_argument("--shrink", choices=[s.value for s in Shrink], default="outage",
                        help="shrink towards the shortest outage (the largest viable fleet) or "
                             "the smallest fleet (the longest outage) (default outage)")
    finder.add_argument("--sampler", choices=SAMPLERS, default="hypothesis",
                        help="hypothesis: draws, then shrinks; uniform: seeded uniform samples "
                             "of the space, the first stuck one as found (default hypothesis)")
    finder.add_argument("--max-outage-s", type=_POSITIVE, default=6.0)
    finder.add_argument("--max-examples", type=_COUNT, default=Budget().max_examples,
                        help="configurations drawn at most (default "
                             f"{Budget().max_examples})")
    finder.add_argument("--healthy-for-s", type=_SECONDS, default=Recovery().healthy_for_s)
    finder.add_argument("--seeds", type=_COUNT, default=1,
                        help="measure instead: over seeds --seed.. --seed+N-1, how many "
                             "configurations the sampler runs to its first stuck one")
    for name, parser in (("run", run), ("model", model), ("boundary", boundary),
                         ("search", finder)):
        parser.set_defaults(act=name)
    parsers = {"run": run, "model": model, "boundary": boundary, "search": finder}
    if manager:
        process = sub.add_parser("manager", help="the manager's own process (what run starts)")
        _fleet_flags(process)
        process.add_argument("--lb", action="append", required=True, metavar="URL",
                             help="a load balancer's base URL (repeat for several)")
        process.add_argument("--duration-s", type=_POSITIVE, required=True,
                             help="stop after this long")
        process.add_argument("--sample-s", type=_POSITIVE, default=0.25)
        process.add_argument("--stdin-commands", action="store_true",
                             help="obey operators' commands (JSON lines) on stdin; stop at its "
                                  "end")
        process.set_defaults(act="manager")
        parsers["manager"] = process
    return parsers


def build_parser() -> argparse.ArgumentParser:
    root = _Parser(prog=PROG, description="The second act: the lease fleet's metastable "
                   "collapse after the DNS repair.", epilog=EXIT_STATUSES,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_commands(root.add_subparsers(dest="command", required=True, parser_class=_Parser))
    return root


def params_from(args: argparse.Namespace) -> FleetParams:
    return FleetParams(hosts=args.hosts, lease_s=args.lease_s, timeout_s=args.timeout_s,
                       capacity=args.capacity, service_s=args.service_s,
                       retry_delay_s=args.retry_delay_s)


def scenario_from(args: argparse.Namespace) -> tuple[Scenario, Recovery]:
    """The scenario and the property the flags describe (ParamError when they cannot work)."""
    params = params_from(args)
    prop = Recovery(args.healthy_for_s, args.goodput_fraction)
    after_s = args.after_s if args.after_s is not None else prop.after_s(params)
    scenario = Scenario(params=params, policy=policy_named(args.policy),
                        outage_s=args.outage_s, warm_s=args.warm_s, after_s=after_s,
                        seed=args.seed, sample_s=args.sample_s)
    return scenario, prop


class _Teller:
    """Prints a series as it comes (JSON lines, or a table row a second), then the verdict."""

    def __init__(self, hosts: int, as_json: bool, report: Report) -> None:
        self._json = as_json
        self._report = report
        self._rows = RowsSoFar(hosts)

    def sample(self, sample: Sample) -> None:
        if self._json:
            self._report(json.dumps({"event": "sample", **sample.to_json()}))
            return
        for row in self._rows.add(sample):
            self._report(row)

    def end(self, series: Series, prop: Recovery, svg: Path | None,
            on_figure: OnFigure | None = None) -> int:
        verdict = prop.judge(series)
        if self._json:
            head = series.to_json()
            del head["samples"]
            self._report(json.dumps({"event": "series", **head}))
            self._report(json.dumps({"event": "verdict", "recovered": verdict.recovered,
                                     "goodput_per_s": verdict.goodput_per_s,
                                     "floor_per_s": verdict.floor_per_s,
                                     "recovery_s": verdict.recovery_s}))
        else:
            for row in self._rows.rest(series):
                self._report(row)
            self._report(verdict.describe())
        if svg is not None:
            svg.write_text(series_svg(series), encoding="utf-8")
        if on_figure is not None:
            on_figure(f"{series.label}: {verdict.describe()}", series_svg(series))
        return EXIT_RECOVERED if verdict.recovered else EXIT_COLLAPSED


def _tell(series: Series, prop: Recovery, args: argparse.Namespace, report: Report,
          on_figure: OnFigure | None) -> int:
    teller = _Teller(series.hosts, args.json, report)
    if not args.json:
        report(series.label)
    for sample in series.samples:
        teller.sample(sample)
    return teller.end(series, prop, args.svg, on_figure)


async def _run_live(scenario: Scenario, prop: Recovery, args: argparse.Namespace,
                    report: Report, on_figure: OnFigure | None) -> int:
    async with LiveStage(scenario.params, backends=args.backends, lbs=args.lbs) as stage:
        fleet = stage.fleet
        if args.json:
            report(json.dumps({"event": "stage", **fleet.to_json()}))
        else:
            report(f"fake-dns on 127.0.0.1:{stage.dns_port} serving {fleet.endpoint}; "
                   f"{len(fleet.backends)} backends ({', '.join(fleet.backend_addresses)}) "
                   f"with {scenario.params.capacity} slots in all; load balancers "
                   f"{', '.join(fleet.lb_urls)}")
            report(f"{scenario.policy.name}, {scenario.params.hosts} hosts, outage "
                   f"{scenario.outage_s:g} s (real run)")
        teller = _Teller(scenario.params.hosts, args.json, report)
        series = await stage.run(scenario, on_sample=teller.sample)
    return teller.end(series, prop, args.svg, on_figure)


async def _manager(args: argparse.Namespace, report: Report) -> None:
    params = params_from(args)

    def ready(t0: float) -> None:
        report(json.dumps({"event": "ready", "t0": t0, "params": params.to_json(),
                           "policy": args.policy}))

    live = LiveManager(params, policy_named(args.policy), args.lb, seed=args.seed,
                       sample_s=args.sample_s, on_start=ready,
                       on_counters=lambda c: report(encode_counters(c)))
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(live.run(args.duration_s))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    reader = asyncio.create_task(_commands(live, task)) if args.stdin_commands else None
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        if reader is not None:
            reader.cancel()
        report(json.dumps({"event": "stopped"}))


async def _commands(live: LiveManager, task: asyncio.Task[None]) -> None:
    """Operators' commands on stdin, one JSON object a line; its end stops the manager."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := (await reader.readline()).decode().strip():
            try:
                live.command(decode_command(line))
            except ValueError as exc:
                print(f"{PROG} manager: ignored a command: {exc}", file=sys.stderr, flush=True)
    finally:
        transport.close()
        task.cancel()


def _search(args: argparse.Namespace, report: Report) -> int:
    params = params_from(args)
    space = Space.viable(params, max_outage_s=args.max_outage_s)
    base = Scenario(params=params, policy=policy_named(args.policy), seed=args.seed)
    prop = Recovery(args.healthy_for_s)
    shrink = Shrink(args.shrink)
    report(f"{args.policy}: outages of 0-{space.max_outage_s:g} s, fleets of {space.min_hosts}-"
           f"{space.max_hosts} hosts (those the pool can keep without an outage)")
    if args.seeds > 1:
        return _measure(base, prop, space, shrink, args, report)
    budget = Budget(max_examples=args.max_examples, seed=args.seed)
    result = (search(base, prop, space, shrink, budget) if args.sampler == "hypothesis"
              else sample_uniformly(base, prop, space, budget))
    if result.found is None:
        report(f"recovered from every configuration explored ({result.examples})")
        return EXIT_RECOVERED
    found = result.found
    if result.shrink is None:
        report(f"stuck after an outage of {found.outage_s:g} s with {found.hosts} hosts, "
               f"the first stuck one of the uniform samples ({_configurations(result.examples)} "
               "run, not shrunk)")
    else:
        report(f"stuck after an outage of {found.outage_s:g} s with {found.hosts} hosts, shrunk "
               f"towards the smallest {args.shrink} ({result.examples} configurations run; the "
               f"first stuck one was number {result.first_found_at})")
    report(found.verdict.describe())
    return EXIT_COLLAPSED


def _configurations(n: int) -> str:
    return f"{n} configuration{'' if n == 1 else 's'}"


def _measure(base: Scenario, prop: Recovery, space: Space, shrink: Shrink,
             args: argparse.Namespace, report: Report) -> int:
    """How many configurations the sampler runs to its first stuck one, over --seeds seeds."""
    seeds = range(args.seed, args.seed + args.seeds)
    counts = first_stuck(base, prop, space, args.sampler, seeds, shrink, args.max_examples)
    found = sorted(c for c in counts if c is not None)
    how = (f"Hypothesis (drawing towards the smallest {args.shrink}, not shrinking)"
           if args.sampler == "hypothesis" else "uniform samples")
    report(f"{how}, seeds {seeds.start}-{seeds.stop - 1}: a stuck "
           f"configuration within {args.max_examples} with {len(found)} of {len(counts)} seeds")
    if found:
        report(f"configurations run to the first stuck one: median "
               f"{statistics.median(found):g}, mean {statistics.fmean(found):.1f}, fewest "
               f"{found[0]}, most {found[-1]}")
        report("per seed: " + " ".join("-" if c is None else str(c) for c in counts))
    return EXIT_COLLAPSED if found else EXIT_RECOVERED


def _boundary(args: argparse.Namespace, report: Report, on_figure: OnFigure | None) -> int:
    params = params_from(args)
    prop = Recovery(args.healthy_for_s)
    for name in args.policies:
        base = Scenario(params=params, policy=policy_named(name), seed=args.seed)
        found = map_boundary(base, prop, args.outages, args.fleet)
        if args.json:
            report(json.dumps(found.to_json()))
        else:
            for line in boundary_grid(found, times=args.times):
                report(line)
            report("")
        picture = boundary_svg(found, element_id=f"boundary-{name}")
        if args.svg is not None:
            path = args.svg.with_name(f"{args.svg.stem}-{name}{args.svg.suffix or '.svg'}")
            path.write_text(picture, encoding="utf-8")
        if on_figure is not None:
            on_figure(f"{name}: outage length x fleet size", picture)
    return EXIT_RECOVERED


def execute(args: argparse.Namespace, report: Report, on_figure: OnFigure | None = None) -> int:
    """Do what `args` (parsed by parsers `add_commands` made) asks; `on_figure(title, svg)`
    receives every picture drawn (a run's chart, each boundary map). Raises `ParamError` for
    values that cannot work together, `LiveRunFailed` when a process of the real run failed,
    and `OSError` when a file cannot be written: the callers print them as one line."""
    if args.act == "manager":
        params_from(args)  # bad values are one line, before anything starts
        asyncio.run(_manager(args, report))
        return EXIT_RECOVERED
    if args.act == "boundary":
        return _boundary(args, report, on_figure)
    if args.act == "search":
        return _search(args, report)
    scenario, prop = scenario_from(args)
    if args.act == "model":
        return _tell(simulate(scenario), prop, args, report, on_figure)
    return asyncio.run(_run_live(scenario, prop, args, report, on_figure))


def main(argv: Sequence[str] | None = None, report: Report | None = None) -> int:
    """The command line; `report` receives every line of output (default: stdout)."""
    out: Report = report or (lambda line: print(line, flush=True))
    args = build_parser().parse_args(argv)
    try:
        return execute(args, out)
    except BrokenPipeError:
        raise  # the reader went away (`| head`): nothing to say, and nobody to say it to
    except (ParamError, LiveRunFailed, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
