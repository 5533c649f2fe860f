"""`fake-dns` / `python -m fake_dns`: run the authoritative server until SIGINT or SIGTERM.

    fake-dns --zone example.test --tsig-key enactor:$(head -c32 /dev/urandom | base64)

Prints one line once both sockets are bound ("fake-dns listening on HOST:PORT (udp+tcp)"), then,
with --route53 HOST:PORT, a second ("fake-dns Route 53 API on http://HOST:PORT"), and logs every
update to stderr. The Route 53 API serves the same zones from the same store and journal.

Exit status (`EXIT_STATUSES`, also at the end of --help), the rule `reproducer` and `fake-lb`
follow: 0 stopped by SIGINT or SIGTERM, the way a server is meant to stop; 2 it never served:
a bad flag, a zone, key or journal file it cannot use, or an address it cannot listen on (one
line on stderr, "fake-dns: error: ..."). A server judges nothing, so it has no status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from fake_dns._config import ConfigError, load_key_file, load_zone_file, parse_tsig_key
from fake_dns._journal import JournalError
from fake_dns._route53_http import Route53Server
from fake_dns._server import DNSServer
from fake_dns._zone import Zone, ZoneStore

__all__ = ["main"]

ENV_KEY = "FAKE_DNS_TSIG_KEY"
EXIT_OK = 0
EXIT_USAGE = 2

EXIT_STATUSES = """\
exit status:
  0    stopped by SIGINT or SIGTERM (the way to stop it)
  2    it never served: a bad flag, a zone, key or journal file it cannot use, or an address
       it cannot listen on (one line on stderr: "fake-dns: error: ...")"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: what was wrong and where to look.
        self.exit(EXIT_USAGE, f"fake-dns: error: {message} (see fake-dns --help)\n")


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 127.0.0.1:5353, got "
                                         f"{value!r}")
    return host.strip("[]"), int(port)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fake-dns", description="An authoritative DNS server with RFC 2136 "
                "dynamic updates signed by TSIG (HMAC-SHA256), on UDP and TCP.",
                epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", type=_listen, default=("127.0.0.1", 5353), metavar="HOST:PORT",
                   help="address for UDP and TCP (default 127.0.0.1:5353; port 0 = any free)")
    p.add_argument("--zone", action="append", default=[], metavar="NAME",
                   help="serve an empty zone (SOA and one NS); repeatable")
    p.add_argument("--zone-file", action="append", default=[], type=Path, metavar="PATH",
                   help="serve a zone from an RFC 1035 master file; repeatable")
    p.add_argument("--tsig-key", action="append", default=[], metavar="NAME:BASE64SECRET",
                   help=f"an HMAC-SHA256 key allowed to update; repeatable; also ${ENV_KEY}")
    p.add_argument("--tsig-key-file", action="append", default=[], type=Path, metavar="PATH",
                   help="a BIND key file (tsig-keygen -a hmac-sha256 NAME)")
    p.add_argument("--route53", type=_listen, metavar="HOST:PORT",
                   help="also serve a Route 53 API (2013-04-01) for the same zones here, for "
                        "boto3 and the AWS CLI with AWS_ENDPOINT_URL_ROUTE_53=http://HOST:PORT "
                        "and any credentials (port 0 = any free)")
    p.add_argument("--journal", type=Path, metavar="PATH",
                   help="write each update here (fsync'd before it commits; SERVFAIL when "
                        "it cannot be written) and replay it at start")
    p.add_argument("--journal-repair", action="store_true",
                   help="when a journal line is damaged, start from the lines before it and "
                        "move it and the rest to PATH.damaged (nothing is deleted)")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default INFO")
    return p


def _configure(args: argparse.Namespace) -> tuple[ZoneStore, dict[str, bytes]]:
    store = ZoneStore()
    try:
        for name in args.zone:
            store.add_zone(Zone.empty(name))
        for path in args.zone_file:
            store.add_zone(load_zone_file(path))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not store.zones:
        raise ConfigError("no zone to serve: give --zone NAME or --zone-file PATH")
    keys: dict[str, bytes] = {}
    if os.environ.get(ENV_KEY):
        for spec in os.environ[ENV_KEY].split(","):
            name, secret = parse_tsig_key(spec, f"${ENV_KEY}")
            keys[name] = secret
    for path in args.tsig_key_file:
        keys.update(load_key_file(path))
    for spec in args.tsig_key:
        if ":" not in spec and ("/" in spec or Path(spec).is_file()):
            raise ConfigError(f"--tsig-key {spec}: that is a file; a key file is given with "
                              f"--tsig-key-file {spec} (--tsig-key takes NAME:BASE64SECRET)")
        name, secret = parse_tsig_key(spec)
        keys[name] = secret
    return store, keys


class _ListenError(Exception):
    """An address the server cannot listen on: args are (the address, why)."""


async def _serve(server: DNSServer, route53: tuple[str, int] | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(server)
        except OSError as exc:
            raise _ListenError(f"{server.host}:{server.port}", exc.strerror or exc) from None
        api: Route53Server | None = None
        if route53 is not None:
            host, port = route53
            try:  # after the DNS server: its start replays the journal into the store
                api = await stack.enter_async_context(Route53Server(server.store, host, port))
            except OSError as exc:  # aiohttp words it as "error while attempting to bind ..."
                why = os.strerror(exc.errno) if exc.errno else str(exc)
                raise _ListenError(f"{host}:{port} (--route53)", why) from None
        print(f"fake-dns listening on {server.host}:{server.port} (udp+tcp)", flush=True)
        if api is not None:
            print(f"fake-dns Route 53 API on {api.endpoint_url}", flush=True)
        await stop.wait()
        logging.getLogger("fake_dns").info("signal received, shutting down")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.journal_repair and args.journal is None:
        parser.error("--journal-repair needs --journal PATH")
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        store, keys = _configure(args)
    except ConfigError as exc:
        print(f"fake-dns: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not keys:
        logging.getLogger("fake_dns").warning(
            "no TSIG key given (--tsig-key, --tsig-key-file or $%s): every DNS UPDATE will be "
            "refused", ENV_KEY)
    host, port = args.listen
    server = DNSServer(store, host, port, tsig_keys=keys, journal=args.journal,
                       journal_repair=args.journal_repair)
    try:
        asyncio.run(_serve(server, args.route53))
    except _ListenError as exc:
        address, why = exc.args
        print(f"fake-dns: error: cannot listen on {address}: {why}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"fake-dns: error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except JournalError as exc:
        print(f"fake-dns: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
