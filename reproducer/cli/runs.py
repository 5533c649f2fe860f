"""What `run` and `replay` share: the flags of one run, executing it over a transport, and what
it prints."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reproducer.cli.explore import enactor_error
from reproducer.cli.parsing import (
    EXIT_FOUND,
    EXIT_OK,
    Report,
    UsageError,
    host_port,
    output_file,
)
from reproducer.running.choices import ChoiceSource
from reproducer.running.core import EnactorError
from reproducer.running.replay import save_replay
from reproducer.running.simulation import run_memory
from reproducer.running.trace import RunResult, Step
from reproducer.running.transport import parse_tsig_key, run_against, run_real
from reproducer.telling.narrate import format_step, format_trace, write_trace
from reproducer.telling.report import write_report
from reproducer.world.config import Config

__all__ = ["add_run_flags", "execute"]


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


def add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--transport", choices=("real", "memory"), default=None,
                   help="real: TSIG-signed UDP to fake_dns (the default); memory: in-process "
                        "(the default, and the only one, with --program)")
    p.add_argument("--dns", type=host_port, default=None, metavar="HOST:PORT",
                   help="a running fake-dns (default: start one in-process on 127.0.0.1:0)")
    p.add_argument("--tsig-key", default=None, metavar="NAME:BASE64SECRET",
                   help="the update key of the --dns server")
    p.add_argument("--trace", type=output_file, default=Path("reports/trace.json"),
                   help="where to write the trace as JSON (default reports/trace.json)")
    p.add_argument("--report", type=output_file, default=Path("reports/run.html"),
                   help="where to write the HTML report of the run (default reports/run.html)")
    p.add_argument("--keep-going", action="store_true",
                   help="do not stop at the first violation (watch the stuck state)")


def transport_of(args: argparse.Namespace, config: Config) -> str:
    """--transport, by default real, or memory for programs (whose messages are real already:
    the zone behind their listeners is in process)."""
    if config.program is None:
        return str(args.transport or "real")
    if args.transport == "real" or args.dns is not None:
        raise UsageError("--program runs over --transport memory: the programs' own messages "
                         "are real (their listeners), the zone behind them is in process; "
                         "drop --transport real and --dns")
    return "memory"


def execute(args: argparse.Namespace, config: Config, choices: ChoiceSource,
             report: Report, expected: dict[str, Any] | None = None) -> int:
    taken = 0
    transport = transport_of(args, config)

    def on_step(step: Step) -> None:
        nonlocal taken
        taken += 1
        if not args.json:
            report(format_step(step))

    try:
        result = asyncio.run(_run_transport(config, choices, transport, args.dns,
                                            args.tsig_key, not args.keep_going, on_step))
    except EnactorError as exc:  # the step it failed in is the one after the last reported
        raise UsageError(enactor_error(config, exc, step=taken + 1)) from None
    trace_path = write_trace(args.trace, result)
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
