"""`reproducer repair`: the operators' manual repair, the newest plan put back in DNS as one
UPDATE."""

from __future__ import annotations

import argparse
import asyncio
import json

from reproducer.cli.parsing import (
    EXIT_FOUND,
    EXIT_OK,
    Command,
    Report,
    UsageError,
    config_from_args,
    host_port,
)
from reproducer.running.transport import DnsTransport, parse_tsig_key
from reproducer.world.repair import repair_plan, repair_update

__all__ = ["COMMAND"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dns", type=host_port, required=True, metavar="HOST:PORT")
    p.add_argument("--tsig-key", required=True, metavar="NAME:BASE64SECRET")
    p.add_argument("--addresses", type=lambda s: [a for a in s.split(",") if a], default=[],
                   help="addresses for the restored plan (default: the configured plan)")


def main(args: argparse.Namespace, report: Report) -> int:
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


COMMAND = Command("repair", "the operators' manual repair: newest plan back in DNS",
                  add_arguments, main)
