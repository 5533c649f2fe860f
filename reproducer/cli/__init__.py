"""The `reproducer` command line: the only place in the package that prints.

    reproducer variants [--json]
    reproducer run [--seed N | --choices 0,1,0] [--transport memory|real] [--save FILE]
    reproducer replay FILE [--transport memory|real] [--dns HOST:PORT --tsig-key NAME:SECRET]
    reproducer explore --strategy hypothesis|random|pct|bfs [--max-runs N] [--seed N]
    reproducer explore --from FILE            (shrink a replay file to the shortest story)
    reproducer wild [--duration S] [--until-violation] [--stall PROB:S] [--no-faults]
    reproducer repair --dns HOST:PORT --tsig-key NAME:SECRET [--addresses A,B]
    reproducer story

Configuration flags shared by every subcommand: --variant, --enactors, --endpoints,
--keep-generations, --plans, --max-steps, --invariants, --enactor package.module:Name.

Exit status, the same for every subcommand (`reproducer.cli.parsing.EXIT_STATUSES`):
0 it ran and broke no invariant (repair: applied; story: told); 1 it ran and an invariant broke,
a replay did not match its file, the server refused a repair, or the story failed; 2 nothing
was judged: a bad flag or file, or a --dns server that cannot be used as given (one line on
stderr, "reproducer: error: ..."); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fake_dns import DNSClientError
from reproducer.cli.explore import add_explore_arguments, enactor_error, explore_main
from reproducer.cli.parsing import (
    EXIT_FOUND,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STATUSES,
    EXIT_USAGE,
    OneLineParser,
    UsageError,
    error_line,
)
from reproducer.commands import CONFIG_FLAGS
from reproducer.running.choices import (
    ChoiceSource,
    FollowWorkers,
    RandomChoices,
    ReplayChoices,
    ReplayDiverged,
)
from reproducer.running.core import EnactorError
from reproducer.running.replay import ReplayFileError, load_replay, save_replay
from reproducer.running.simulation import run_memory
from reproducer.running.trace import RunResult, Step
from reproducer.running.transport import DnsServerError
from reproducer.telling.narrate import format_step, format_trace, write_trace
from reproducer.world.config import Config, ConfigError
from reproducer.world.variants import VARIANTS

Report = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:5353")
    return host, int(port)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected integers separated by commas"
                                         ) from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: choices and invariants are >= 0")
    return values


def _config_parent() -> OneLineParser:
    default = Config()  # the defaults the help states are the ones a run uses
    p = OneLineParser(add_help=False)
    g = p.add_argument_group("configuration (shared by every subcommand)")
    g.add_argument("--variant", default=None,
                   help=f"enactor variant: {', '.join(VARIANTS)} (default {default.variant})")
    g.add_argument("--enactors", type=int, default=None,
                   help=f"number of enactors (default {default.enactors})")
    g.add_argument("--endpoints", type=int, default=None,
                   help=f"number of endpoints (default {default.endpoints})")
    g.add_argument("--keep-generations", type=int, default=None,
                   help=f"clean-up deletes plans older than applied - K "
                        f"(default {default.keep_generations})")
    g.add_argument("--plans", type=int, default=None,
                   help=f"generations the planner writes after g1 (default {default.plans})")
    g.add_argument("--max-steps", type=int, default=None,
                   help=f"step bound (default {default.max_steps})")
    g.add_argument("--invariants", type=_int_list, default=None,
                   help=f"invariants that count, e.g. 1,3 "
                        f"(default {','.join(map(str, default.invariants))})")
    g.add_argument("--enactor", default=None, metavar="package.module:Name",
                   help="your own enactor class (see README: 'Explore your own enactor')")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def config_from_args(args: argparse.Namespace, base: Config | None = None) -> Config:
    """Flags given on the command line override `base` (a replay file's configuration)."""
    values: dict[str, Any] = (base or Config()).to_json()
    for name in CONFIG_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return Config.from_json(values)


def _summary(result: RunResult, trace_path: Path | None,
             report_path: Path | None = None) -> dict[str, Any]:
    v = result.violation
    return {"variant": result.config.label, "steps": result.length,
            "completed": result.completed, "found": v is not None,
            "violation": None if v is None else {"invariant": v.invariant, "step": v.step,
                                                 "endpoint": v.endpoint, "detail": v.detail,
                                                 "title": v.title},
            "invariant": None if v is None else v.invariant,
            "trace": str(trace_path) if trace_path else None,
            "report": str(report_path) if report_path else None}


async def _run_transport(config: Config, source: ChoiceSource, transport: str,
                         dns: tuple[str, int] | None, tsig_key: str | None,
                         stop_at_violation: bool, on_step: Callable[[Step], None]) -> RunResult:
    if transport == "memory":
        return run_memory(config, source, stop_at_violation=stop_at_violation, on_step=on_step)
    from reproducer.running.transport import parse_tsig_key, run_against, run_real

    if dns is None:
        return await run_real(config, source, stop_at_violation=stop_at_violation,
                              on_step=on_step)
    if tsig_key is None:
        raise UsageError("--dns needs --tsig-key NAME:BASE64SECRET (the key fake-dns was "
                         "started with)")
    try:
        key = parse_tsig_key(tsig_key)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return await run_against(dns[0], dns[1], key, config, source,
                             stop_at_violation=stop_at_violation, on_step=on_step)


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--transport", choices=("real", "memory"), default="real",
                   help="real: TSIG-signed UDP to fake_dns (default); memory: in-process")
    p.add_argument("--dns", type=_host_port, default=None, metavar="HOST:PORT",
                   help="a running fake-dns (default: start one in-process on 127.0.0.1:0)")
    p.add_argument("--tsig-key", default=None, metavar="NAME:BASE64SECRET",
                   help="the update key of the --dns server")
    p.add_argument("--trace", type=Path, default=Path("reports/trace.json"),
                   help="where to write the trace as JSON (default reports/trace.json)")
    p.add_argument("--report", type=Path, default=Path("reports/run.html"),
                   help="where to write the HTML report of the run (default reports/run.html)")
    p.add_argument("--keep-going", action="store_true",
                   help="do not stop at the first violation (watch the stuck state)")


def cmd_variants(args: argparse.Namespace, report: Report) -> int:
    if args.json:
        report(json.dumps([{"name": v.name, "correct": v.correct, "summary": v.summary}
                           for v in VARIANTS.values()], indent=2))
        return 0
    for v in VARIANTS.values():
        report(f"{v.name:<22} correct: {str(v.correct).lower():<5}  {v.summary}")
    return 0


def _execute(args: argparse.Namespace, config: Config, choices: ChoiceSource,
             report: Report, expected: dict[str, Any] | None = None) -> int:
    taken = 0

    def on_step(step: Step) -> None:
        nonlocal taken
        taken += 1
        if not args.json:
            report(format_step(step))

    try:
        result = asyncio.run(_run_transport(config, choices, args.transport, args.dns,
                                            args.tsig_key, not args.keep_going, on_step))
    except EnactorError as exc:  # the step it failed in is the one after the last reported
        raise UsageError(enactor_error(config, exc, step=taken + 1)) from None
    trace_path = write_trace(args.trace, result)
    from reproducer.telling.report import write_report

    report_path = write_report(args.report, title=f"{config.label}: one run",
                               runs=[(config.label, result)])
    if getattr(args, "save", None):
        save_replay(args.save, result)
    summary = _summary(result, trace_path, report_path)
    mismatch = None
    if expected:
        want = expected.get("violation")
        got = summary["violation"]
        if (want is None) != (got is None) or (
                want and got and (want.get("invariant"), want.get("step")) !=
                (got["invariant"], got["step"])):
            mismatch = f"the replay file expected {want}, this run gave {got}"
    if args.json:
        summary["matches_expected"] = mismatch is None if expected else None
        report(json.dumps(summary))
    else:
        if result.violation is None:
            report(format_trace(result)[-1])
        else:
            report(f"VIOLATION: {result.violation.describe()}")
        report(f"trace written to {trace_path}; report: {report_path}")
        if mismatch:
            report(f"warning: {mismatch}")
    return EXIT_FOUND if mismatch or result.violation is not None else EXIT_OK


def cmd_run(args: argparse.Namespace, report: Report) -> int:
    config = config_from_args(args)
    source: ChoiceSource = (ReplayChoices(args.choices) if args.choices is not None
                            else RandomChoices(args.seed))
    return _execute(args, config, source, report)


def cmd_replay(args: argparse.Namespace, report: Report) -> int:
    replay = load_replay(args.file)
    config = config_from_args(args, replay.config)
    if config == replay.config:
        return _execute(args, config, ReplayChoices(replay.choices), report, replay.expected)
    # Another configuration (say --variant cas-guarded): its workers take other steps, so
    # replay the same interleaving by worker name rather than by choice index.
    original = run_memory(replay.config, ReplayChoices(replay.choices))
    missing = sorted({s.worker for s in original.steps} - set(config.worker_names))
    if missing:
        raise UsageError(
            f"{args.file} schedules {', '.join(missing)}, which "
            f"{'does' if len(missing) == 1 else 'do'} not exist in this configuration "
            f"(workers: {', '.join(config.worker_names)}); the file was written with "
            f"--enactors {replay.config.enactors}: replay with at least that many")
    if not args.json:
        report(f"replaying the interleaving of {args.file} ({original.length} steps, by worker) "
               f"under {config.variant}")
    return _execute(args, config, FollowWorkers([s.worker for s in original.steps]), report)


def cmd_repair(args: argparse.Namespace, report: Report) -> int:
    from reproducer.running.transport import DnsTransport, parse_tsig_key
    from reproducer.world.repair import repair_plan, repair_update

    try:
        key = parse_tsig_key(args.tsig_key)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    config = config_from_args(args)
    plan = repair_plan(config, args.addresses)

    async def repair() -> tuple[str, list[str]]:
        async with DnsTransport(args.dns[0], args.dns[1], key) as transport:
            rcode = await transport.first_update(repair_update(config, plan), "operator")
            lines = []
            for ep in config.layout.endpoints:
                name = config.layout.endpoint_name(ep)
                answer = await transport.query(name, "A")
                lines.append(f"{name} A -> {answer.rcode.name} "
                             f"{', '.join(answer.addresses) or 'NO ADDRESSES'}")
            return rcode, lines

    rcode, lines = asyncio.run(repair())
    if args.json:
        report(json.dumps({"rcode": rcode, "generation": plan.generation, "answers": lines}))
    else:
        report(f"repair UPDATE (g{plan.generation} trees, aliases, rollback records, lock): "
               f"{rcode}")
        for line in lines:
            report(f"  {line}")
    return EXIT_OK if rcode == "NOERROR" else EXIT_FOUND


# Every --help ends with the exit statuses.
_EPILOG: dict[str, Any] = {"epilog": EXIT_STATUSES,
                           "formatter_class": argparse.RawDescriptionHelpFormatter}


def build_parser() -> argparse.ArgumentParser:
    parent = _config_parent()
    parser = OneLineParser(
        prog="reproducer",
        description="The October 2025 DynamoDB DNS race: racing enactors over real DNS.",
        **_EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("variants", parents=[parent], help="list the enactor variants", **_EPILOG)
    p.set_defaults(func=cmd_variants)

    p = sub.add_parser("run", parents=[parent], help="one run from a seed or a list of choices",
                       **_EPILOG)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--seed", type=int, default=0, help="random scheduling seed (default 0)")
    g.add_argument("--choices", type=_int_list, default=None,
                   help="scheduling choices, e.g. 0,1,0,2")
    p.add_argument("--save", type=Path, default=None, help="save the schedule as a replay file")
    _add_run_flags(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("replay", parents=[parent], help="replay a saved schedule", **_EPILOG)
    p.add_argument("file", type=Path, help="a replay file written by explore or run --save")
    _add_run_flags(p)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("repair", parents=[parent],
                       help="the operators' manual repair: newest plan back in DNS", **_EPILOG)
    p.add_argument("--dns", type=_host_port, required=True, metavar="HOST:PORT")
    p.add_argument("--tsig-key", required=True, metavar="NAME:BASE64SECRET")
    p.add_argument("--addresses", type=lambda s: [a for a in s.split(",") if a], default=[],
                   help="addresses for the restored plan (default: the configured plan)")
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser("explore", parents=[parent],
                       help="search for a schedule that breaks an invariant", **_EPILOG)
    add_explore_arguments(p)
    p.set_defaults(func=lambda a, r: explore_main(a, config_from_args(a), r))

    from reproducer.cli.wild import add_wild_arguments, wild_main

    p = sub.add_parser("wild", parents=[parent], help="the race let loose: free-running "
                       "enactors at real speed, faults injected, a violation caught and replayed",
                       **_EPILOG)
    add_wild_arguments(p)
    p.set_defaults(func=lambda a, r: wild_main(a, config_from_args(a), r))

    from reproducer.telling.play import add_play_arguments, play_main

    p = sub.add_parser("play", parents=[parent], help="be the scheduler: a page on 127.0.0.1 "
                       "where you pick who moves next, over real DNS", **_EPILOG)
    add_play_arguments(p)
    p.set_defaults(func=lambda a, r: play_main(a, config_from_args(a), r))

    from reproducer.telling import story as _story

    # The story's world is fixed (the outage's), so it takes no configuration flags.
    p = sub.add_parser("story", help="the whole outage, live: fleet, traffic, race, repair, fix",
                       **_EPILOG)
    _story.add_story_arguments(p)
    p.set_defaults(func=lambda a, r: _story.story_main(a, r))
    return parser


def main(argv: Sequence[str] | None = None, report: Report = _print) -> int:
    """Run one command; the exit status follows `EXIT_STATUSES`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args, report)
        return code
    except (ConfigError, ReplayFileError, ReplayDiverged, UsageError, DnsServerError,
            EnactorError) as exc:
        print(error_line(str(exc)), file=sys.stderr)
        return EXIT_USAGE
    except DNSClientError as exc:  # the server stopped answering during a run
        print(error_line(f"the DNS server stopped answering during the run: {exc}"),
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("reproducer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
