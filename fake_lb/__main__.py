"""`python -m fake_lb` / `fake-lb`: run a fleet of backends and LBs, or send traffic.

    fake-lb --dns 127.0.0.1:5353 --backends 3 --lbs 2 [--json | --ready-file F] [--stdin-control]
            [--work-slots N --service-ms MS [--max-waiting N]]
    fake-lb traffic --lb http://127.0.0.101:PORT --rate 100 --duration 10 [--json-out F]

The fleet prints one line per node (flushed) and a "ready" line, then runs until SIGINT or
SIGTERM, `--duration` seconds, or (with --stdin-control) the end of its stdin. With
--stdin-control it also obeys the commands "stop <address>" and "start <address>" (a backend),
answering each with one JSON line.

Exit status (`EXIT_STATUSES`, also at the end of --help): 0 the fleet ran and stopped as asked
(a signal, --duration, the end of stdin) / every request of `traffic` succeeded; 1 some request
of `traffic` failed; 2 nothing ran: a bad flag, or an address that cannot be listened on (one
line on stderr, "fake-lb: error: ..."); 130 interrupted (Ctrl-C during `traffic`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import signal
import sys
import urllib.parse
from collections.abc import Sequence
from typing import IO, Any, NoReturn

from fake_lb._fleet import FIRST_BACKEND, FIRST_LB, Fleet, FleetInfo
from fake_lb._lb import DEFAULT_ENDPOINT
from fake_lb._net import ListenError
from fake_lb._resolve import DnsFailure, DnsResolver, FailureKind
from fake_lb._traffic import IntervalStats, TrafficPlan, run_traffic
from fake_lb._work import WorkLimit

log = logging.getLogger("fake_lb.cli")

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DNS_CHECK_S = 1.0  # how long the start waits for --dns to answer before warning

EXIT_STATUSES = """\
exit status:
  0    the fleet ran and stopped as asked (a signal, --duration, the end of stdin);
       traffic: every request succeeded
  1    traffic: at least one request failed (the total line says why)
  2    nothing ran: a bad flag, or an address that cannot be listened on
       (one line on stderr: "fake-lb: error: ...")
  130  interrupted (Ctrl-C during traffic)"""


class Reporter:
    """The one place the CLI writes to the terminal (tests pass their own stream)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self._live = False

    def line(self, text: str) -> None:
        if self._live:
            self.out.write("\n")
            self._live = False
        self.out.write(text + "\n")
        self.out.flush()

    def live(self, text: str) -> None:
        """Rewrite the current line on a terminal; a plain line per update otherwise."""
        if not self.out.isatty():
            self.line(text)
            return
        self.out.write("\r\x1b[2K" + text)
        self.out.flush()
        self._live = True


class _Parser(argparse.ArgumentParser):
    def __init__(self, prog: str, description: str) -> None:
        super().__init__(prog=prog, description=description, epilog=EXIT_STATUSES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)

    def error(self, message: str) -> NoReturn:
        # One clear line and exit status 2, not the usage block.
        self.exit(EXIT_USAGE, f"fake-lb: error: {message} (see {self.prog} --help)\n")


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
        if not sep or not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected HOST:PORT with an IP address and a port 1-65535, got {text!r}") from None
    return host, number


def _count(text: str) -> int:
    try:
        value = int(text)
        if not 0 <= value <= 100:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count 0-100, got {text!r}") from None
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
        if not 0 <= value < 65536:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a port 0-65535 (0: choose a free one), got {text!r}") from None
    return value


def _milliseconds(text: str) -> float:
    """Milliseconds on the command line, seconds inside."""
    try:
        value = float(text)
        if not 0 <= value <= 60_000:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected milliseconds 0-60000, got {text!r}") from None
    return value / 1000


def _positive(text: str) -> float:
    try:
        value = float(text)
        if not value > 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    return value


def _lb_url(text: str) -> str:
    """An LB base URL. A bare HOST:PORT is refused rather than guessed at: every request to it
    would fail as "lb-unreachable" and the run would look like an outage."""
    example = "http://127.0.0.101:8080"
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        hint = f"; write http://{text}" if "://" not in text else ""
        raise argparse.ArgumentTypeError(
            f"expected an LB base URL such as {example}, got {text!r}{hint}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not 0-65535
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an LB base URL such as {example}, got {text!r} (bad port)") from None
    return text


def _fleet_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fake-lb", description="Run N backends and M load balancers on loopback.")
    p.add_argument("--dns", type=_host_port, required=True, metavar="HOST:PORT",
                   help="the fake_dns server the LBs resolve through")
    p.add_argument("--backends", type=_count, default=3, metavar="N")
    p.add_argument("--lbs", type=_count, default=1, metavar="M")
    p.add_argument("--name", default=DEFAULT_ENDPOINT, help="the endpoint the LBs resolve")
    p.add_argument("--backend-port", type=_port, default=0, help="shared by all backends")
    p.add_argument("--lb-port", type=_port, default=0, help="shared by all LBs")
    p.add_argument("--first-backend", default=FIRST_BACKEND, metavar="ADDRESS")
    p.add_argument("--first-lb", default=FIRST_LB, metavar="ADDRESS")
    p.add_argument("--force-close", action="store_true", help="no keep-alive to backends")
    p.add_argument("--work-slots", type=_count, default=0, metavar="N",
                   help="each backend works on at most N /items requests at once "
                        "(default 0: no bound)")
    p.add_argument("--service-ms", type=_milliseconds, default=0.0, metavar="MS",
                   help="each /items request holds its slot this long (with --work-slots)")
    p.add_argument("--max-waiting", type=_count, default=None, metavar="N",
                   help="beyond N waiting requests a backend answers 503 backend-busy "
                        "(default: the line is unbounded)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    p.add_argument("--ready-file", metavar="PATH",
                   help="write the fleet as JSON to PATH (atomically) once it listens")
    p.add_argument("--stdin-control", action="store_true",
                   help="stop when stdin closes; obey 'stop ADDRESS' / 'start ADDRESS'")
    p.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds")
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return p


def _traffic_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fake-lb traffic", description="Send bounded traffic through the LBs.")
    p.add_argument("--lb", action="append", required=True, metavar="URL", type=_lb_url,
                   help="an LB base URL such as http://127.0.0.101:8080 (repeat for several)")
    p.add_argument("--rate", type=_positive, default=50.0, help="requests per second")
    p.add_argument("--duration", type=_positive, default=5.0, help="seconds of sending")
    p.add_argument("--interval", type=_positive, default=1.0, help="seconds per report line")
    p.add_argument("--timeout", type=_positive, default=2.0, help="seconds per request")
    p.add_argument("--json-out", metavar="PATH", help="write the per-interval report as JSON")
    return p


def _write_atomically(path: str, data: dict[str, Any]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


async def _control(fleet: Fleet, reporter: Reporter, stop: asyncio.Event) -> None:
    """Obey commands on stdin; its end (the parent went away) stops the fleet."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := (await reader.readline()).decode().strip():
            verb, _, address = line.partition(" ")
            reply: dict[str, Any] = {"command": line}
            try:
                if verb == "stop":
                    await fleet.stop_backend(address)
                elif verb == "start":
                    await fleet.start_backend(address)
                else:
                    raise KeyError(f"unknown command {verb!r}: expected 'stop ADDRESS' or "
                                   "'start ADDRESS'")
            except (KeyError, OSError) as exc:
                reply["error"] = str(exc)
            reporter.line(json.dumps(reply))
    finally:
        transport.close()
        stop.set()


async def _run_fleet(fleet: Fleet, args: argparse.Namespace, reporter: Reporter) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with fleet:
            info = fleet.info
            if args.ready_file:  # before the ready line: whoever reads it finds the file
                _write_atomically(args.ready_file, info.to_json())
            _announce(info, args.json, reporter)
            await _check_dns(info, reporter)
            control = (asyncio.create_task(_control(fleet, reporter, stop))
                       if args.stdin_control else None)
            try:
                async with asyncio.timeout(args.duration):
                    await stop.wait()
            except TimeoutError:
                pass
            finally:
                if control is not None:
                    control.cancel()
                    await asyncio.gather(control, return_exceptions=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if not args.json:
        reporter.line("stopped")
    return EXIT_OK


async def _check_dns(info: FleetInfo, reporter: Reporter) -> None:
    """Say at once when nothing answers at --dns: the fleet runs (it follows the server when
    it comes back), but until then every request fails with 503."""
    host, port = info.dns_server
    async with DnsResolver((host, port), timeout_s=DNS_CHECK_S) as resolver:
        outcome = await resolver.lookup(info.endpoint)
    if isinstance(outcome, DnsFailure) and outcome.kind is FailureKind.NO_ANSWER:
        print(f"fake-lb: warning: nothing answers DNS at {host}:{port} (no reply within "
              f"{DNS_CHECK_S:g} s); until it does, every request fails with 503 "
              f"({outcome.kind.value})", file=sys.stderr, flush=True)


def _announce(info: FleetInfo, as_json: bool, reporter: Reporter) -> None:
    dns = f"{info.dns_server[0]}:{info.dns_server[1]}"
    for node in info.backends + info.lbs:
        if as_json:
            reporter.line(json.dumps({"event": "listening", **node.to_json()}))
        elif node.role == "backend":
            reporter.line(f"backend {node.url}")
        else:
            reporter.line(f"lb      {node.url} -> {info.endpoint} via dns {dns}, "
                          f"backends on port {info.backend_port}")
    if as_json:
        reporter.line(json.dumps({"event": "ready", "fleet": info.to_json()}))
    else:
        reporter.line(f"ready: {len(info.backends)} backends, {len(info.lbs)} lbs "
                      "(Ctrl-C to stop)")


async def _run_traffic(plan: TrafficPlan, args: argparse.Namespace, reporter: Reporter) -> int:
    def show(stats: IntervalStats) -> None:
        reporter.live(stats.line())

    report = await run_traffic(args.lb, plan, on_interval=show)
    failures = ", ".join(f"{k} {v}" for k, v in report.failures().items()) or "none"
    reporter.line(f"total: sent {report.sent}, ok {report.succeeded}, failures: {failures}")
    if args.json_out:
        _write_atomically(args.json_out, report.to_json())
    return EXIT_OK if report.succeeded == report.sent else EXIT_FAILURES


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    reporter = Reporter(out or sys.stdout)
    traffic = bool(argv) and argv[0] == "traffic"
    parser = _traffic_parser() if traffic else _fleet_parser()
    args = parser.parse_args(argv[1:] if traffic else argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    try:  # values are checked here, before anything starts
        if traffic:
            plan = TrafficPlan(args.rate, args.duration, args.interval, args.timeout)
        else:
            fleet = Fleet(args.dns, backends=args.backends, lbs=args.lbs, endpoint=args.name,
                          backend_port=args.backend_port, lb_port=args.lb_port,
                          first_backend=args.first_backend, first_lb=args.first_lb,
                          force_close=args.force_close,
                          work=WorkLimit(args.work_slots, args.service_ms, args.max_waiting))
    except ValueError as exc:  # a combination of flags that cannot work
        print(f"fake-lb: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if traffic:
            return asyncio.run(_run_traffic(plan, args, reporter))
        return asyncio.run(_run_fleet(fleet, args, reporter))
    except ListenError as exc:  # the port asked for is taken
        flag = "--lb-port" if "load balancers" in exc.role else "--backend-port"
        print(f"fake-lb: error: {exc}; choose another {flag} (0: any free port)",
              file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"fake-lb: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
