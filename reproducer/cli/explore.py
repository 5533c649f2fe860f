"""`reproducer explore`: its flags and what it prints."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from reproducer.cli.parsing import (
    EXIT_BOUNDED,
    EXIT_FOUND,
    EXIT_OK,
    Command,
    Report,
    UsageError,
    bounded,
    config_from_args,
    output_file,
    trusted_code,
)
from reproducer.commands import replay_command
from reproducer.programs import DEFAULT_SHRINK_BUDGET_S
from reproducer.programs import settings as program_settings
from reproducer.running.core import EnactorError
from reproducer.running.files import OutputError, check_output
from reproducer.running.replay import load_replay, run_under, save_replay
from reproducer.search import (
    DEFAULT_MAX_STATES,
    DEFAULT_REDUCTIONS,
    REDIS_URL_FORM,
    REDUCTIONS,
    STRATEGIES,
    ClusterError,
    DatabaseUnavailable,
    Exploration,
    WorkersLost,
    check_depth,
    check_preemptions,
    check_transport,
    check_workers,
    explore,
    is_redis_url,
    minimise,
    shared_database,
    shown_url,
)
from reproducer.telling.narrate import format_trace
from reproducer.world.async_enactor import is_async_enactor
from reproducer.world.config import Config, load_enactor_class

__all__ = ["COMMAND", "check_explore_arguments", "enactor_error", "verdict_of"]



def database_argument(text: str) -> Path | str:
    """`--database`'s type: a `redis://` URL, checked now (a PING) so that a server that does
    not answer is one line and exit 2 before anything is explored; anything else, a directory.
    The URL stays a string: a `Path` would fold its `//`."""
    scheme, colon, _ = text.partition(":")
    if colon and "://" not in text and scheme.lower() in ("redis", "rediss", "unix"):
        raise argparse.ArgumentTypeError(
            f"{shown_url(text)}: a Redis URL needs two slashes ({REDIS_URL_FORM}); a directory "
            "is named without a scheme")
    if "://" not in text:
        path = Path(text)
        try:
            check_output(path, directory=True)
        except OutputError as exc:
            raise argparse.ArgumentTypeError(f"{exc}; the example database is a folder "
                                             "(created if missing)") from None
        return path
    if not is_redis_url(text):
        raise argparse.ArgumentTypeError(
            f"{shown_url(text)}: neither a directory nor a Redis URL ({REDIS_URL_FORM})")
    try:
        shared_database(text, instead="--database DIR").redis.close()
    except (DatabaseUnavailable, ImportError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", choices=STRATEGIES, default=None,
                        help="how to pick schedules (default hypothesis)")
    parser.add_argument("--max-runs", type=int, default=None,
                        help="executions before giving up (default 10000; not for bfs)")
    parser.add_argument("--max-states", type=int, default=None,
                        help=f"bfs: distinct states before giving up (default "
                             f"{DEFAULT_MAX_STATES:,}, which the default world's proof needs: "
                             "about 2-3 GB of memory at the bound; with async enactors or "
                             f"programs {CODE_MAX_STATES:,}, about 4-5 GB)")
    parser.add_argument("--preemptions", type=int, default=None, metavar="K",
                        help="bfs: check every schedule with at most K preemptions (a switch "
                             "away from a worker that could go on), K = 0, 1, ... in turn, each "
                             "said as it is done: a bounded proof (exit 0), or the "
                             "counterexample with the fewest preemptions")
    parser.add_argument("--reductions", default=None,
                        help="bfs: reductions of a state's identity, comma-separated, or "
                             f"'none' (default {','.join(DEFAULT_REDUCTIONS)})")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    parser.add_argument("--depth", type=int, default=None,
                        help="pct: bug depth d, d-1 priority change points (default 3; the empty "
                             "record of the outage needs 4)")
    parser.add_argument("--transport", choices=("memory", "real"), default=None,
                        help="memory: the in-process engine (default); real: UDP to a fake_dns "
                             "server")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes: the samplers and hypothesis shard their runs "
                             f"(default all cores, here {os.cpu_count() or 1}); bfs splits its "
                             "visited set over N > 1 (default one process, which is faster "
                             "than a split on a few cores: docs/benchmarks.md)")
    parser.add_argument("--cluster", default=None, metavar="ADDRESS",
                        help="bfs: split the visited set over the workers of a running Dask "
                             "cluster, one share per worker, e.g. tcp://127.0.0.1:8786 (needs "
                             "the cluster extra: pip install -e '.[cluster]')")
    parser.add_argument("--out", type=output_file, default=Path("reports/counterexample.json"),
                        help="where to write the replay file (default "
                             "reports/counterexample.json)")
    parser.add_argument("--database", type=database_argument, default=None,
                        metavar="DIR|URL",
                        help="hypothesis: example database, a directory or the URL "
                             "redis://HOST:PORT[/DB] of a Redis server that every worker and CI "
                             "job shares (default .hypothesis/examples, Hypothesis's own)")
    parser.add_argument("--no-database", action="store_true",
                        help="hypothesis: neither replay nor save counterexamples")
    parser.add_argument("--no-shrink", action="store_true",
                        help="report the first violating run as found, not minimised")
    parser.add_argument("--shrink-budget", type=bounded(float, 0, 86_400), default=None,
                        metavar="SECONDS",
                        help="--program: how long the minimiser may replay runs (each starts "
                             f"processes; default {DEFAULT_SHRINK_BUDGET_S:g})")
    parser.add_argument("--from", dest="from_file", type=Path, default=None, metavar="FILE",
                        help="shrink the run of a replay file (e.g. a wild capture) to the "
                             "shortest story instead of searching")
    parser.add_argument("--trust-file", action="store_true",
                        help="--from: run the user enactor or the program the file names "
                             "(without this, --enactor NAME or --program COMMAND, a file that "
                             "names code is refused)")


# The search's own flags: given (not None) they say how to search, which --from does not do.
SEARCH_DEFAULTS: dict[str, Any] = {
    "strategy": "hypothesis", "max_runs": 10_000, "max_states": DEFAULT_MAX_STATES,
    "reductions": ",".join(DEFAULT_REDUCTIONS), "seed": 0, "depth": 3, "transport": "memory",
    "workers": None, "cluster": None, "database": None, "no_database": False,
    "no_shrink": False, "preemptions": None,
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _search_flags_given(args: argparse.Namespace) -> list[str]:
    return [_flag(name) for name, default in SEARCH_DEFAULTS.items()
            if getattr(args, name, default) not in (None, False)]


def _resolve_defaults(args: argparse.Namespace) -> None:
    for name, default in SEARCH_DEFAULTS.items():
        if getattr(args, name, None) is None:
            setattr(args, name, default)


def check_explore_arguments(args: argparse.Namespace) -> None:
    """Every flag that cannot work, as a `UsageError`, before anything starts."""
    if args.max_runs < 1:
        raise UsageError(f"--max-runs {args.max_runs}: need at least 1 execution")
    if args.max_states < 1:
        raise UsageError(f"--max-states {args.max_states}: need at least 1 state")
    if args.transport != "memory" and getattr(args, "program", None) is not None:
        raise UsageError("--program runs over --transport memory: the programs' own messages "
                         "are real (their listeners), the zone behind them is in process")
    try:  # the search's own checks, with the flags' names
        check_depth(args.depth, name="--depth")
        if args.workers is not None:
            check_workers(args.workers, name="--workers")
        check_transport(args.strategy, args.transport)
        check_preemptions(args.strategy, args.preemptions, getattr(args, "cluster", None),
                          name="--preemptions")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "cluster", None) is not None:
        if args.strategy != "bfs":
            raise UsageError(f"--cluster runs --strategy bfs only, not {args.strategy}; the "
                             "samplers and hypothesis use the cores of one machine "
                             "(--workers N)")
        if args.workers is not None:
            raise UsageError("--cluster puts one share on each worker of the cluster: drop "
                             "--workers (start more dask workers for more shares)")
        _check_cluster_address(args.cluster)
    unknown = [r for r in reductions_of(args) if r not in REDUCTIONS]
    if unknown:
        raise UsageError(f"--reductions {args.reductions!r}: unknown {', '.join(unknown)}; "
                         f"choose among {', '.join(REDUCTIONS)}, comma-separated, or 'none'")


DASK_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def _check_cluster_address(address: str) -> None:
    """A scheme Dask does not speak, said at once: `http://` is the dashboard's, an easy mix-up
    that Dask itself reports after its connect timeout, as a long traceback."""
    scheme, sep, _ = address.partition("://")
    if sep and scheme.lower() not in DASK_SCHEMES:
        hint = (" (that is the dashboard's web address; the scheduler listens on tcp://, port "
                "8786 by default)" if scheme.lower() in ("http", "https") else "")
        raise UsageError(f"--cluster {address}: Dask does not speak {scheme}://{hint}; give the "
                         f"scheduler's address, e.g. tcp://127.0.0.1:8786")


CODE_MAX_STATES = 3_000_000
"""The default `--max-states` where enactors are async code or programs: such a state holds a
suspended coroutine's values or a history, about 1.5 KB (the async cas_flip port: 15 GB at 10 M
states, docs/benchmarks.md), where a built-in state machine's is about 100 bytes."""


def runs_its_own_code(config: Config) -> bool:
    """Whether the enactors are programs or async enactors (code whose states the search keeps
    as values of this process, or as histories)."""
    if config.program is not None:
        return True
    return config.enactor is not None and is_async_enactor(load_enactor_class(config.enactor))


def workers_of(args: argparse.Namespace) -> int:
    """`--workers`; else one process for breadth-first search (with the integer engine, a
    split over two cores is slower than one process: docs/benchmarks.md, "All the cores"), and
    all cores for the samplers."""
    if args.workers is not None:
        return int(args.workers)
    if args.strategy == "bfs":
        return 1
    return os.cpu_count() or 1


def reductions_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The reductions `--reductions` names ('none' or '' for none)."""
    text = str(args.reductions).strip()
    if text.lower() == "none":
        return ()
    return tuple(r.strip() for r in text.split(",") if r.strip())


def enactor_error(config: Config, exc: EnactorError, *, step: int | None = None,
                  round_number: int | None = None) -> str:
    """One line for an enactor that broke the contract or raised: which enactor, at which step,
    and what happened (`exc`'s message names the worker and what it returned; for an exception,
    the enactor's own traceback follows). The step is the one the runner put on the error
    (`exc.step`), else `step` as the caller counted it."""
    step = getattr(exc, "step", None) or step
    message = str(exc).removeprefix(f"step {step}: ")
    who = (f"program {config.program!r} (--program)" if config.program is not None
           else f"enactor {config.enactor} (--enactor)" if config.enactor
           else f"the built-in {config.variant} enactor (a bug in the reproducer)")
    where = f" at step {step}" if step is not None else ""
    if round_number is not None:
        where += f" of round {round_number}"
    return f"{who} failed{where}: {message}"


def verdict_of(outcome: Exploration) -> str:
    """What an exploration established: "found" (a counterexample), "proved" (breadth-first
    search checked every reachable state), "bounded proof" (`--preemptions K`: every schedule
    with at most K preemptions was checked, and none broke an invariant), "bounded"
    (breadth-first search stopped at a bound first: nothing found, nothing proved), or "none
    found" (a sampler's runs broke nothing)."""
    if outcome.found:
        return "found"
    if outcome.strategy == "bfs":
        if outcome.exhausted and not outcome.steps_cut:
            return "proved"
        if (outcome.preemptions is not None and not outcome.steps_cut
                and outcome.checked_preemptions == outcome.preemptions):
            return "bounded proof"
        return "bounded"
    return "none found"


def _exit_status(outcome: Exploration) -> int:
    """A bounded proof exits 0: it checked all it was asked to, and nothing broke (its last
    line and JSON say exactly what: `Exploration.checked`)."""
    return {"found": EXIT_FOUND, "bounded": EXIT_BOUNDED}.get(verdict_of(outcome), EXIT_OK)


def _bounds_line(args: argparse.Namespace, config: Config) -> str:
    """What a breadth-first search will stop at, said before it starts."""
    plans = f"{config.plans} plan{'s' if config.plans != 1 else ''}"
    endpoints = f", {config.endpoints} endpoints" if config.endpoints > 1 else ""
    k = args.preemptions
    within = ("" if k is None else
              f" with at most {k} preemption{'s' if k != 1 else ''} (--preemptions)")
    return (f"bfs: every schedule{within} of {config.label} with {config.enactors} "
            f"enactors{endpoints} and {plans}, up to {config.max_steps} steps (--max-steps) "
            f"and {args.max_states:,} states (--max-states); a search that reaches a bound "
            "proves nothing (exit 3)")


def _explore_on_cluster(args: argparse.Namespace, config: Config,
                        progress: Callable[[str], None] | None) -> Exploration:
    """`--cluster ADDRESS`: bfs on a running Dask cluster; a cluster that cannot be used (or
    Dask not installed) is a `UsageError`. Nothing of Dask is imported without --cluster."""
    with contextlib.suppress(ImportError):  # (its absence is explore_bfs_on_cluster's to say)
        import distributed  # noqa: F401  (sets up its own handler, printing to stderr)

        for handler in logging.getLogger("distributed").handlers:
            handler.setLevel(logging.CRITICAL)  # what went wrong is our one line
    try:
        return explore("bfs", config, cluster=args.cluster, max_states=args.max_states,
                       reductions=reductions_of(args), progress=progress)
    except ClusterError as exc:
        raise UsageError(f"--cluster: {exc}") from None


def main(args: argparse.Namespace, report: Report) -> int:
    """`reproducer explore`: exit 0 when nothing was found, 1 when a counterexample was."""
    if args.shrink_budget is not None:
        program_settings.shrink_budget_s = args.shrink_budget
    if getattr(args, "from_file", None) is not None:
        given = _search_flags_given(args)
        if given:
            raise UsageError(f"--from shrinks the run of a replay file, it does not search: "
                             f"drop {', '.join(given)} (the configuration flags, such as "
                             "--variant, do apply: the file's interleaving is replayed in "
                             "that world)")
        return shrink_from(args, report)
    bound_given = args.max_states is not None
    _resolve_defaults(args)
    config = config_from_args(args)
    if not bound_given and args.strategy == "bfs" and runs_its_own_code(config):
        args.max_states = CODE_MAX_STATES
    check_explore_arguments(args)
    database: Path | Literal["default"] | None = (
        None if args.no_database else args.database if args.database else "default")
    quiet = bool(getattr(args, "json", False))
    progress = None if quiet else report
    if args.strategy == "bfs" and not quiet:
        report(_bounds_line(args, config))
    try:
        if getattr(args, "cluster", None) is not None:
            outcome = _explore_on_cluster(args, config, progress)
        else:
            outcome = explore(args.strategy, config, max_runs=args.max_runs, seed=args.seed,
                              depth=args.depth, transport=args.transport,
                              progress=progress, database=database,
                              max_states=args.max_states, shrink=not args.no_shrink,
                              reductions=reductions_of(args), workers=workers_of(args),
                              preemptions=args.preemptions)
    except EnactorError as exc:
        raise UsageError(enactor_error(config, exc)) from None
    except WorkersLost as exc:
        raise UsageError(str(exc)) from None
    replay_path: Path | None = None
    if outcome.found and outcome.result is not None:
        replay_path = save_replay(args.out, outcome.result)
    if quiet:
        data = outcome.to_json()
        data["replay"] = str(replay_path) if replay_path else None
        data["verdict"] = verdict_of(outcome)
        report(json.dumps(data))
        return _exit_status(outcome)
    for worker, why in outcome.by_history:
        report(f"{outcome.strategy}: {worker} was told by its history of answers, not by its "
               f"state ({why}): histories that reach the same state were not merged")
    if not outcome.found or outcome.result is None:
        verdict = verdict_of(outcome)
        what = (f"{outcome.states:,} states ({outcome.steps_expanded:,} steps expanded; "
                f"reductions: {', '.join(outcome.reductions) or 'none'}{_split(outcome)}); "
                + ("every reachable state within the bounds was checked" if outcome.exhausted
                   else f"{outcome.checked} checked" if verdict == "bounded proof"
                   else "the state bound cut the search short")
                if outcome.strategy == "bfs" else f"{outcome.executions:,} executions")
        report(f"{outcome.strategy}: no invariant broken in {config.label} — "
               f"{what}, {outcome.seconds:.1f}s")
        if verdict == "bounded proof":
            k = outcome.preemptions
            assert k is not None
            report(f"bounded proof: {outcome.checked}, and none broke an invariant (a schedule "
                   f"with more preemptions was not checked: --preemptions {k + 1} checks more, "
                   "and without --preemptions every schedule is)")
        elif outcome.preemptions is not None and not outcome.exhausted and (
                outcome.states is not None and outcome.states >= args.max_states):
            done = (f"; {outcome.checked} was checked" if outcome.checked else "")
            report(f"NOT PROVED: the search stopped at {outcome.states:,} states "
                   f"(--max-states {args.max_states:,}) before it had checked every schedule "
                   f"with at most {outcome.preemptions} preemptions{done}; raise --max-states, "
                   "or lower --preemptions")
        elif verdict == "bounded" and not outcome.exhausted:
            report(f"NOT PROVED: the search stopped at {outcome.states:,} states "
                   f"(--max-states {args.max_states:,}) with states left to check; raise "
                   "--max-states, or prove a smaller world (--enactors, --plans)")
        elif verdict_of(outcome) == "bounded":
            report(f"NOT PROVED: runs longer than {config.max_steps} steps (--max-steps) were "
                   "not checked, and some states at that bound could still move; raise "
                   "--max-steps")
        return _exit_status(outcome)
    result = outcome.result
    for line in format_trace(result):
        report(line)
    v = result.violation
    assert v is not None
    story = (f"{outcome.strategy}: invariant {v.invariant} broken — {v.title} — after "
             + (f"{outcome.steps_expanded:,} steps expanded (reductions: "
                f"{', '.join(outcome.reductions) or 'none'}{_split(outcome)})"
                if outcome.strategy == "bfs"
                else f"{outcome.executions:,} executions")
             + f", {outcome.seconds:.1f}s; shortest story "
             f"found: {result.length} steps")
    if outcome.found_steps is not None and outcome.found_steps != result.length:
        story += f" (the first violating run had {outcome.found_steps} steps)"
    if outcome.states is not None:
        story += f"; {outcome.states:,} states"
    if outcome.found_preemptions is not None:
        k = outcome.found_preemptions
        story += (f"; it needs {k} preemption{'s' if k != 1 else ''}, and "
                  f"{outcome.checked or 'no schedule'} was checked first")
    report(story)
    if config.program is not None and outcome.strategy != "bfs" and not args.no_shrink:
        report(programs_minimised(outcome.minimise_runs, outcome.minimise_cut))
    report(f"replay file: {replay_path}")
    report(f"replay it:   {replay_command(args.out, config)}")
    return EXIT_FOUND


def programs_minimised(runs: int, out_of_time: bool) -> str:
    """What the minimiser did with programs (`reproducer.search.minimise`)."""
    budget = (f"stopped at its time budget of {program_settings.shrink_budget_s:g} s, "
              "--shrink-budget" if out_of_time else "every local pass finished")
    return (f"minimised by {runs:,} replays ({budget}); with programs there is no "
            "breadth-first check (each state it expands would start a process): the story is "
            "locally minimal, not proved shortest")


def _split(outcome: Exploration) -> str:
    """How a breadth-first search was split, if it was."""
    return f"; split over {outcome.workers} workers" if outcome.workers > 1 else ""


def shrink_from(args: argparse.Namespace, report: Callable[[str], None]) -> int:
    """`reproducer explore --from FILE`: the run a replay file holds (a wild capture, or any
    other), shrunk to the shortest story (`reproducer.search.minimise`)."""
    path: Path = args.from_file
    replay = load_replay(path, **trusted_code(args))
    config = config_from_args(args, replay.config)
    found = run_under(replay, config, path=path)
    v = found.violation
    quiet = bool(getattr(args, "json", False))
    other = "" if config == replay.config else f" followed by worker under {config.label}"
    if v is None:
        if config == replay.config:
            raise UsageError(f"{path}: its run breaks no invariant when replayed, so there is "
                             "nothing to shrink; give a file whose run has a violation")
        # A fix checked against a captured interleaving: it holds there. A verdict, not an
        # error: exit 0, as a run that breaks nothing.
        if quiet:
            report(json.dumps({"found": False, "variant": config.label,
                               "from_steps": found.length, "replay": None}))
        else:
            report(f"{path}: its interleaving{other} breaks no invariant in {found.length} "
                   f"steps: nothing to shrink (this one interleaving; explore searches others)")
        return EXIT_OK
    if not quiet:
        report(f"{path}: {found.length} steps{other}, invariant {v.invariant} broken at step "
               f"{v.step}; shrinking to the shortest story ...")
    shrunk = minimise(found)
    result = shrunk.result
    out = save_replay(args.out, result)
    got = result.violation
    assert got is not None
    if quiet:
        report(json.dumps({"found": True, "invariant": got.invariant, "from_steps": found.length,
                           "steps": result.length, "local_steps": shrunk.local_steps,
                           "replays": shrunk.runs, "states": shrunk.states,
                           "replay": str(out)}))
        return EXIT_FOUND
    for line in format_trace(result):
        report(line)
    if shrunk.checked:
        report(f"shortest story: {result.length} steps (from {found.length}; the local passes "
               f"reached {shrunk.local_steps} in {shrunk.runs:,} replays, breadth-first search "
               f"checked {shrunk.states:,} states for a shorter one); invariant "
               f"{got.invariant} — {got.title}")
    else:
        report(f"story: {result.length} steps (from {found.length}); invariant {got.invariant}"
               f" — {got.title}")
        report(programs_minimised(shrunk.runs, shrunk.out_of_time))
    report(f"replay file: {out}")
    report(f"replay it:   {replay_command(out, config)}")
    return EXIT_FOUND


COMMAND = Command("explore", "search for a schedule that breaks an invariant", add_arguments,
                  main)
