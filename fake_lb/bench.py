"""`python -m fake_lb.bench` (`make bench-lb`): what one LB costs, and how fast it feels DNS.

1. Speed: the same closed-loop load (PUT and GET of items, `--concurrency` requests in
   flight, `--seconds` long, at most `--max-requests`) sent straight to one backend, then
   through one LB to that backend. The LB and the backend are separate processes (two fleets),
   so each one's peak RSS (VmHWM from /proc) is its own; it is read after each phase.
2. Following DNS: with the LB's cache warm, an UPDATE empties the record; the delay is from the
   UPDATE's acknowledgement to the first request that fails with "dns-empty-answer". With a
   TTL of T seconds it lies in [0, T]: the cached answer is used until it expires. Repeated
   `--rounds` times, restoring the record in between.

The load generator runs in this process, so on a small machine it competes with the LB and the
backend for cores: read the ratio, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import dns.asyncquery
import dns.rcode
import dns.tsig
import dns.update

import fake_dns
from fake_lb._fleet import FleetProcess
from fake_lb._lb import DEFAULT_ENDPOINT, REASON_HEADER

ZONE = "us-east-1.amazonaws.com."
KEY_NAME = "bench."
SECRET = b"fake-lb-bench-secret-0123456789ab"
TREE = f"g0001.dynamodb.plans.{ZONE}"


@dataclass(frozen=True, slots=True)
class SpeedResult:
    path: str  # "direct" or "through-lb"
    requests: int
    errors: int
    seconds: float
    requests_per_s: float
    backend_vmhwm_kib: int
    lb_vmhwm_kib: int


def vmhwm_kib(pid: int) -> int:
    """Peak resident set size of `pid` (VmHWM in /proc/<pid>/status), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


async def update(dns_port: int, build: Callable[[dns.update.UpdateMessage], None]) -> None:
    keyring = {dns.name.from_text(KEY_NAME): dns.tsig.Key(KEY_NAME, SECRET)}
    message = dns.update.UpdateMessage(ZONE, keyring=keyring, keyalgorithm=dns.tsig.HMAC_SHA256)
    build(message)
    reply = await dns.asyncquery.udp(message, "127.0.0.1", port=dns_port, timeout=2)
    if reply.rcode() != dns.rcode.NOERROR:
        raise RuntimeError(f"UPDATE refused: {dns.rcode.to_text(reply.rcode())}")


async def publish(dns_port: int, addresses: Sequence[str], ttl_s: int) -> None:
    def build(m: dns.update.UpdateMessage) -> None:
        m.replace(TREE, ttl_s, "TXT", '"plan 1"')
        m.replace(TREE, ttl_s, "A", *addresses)
        m.replace(DEFAULT_ENDPOINT + ".", ttl_s, "CNAME", TREE)
    await update(dns_port, build)


async def closed_loop(base_url: str, seconds: float, concurrency: int,
                      max_requests: int) -> tuple[int, int, float]:
    """(requests, errors, elapsed seconds) of `concurrency` workers sending back to back."""
    sent = 0
    errors = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0, use_dns_cache=False)
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        async def worker(w: int) -> None:
            nonlocal sent, errors
            n = 0
            while time.monotonic() < deadline and sent < max_requests:
                sent += 1
                n += 1
                try:
                    if n % 2:
                        ctx = http.put(f"{base_url}/items/w{w}-{n}", data=b"v")
                    else:
                        ctx = http.get(f"{base_url}/items/w{w}-{n - 1}")
                    async with ctx as reply:
                        await reply.read()
                        errors += reply.status >= 500
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
        started = time.monotonic()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return sent, errors, time.monotonic() - started


async def delay_to_first_failure(dns_port: int, lb_url: str, addresses: Sequence[str],
                                 ttl_s: int) -> float:
    """Seconds from the acknowledged UPDATE that empties the record to the first request that
    fails with the empty-answer reason (bounded: gives up after TTL + 5 s)."""
    await publish(dns_port, addresses, ttl_s)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        # Warm the LB's cache: wait for a success on the restored record.
        give_up = time.monotonic() + ttl_s + 5
        while True:
            async with http.get(f"{lb_url}/items/warm") as reply:
                await reply.read()
                if reply.status < 500:
                    break
            if time.monotonic() > give_up:
                raise RuntimeError("the LB never saw the restored record")
        await update(dns_port, lambda m: m.delete(TREE, "A"))
        emptied = time.monotonic()
        while time.monotonic() < emptied + ttl_s + 5:
            async with http.get(f"{lb_url}/items/probe") as reply:
                await reply.read()
                if reply.headers.get(REASON_HEADER) == "dns-empty-answer":
                    return time.monotonic() - emptied
    raise RuntimeError(f"no empty-answer failure within {ttl_s + 5} s of emptying the record")


async def bench(seconds: float, concurrency: int, max_requests: int, ttl_s: int,
                rounds: int) -> tuple[list[SpeedResult], list[float]]:
    store = fake_dns.ZoneStore([fake_dns.Zone.empty(ZONE, ttl=max(ttl_s, 1))])
    async with fake_dns.DNSServer(store, tsig_keys={KEY_NAME: SECRET}) as server:
        dns_server = ("127.0.0.1", server.port)
        async with FleetProcess(dns_server, backends=1, lbs=0) as backends:
            backend = backends.info.backends[0]
            await publish(server.port, [backend.address], ttl_s)
            async with FleetProcess(dns_server, backends=0, lbs=1,
                                    backend_port=backend.port) as lbs:
                lb = lbs.info.lbs[0]
                results = []
                for path, url in (("direct", backend.url), ("through-lb", lb.url)):
                    n, errors, elapsed = await closed_loop(url, seconds, concurrency,
                                                           max_requests)
                    results.append(SpeedResult(path, n, errors, round(elapsed, 3),
                                               round(n / elapsed, 1), vmhwm_kib(backend.pid),
                                               vmhwm_kib(lb.pid)))
                delays = [await delay_to_first_failure(server.port, lb.url, [backend.address],
                                                       ttl_s) for _ in range(rounds)]
    return results, delays


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fake_lb.bench", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=3.0, help="length of each speed phase")
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    p.add_argument("--max-requests", type=int, default=200_000, help="bound per phase")
    p.add_argument("--ttl", type=int, default=1, help="record TTL in seconds")
    p.add_argument("--rounds", type=int, default=3, help="emptying measurements")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    if not (0 < args.seconds <= 60 and 0 < args.concurrency <= 1024 and 0 <= args.ttl <= 60
            and 0 < args.rounds <= 20):
        p.error("bounds: 0 < --seconds <= 60, 0 < --concurrency <= 1024, 0 <= --ttl <= 60, "
                "0 < --rounds <= 20")
    results, delays = asyncio.run(bench(args.seconds, args.concurrency, args.max_requests,
                                        args.ttl, args.rounds))
    if args.json:
        print(json.dumps({"speed": [asdict(r) for r in results],
                          "empty_delay_s": delays, "ttl_s": args.ttl}))
        return 0
    direct, through = results
    print(f"closed loop, {args.concurrency} in flight, {args.seconds:g} s per phase "
          f"(load generator in this process)")
    print(f"{'path':<12}{'requests':>10}{'errors':>8}{'req/s':>10}"
          f"{'backend VmHWM':>16}{'LB VmHWM':>12}")
    for r in results:
        print(f"{r.path:<12}{r.requests:>10}{r.errors:>8}{r.requests_per_s:>10.0f}"
              f"{r.backend_vmhwm_kib / 1024:>13.1f} MiB{r.lb_vmhwm_kib / 1024:>9.1f} MiB")
    print(f"LB throughput / direct: {through.requests_per_s / direct.requests_per_s:.2f}")
    shown = ", ".join(f"{d * 1000:.0f} ms" for d in delays)
    print(f"UPDATE emptying the record -> first 'dns-empty-answer' (TTL {args.ttl} s): {shown}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("fake-lb bench: interrupted", file=sys.stderr)
        sys.exit(130)
