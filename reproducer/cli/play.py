"""`reproducer play`: be the scheduler, in a browser (its flags; the server is
`reproducer.play`)."""

from __future__ import annotations

import argparse
import asyncio
import json

from reproducer.cli.parsing import EXIT_OK, Command, Report, UsageError, bounded, config_from_args
from reproducer.play import make_app, serve

__all__ = ["COMMAND"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=bounded(int, 0, 65535), default=0,
                   help="port on 127.0.0.1 (default 0: any free port; the URL is printed)")
    p.add_argument("--max-worlds", type=bounded(int, 1, 1000), default=32,
                   help="learners' worlds at once, each with its own DNS server (default 32)")
    p.add_argument("--idle-minutes", type=bounded(float, 0.1, 24 * 60), default=15.0,
                   help="a world idle this long is closed (default 15)")
    p.add_argument("--guide-states", type=bounded(int, 1_000, 10_000_000), default=200_000,
                   help="the most states the guide's breadth-first search visits (default "
                        "200000)")


def main(args: argparse.Namespace, report: Report) -> int:
    """Serve until Ctrl-C. A user enactor that cannot be loaded, or a port that cannot be had,
    is a one-line error (exit 2)."""
    free = config_from_args(args)
    if free.program is not None:
        raise UsageError("play moves the built-in enactors or your --enactor by hand in a "
                         "browser; --program runs with run, replay, explore and wild")
    free.initial_workers()  # a user enactor that cannot be loaded fails here, in one line
    app = make_app(free, max_worlds=args.max_worlds, idle_s=args.idle_minutes * 60,
                   guide_states=args.guide_states)

    def ready(url: str) -> None:
        if args.json:
            report(json.dumps({"url": url, "free": free.to_json()}))
        else:
            report(f"play the scheduler at {url}  (free play: {free.label}; Ctrl-C stops)")

    try:
        asyncio.run(serve(app, args.port, ready))
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}; choose "
                         "another --port (0: any free port)") from None
    return EXIT_OK


COMMAND = Command("play", "be the scheduler: a page on 127.0.0.1 where you pick who moves "
                  "next, over real DNS", add_arguments, main)
