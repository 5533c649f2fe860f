"""`python -m fake_dns.bench` (`make bench-dns`): fake-dns beside Knot DNS, same zone, same run.

For each server, as a subprocess on 127.0.0.1 with a free port: dnsperf queries for a fixed
duration, then dnsperf TSIG-signed dynamic updates (-u -y hmac-sha256:...), each printed with
the server's peak RSS (VmHWM from /proc/PID/status). Then the round trips of our own
`DNSClient` against an in-process server: signed UPDATEs and queries per second, client and
server sharing one event loop, as the reproducer runs them. Last, the cost of one signed UPDATE
in this process, built, signed, verified and parsed: dnspython against this package's codec
(`--codec` measures only that, and needs neither dnsperf nor knotd).

Every run is bounded (-l seconds) and every server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.tsig
import dns.tsigkeyring
import dns.update

from fake_dns._client import DNSClient
from fake_dns._records import Change, ChangeKind, Update
from fake_dns._server import DNSServer
from fake_dns._tsig import find_tsig, sign, verify
from fake_dns._wire import encode_update, parse_message, update_from_message
from fake_dns._zone import Zone, ZoneStore
from fake_dns.testing import ServerProcess

ZONE = "bench.test."
KEY_NAME = "bench-key"
SECRET = b"fake-dns-bench-secret-0123456789"
KEY_B64 = base64.b64encode(SECRET).decode()

ZONE_TEXT = f"""\
$ORIGIN {ZONE}
$TTL 300
@       IN SOA ns1 hostmaster ( 1 3600 600 86400 60 )
        IN NS  ns1
ns1     IN A   127.0.0.1
www     IN A   192.0.2.1
        IN A   192.0.2.2
api     IN AAAA 2001:db8::1
alias   IN CNAME www
txt     IN TXT "v=bench"
"""
# A realistic mix: mostly positive answers, some CNAME chains, NODATA and NXDOMAIN.
QUERIES = [("www", "A")] * 6 + [("alias", "A"), ("api", "AAAA"), ("txt", "TXT"),
                                ("www", "AAAA"), ("missing", "A")]
# dnsperf's update format (names relative to the zone): each message adds, then deletes.
UPDATES = """\
bench.test
add dyn 60 A 198.51.100.1
send
bench.test
delete dyn A
send
"""


@dataclass(frozen=True)
class Measurement:
    server: str
    queries_per_s: float
    updates_per_s: float
    peak_rss_kib: int


def _free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def _peak_rss_kib(pid: int) -> int:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


def _dnsperf(port: int, datafile: Path, seconds: int, *extra: str) -> float:
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(datafile),
            "-l", str(seconds), "-c", "4", "-q", "200", "-t", "2", *extra]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    match = re.search(r"(?:Queries|Updates) per second:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"dnsperf printed no rate; its output:\n{out}")
    lost = re.search(r"(?:Queries|Updates) lost:\s+(\d+)", out)
    if lost and int(lost.group(1)):
        print(f"    ({lost.group(1)} queries lost: the server was saturated)", flush=True)
    return float(match.group(1))


def _wait_until_answering(port: int, deadline_s: float = 20.0) -> None:
    query = dns.message.make_query(f"www.{ZONE}", "A")
    end = time.monotonic() + deadline_s
    while True:
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
            return
        except (dns.exception.Timeout, OSError):
            if time.monotonic() > end:
                raise RuntimeError(f"server on port {port} never answered") from None


@contextmanager
def _knotd(workdir: Path) -> Iterator[tuple[int, int]]:
    """knotd serving the same zone, with the bench key allowed to update; yields (pid, port)."""
    port = _free_port()
    workdir.mkdir()
    (workdir / f"{ZONE}zone").write_text(ZONE_TEXT)
    conf = workdir / "knot.conf"
    conf.write_text(f"""\
server:
    rundir: "{workdir}"
    listen: 127.0.0.1@{port}
key:
  - id: {KEY_NAME}
    algorithm: hmac-sha256
    secret: {KEY_B64}
acl:
  - id: update
    key: {KEY_NAME}
    action: update
database:
    storage: "{workdir}"
zone:
  - domain: {ZONE}
    storage: "{workdir}"
    file: "{ZONE}zone"
    acl: update
    zonefile-sync: -1
    journal-content: none
""")
    proc = subprocess.Popen(["knotd", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_until_answering(port)
        yield proc.pid, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def _fake_dns(workdir: Path) -> Iterator[tuple[int, int]]:
    workdir.mkdir()
    zone_file = workdir / f"{ZONE}zone"
    zone_file.write_text(ZONE_TEXT)
    with ServerProcess(["--zone-file", str(zone_file), "--tsig-key", f"{KEY_NAME}:{KEY_B64}",
                        "--log-level", "WARNING"]) as server:
        yield server.pid, server.port


def _measure(name: str, server: AbstractContextManager[tuple[int, int]], workdir: Path,
             seconds: int) -> Measurement:
    with server as (pid, port):
        qps = _dnsperf(port, workdir / "queries.txt", seconds)
        ups = _dnsperf(port, workdir / "updates.txt", seconds, "-u",
                       "-y", f"hmac-sha256:{KEY_NAME}:{KEY_B64}")
        rss = _peak_rss_kib(pid)
    return Measurement(name, qps, ups, rss)


async def _client_round_trips(seconds: float, concurrency: int = 64) -> tuple[float, float]:
    """Signed UPDATEs/s and queries/s of DNSClient against an in-process DNSServer."""
    store = ZoneStore([Zone.empty(ZONE)])
    async with DNSServer(store, tsig_keys={KEY_NAME: SECRET}) as server, \
            DNSClient(server.host, server.port, key_name=KEY_NAME, secret=SECRET) as client:
        updates = [Update(ZONE, changes=(Change.add(f"h{i}.{ZONE}", "A", 60,
                                                    f"10.0.0.{i % 250 + 1}"),))
                   for i in range(256)]

        async def run(op: str) -> float:
            done = 0
            end = time.perf_counter() + seconds

            async def worker(w: int) -> None:
                nonlocal done
                i = w
                while time.perf_counter() < end:
                    if op == "update":
                        reply = await client.update(updates[i % len(updates)])
                        assert reply.ok, reply
                    else:
                        await client.query(f"h{i % 256}.{ZONE}", "A")
                    done += 1
                    i += concurrency

            start = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(concurrency)))
            return done / (time.perf_counter() - start)

        return await run("update"), await run("query")


def _codec_costs_us() -> tuple[float, float]:
    """Microseconds to build, sign, verify and parse one UPDATE (delete an RRset, add a record):
    with dnspython, and with this package's codec; the best of five rounds each."""
    ring = dns.tsigkeyring.from_text({KEY_NAME + ".": KEY_B64})
    name = "dyn." + ZONE
    now = int(time.time())

    def with_dnspython() -> None:
        u = dns.update.UpdateMessage(ZONE, keyring=ring, keyalgorithm=dns.tsig.HMAC_SHA256)
        u.delete(name, "A")
        u.add(name, 60, "A", "198.51.100.1")
        dns.message.from_wire(u.to_wire(), keyring=ring)

    update = Update(ZONE, (), (Change(ChangeKind.DELETE_RRSET, name, "A"),
                               Change(ChangeKind.ADD, name, "A", 60, "198.51.100.1")))

    def with_fake_dns() -> None:
        msg = parse_message(sign(encode_update(1, update), KEY_NAME + ".", SECRET, now)[0])
        tsig = find_tsig(msg)
        assert tsig is not None
        verify(msg, tsig, {KEY_NAME + ".": SECRET}, now)
        update_from_message(msg)

    costs = []
    for f in (with_dnspython, with_fake_dns):
        number, _ = timeit.Timer(f).autorange()
        costs.append(min(timeit.repeat(f, number=number, repeat=5)) / number * 1e6)
    return costs[0], costs[1]


def _print_codec_costs() -> None:
    dnspython_us, ours_us = _codec_costs_us()
    print(f"one signed UPDATE built, signed, verified and parsed: dnspython {dnspython_us:,.0f} "
          f"µs, fake_dns's codec {ours_us:,.0f} µs ({dnspython_us / ours_us:.0f}x)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fake_dns.bench", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="per dnsperf run (default 10)")
    parser.add_argument("--codec", action="store_true",
                        help="only the cost of one signed UPDATE, dnspython against ours")
    args = parser.parse_args(argv)
    if args.codec:
        _print_codec_costs()
        return 0
    for tool in ("dnsperf", "knotd"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is not installed (apt-get install dnsperf knot)",
                  file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory(prefix="fake-dns-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "queries.txt").write_text(
            "".join(f"{name}.{ZONE} {rtype}\n" for name, rtype in QUERIES))
        (workdir / "updates.txt").write_text(UPDATES)
        print(f"dnsperf, {args.seconds} s per run, 4 clients, 200 outstanding, 2 cores shared "
              "with dnsperf", flush=True)
        results = []
        for name, server in (("knotd", _knotd(workdir / "knot")),
                             ("fake-dns", _fake_dns(workdir / "fake"))):
            result = _measure(name, server, workdir, args.seconds)
            results.append(result)
            print(f"  {result.server:9} {result.queries_per_s:10,.0f} queries/s  "
                  f"{result.updates_per_s:8,.0f} TSIG updates/s (dnsperf -u)  "
                  f"peak RSS {result.peak_rss_kib / 1024:6.1f} MiB", flush=True)
        knot, fake = results
        print(f"  fake-dns/knotd: {fake.queries_per_s / knot.queries_per_s:.0%} of knot's query "
              f"rate (goal >= 25%), {fake.updates_per_s / knot.updates_per_s:.0%} of its "
              "update rate", flush=True)
    seconds = min(args.seconds, 5)
    updates_s, queries_s = asyncio.run(_client_round_trips(seconds))
    print(f"DNSClient -> DNSServer in one process, one event loop, {seconds} s each: "
          f"{updates_s:,.0f} signed UPDATE round trips/s, {queries_s:,.0f} queries/s",
          flush=True)
    _print_codec_costs()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("fake-dns bench: interrupted", file=sys.stderr)
        sys.exit(130)
