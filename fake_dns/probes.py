"""`python -m fake_dns.probes PROBE`: bounded probes of fake-dns under load, faults and big data.

Each probe starts `fake-dns` as a subprocess on 127.0.0.1 (an ephemeral port), drives it from
this process (and, for the load probes, from one forked load process), stops it and prints
one line of `key=value` results. Every probe is bounded in count and in time; `--help` of each
names its bounds. They are measurements, not tests: `make test` does not run them, and their
numbers (in docs/reliability.md) depend on the machine and on what else runs on it.

    python -m fake_dns.probes accept-burst --connections 3000 --nofile 1024
    python -m fake_dns.probes pipelining --clients 200 --seconds 10
    python -m fake_dns.probes never-read --clients 300 --seconds 10
    python -m fake_dns.probes refused-updates --updates 10000
    python -m fake_dns.probes disk-full --updates 60
    python -m fake_dns.probes big-rrset --records 20000
    python -m fake_dns.probes big-tcp-answer --records 5000
    python -m fake_dns.probes sigkill --rounds 20
    python -m fake_dns.probes fuzz --packets 100000

`--server-pythonpath DIR` runs the server from another copy of the package (say, a
`git archive` of an older commit unpacked in DIR), to measure before and after a change with
the same probe.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import multiprocessing
import os
import random
import resource
import select
import signal
import socket
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path

import dns.message
import dns.name
import dns.rcode
import dns.update

from fake_dns._client import DNSClient, DNSClientError
from fake_dns._records import Change, Update
from fake_dns.testing import ServerProcess

ZONE = "probe.test."
KEY_NAME = "probe-key"
SECRET = b"fake-dns-probe-secret-0123456789"
KEY_B64 = base64.b64encode(SECRET).decode()
_MAX_PROBE_S = 120.0  # no probe runs longer than this, whatever its flags say


@dataclass
class _Run:
    """What a probe needs: a scratch directory and where to find the server's code."""

    workdir: Path
    server_pythonpath: Path | None
    results: dict[str, object] = field(default_factory=dict)

    def server(self, *flags: str, log_level: str = "INFO") -> ServerProcess:
        env = None
        cwd = None
        if self.server_pythonpath is not None:
            env = {"PYTHONPATH": str(self.server_pythonpath)}
            cwd = self.server_pythonpath  # `python -m` puts the current directory first
        return ServerProcess([*flags, "--tsig-key", f"{KEY_NAME}:{KEY_B64}",
                              "--log-level", log_level],
                             stderr_path=self.workdir / "server.log", env=env, cwd=cwd)

    def zone_file(self, big_records: int = 0, big_name: str = "big") -> Path:
        """The probe zone, with `big_records` A records at one name (`big_name`)."""
        lines = [f"$ORIGIN {ZONE}", "$TTL 300",
                 "@ IN SOA ns1 hostmaster ( 1 3600 600 86400 60 )", "  IN NS ns1",
                 "ns1 IN A 127.0.0.1", "www IN A 192.0.2.1",
                 "fat IN TXT " + " ".join(f'"{"x" * 200}"' for _ in range(12))]
        lines += [f"{big_name} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
                  for i in range(big_records)]
        path = self.workdir / f"{ZONE}zone"
        path.write_text("\n".join(lines) + "\n")
        return path

    def server_log(self) -> tuple[int, int]:
        """(lines, tracebacks) in the server's stderr so far."""
        try:
            text = (self.workdir / "server.log").read_text(errors="replace")
        except FileNotFoundError:
            return 0, 0
        return len(text.splitlines()), text.count("Traceback (most recent call last)")


def _query(name: str, rtype: str = "A", *, edns: bool = False) -> bytes:
    message = dns.message.make_query(name, rtype, use_edns=0 if edns else False)
    message.flags = 0
    return message.to_wire()


def _socket_count(pid: int) -> int:
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(entry.path).startswith("socket:"):
                    count += 1
    return count


# -- the UDP stopwatch -----------------------------------------------------------------------


def _udp_latencies(host: str, port: int, seconds: float, interval_s: float = 0.01,
                   timeout_s: float = 2.0) -> tuple[list[float], int]:
    """Query UDP every `interval_s` for `seconds`, one at a time: (latencies in s, timeouts)."""
    wire = _query(f"www.{ZONE}")
    latencies: list[float] = []
    timeouts = 0
    end = time.monotonic() + seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, port))
        msg_id = 0
        while time.monotonic() < end:
            msg_id = (msg_id + 1) & 0xFFFF
            request = struct.pack("!H", msg_id) + wire[2:]
            start = time.monotonic()
            sock.send(request)
            while True:
                left = start + timeout_s - time.monotonic()
                ready, _, _ = select.select([sock], [], [], max(left, 0))
                if not ready:
                    timeouts += 1
                    break
                answer = sock.recv(65535)
                if answer[:2] == request[:2]:
                    latencies.append(time.monotonic() - start)
                    break
            time.sleep(max(0.0, interval_s - (time.monotonic() - start)))
    return latencies, timeouts


def _latency_results(latencies: list[float], timeouts: int) -> dict[str, object]:
    if not latencies:
        return {"udp_answered": 0, "udp_timeouts": timeouts}
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"udp_answered": len(latencies), "udp_timeouts": timeouts,
            "udp_p50_ms": round(statistics.median(ordered) * 1000, 2),
            "udp_p99_ms": round(p99 * 1000, 2), "udp_max_ms": round(ordered[-1] * 1000, 2)}


def _in_child(target: Callable[..., None], *args: object) -> BaseProcess:
    """Run the load in its own process, so that the stopwatch is not slowed by it."""
    process = multiprocessing.get_context("fork").Process(target=target, args=args, daemon=True)
    process.start()
    return process


def _stop_child(process: BaseProcess) -> None:
    process.join(timeout=10)
    if process.is_alive():
        process.kill()
        process.join()


# -- accept-burst ----------------------------------------------------------------------------


async def _one_connection(host: str, port: int, wire: bytes, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return "connect_failed"
    try:
        async with asyncio.timeout(timeout_s):
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            await reader.readexactly(length)
            return "answered"
    except (asyncio.IncompleteReadError, ConnectionError):
        return "closed_by_server"
    except TimeoutError:
        return "timed_out"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def accept_burst(run: _Run, connections: int, nofile: int, timeout_s: float) -> None:
    """`connections` TCP clients at once, each one query, against a server whose descriptor
    limit is `nofile` (set with prlimit after it started)."""
    with run.server("--zone-file", str(run.zone_file())) as server:
        resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (nofile, nofile))
        wire = _query(f"www.{ZONE}")

        async def burst() -> list[str]:
            return await asyncio.gather(*(_one_connection(server.host, server.port, wire,
                                                          timeout_s)
                                          for _ in range(connections)))

        start = time.monotonic()
        outcomes = asyncio.run(burst())
        run.results["burst_s"] = round(time.monotonic() - start, 2)
        for outcome in ("answered", "closed_by_server", "timed_out", "connect_failed"):
            run.results[outcome] = outcomes.count(outcome)
        latencies, _ = _udp_latencies(server.host, server.port, 0.5)
        run.results["udp_after"] = "answers" if latencies else "silent"
    lines, tracebacks = run.server_log()
    run.results.update(log_lines=lines, tracebacks=tracebacks)


# -- pipelining ------------------------------------------------------------------------------


def _pipelining_load(host: str, port: int, clients: int, seconds: float, batch: int) -> None:
    wire = _query(f"www.{ZONE}")
    frame = struct.pack("!H", len(wire)) + wire

    async def client(end: float) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < end:
                writer.write(frame * batch)
                for _ in range(batch):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def main() -> None:
        end = time.monotonic() + seconds
        async with asyncio.timeout(seconds + 10):
            await asyncio.gather(*(client(end) for _ in range(clients)),
                                 return_exceptions=True)

    asyncio.run(main())


def pipelining(run: _Run, clients: int, seconds: float, batch: int) -> None:
    """`clients` TCP connections each writing `batch` queries at once and reading the answers,
    for `seconds`, while this process measures UDP queries one at a time."""
    with run.server("--zone-file", str(run.zone_file()), log_level="WARNING") as server:
        baseline, _ = _udp_latencies(server.host, server.port, 1.0)
        run.results["udp_idle_p99_ms"] = _latency_results(baseline, 0).get("udp_p99_ms")
        load = _in_child(_pipelining_load, server.host, server.port, clients, seconds, batch)
        time.sleep(0.5)  # let the clients connect
        latencies, timeouts = _udp_latencies(server.host, server.port, seconds - 1)
        _stop_child(load)
    run.results.update(_latency_results(latencies, timeouts))
    lines, tracebacks = run.server_log()
    run.results.update(log_lines=lines, tracebacks=tracebacks)


# -- never-read ------------------------------------------------------------------------------


def _never_read_load(host: str, port: int, clients: int, seconds: float, queries: int) -> None:
    """Clients with a tiny receive buffer that send `queries` big questions and never read."""
    wire = _query(f"fat.{ZONE}", "TXT")
    frames = (struct.pack("!H", len(wire)) + wire) * queries
    socks: list[socket.socket] = []
    end = time.monotonic() + seconds
    for _ in range(clients):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(5)
        try:
            sock.connect((host, port))
        except OSError:
            sock.close()
            continue
        sock.setblocking(False)
        socks.append(sock)
    pending = {sock: memoryview(frames) for sock in socks}
    while time.monotonic() < end:
        for sock, rest in list(pending.items()):
            try:
                sent = sock.send(rest)
            except BlockingIOError:
                continue
            except OSError:
                del pending[sock]
                continue
            pending[sock] = rest[sent:]
            if not pending[sock]:
                del pending[sock]
        time.sleep(0.05)
    for sock in socks:
        sock.close()


def never_read(run: _Run, clients: int, seconds: float, queries: int) -> None:
    """`clients` TCP connections that send queries with 2.4 KB answers and never read them,
    for `seconds`, while this process measures UDP and then tries one fresh TCP query."""
    with run.server("--zone-file", str(run.zone_file()), log_level="WARNING") as server:
        load = _in_child(_never_read_load, server.host, server.port, clients, seconds, queries)
        time.sleep(1.0)
        latencies, timeouts = _udp_latencies(server.host, server.port, seconds - 2)
        run.results.update(_latency_results(latencies, timeouts))
        run.results["server_sockets_during"] = _socket_count(server.pid)

        async def fresh() -> str:
            return await _one_connection(server.host, server.port, _query(f"www.{ZONE}"), 5.0)

        run.results["fresh_tcp_client"] = asyncio.run(fresh())
        _stop_child(load)
    lines, tracebacks = run.server_log()
    run.results.update(log_lines=lines, tracebacks=tracebacks)


# -- refused-updates -------------------------------------------------------------------------


def refused_updates(run: _Run, updates: int) -> None:
    """`updates` unsigned UPDATEs (each refused) over UDP, 32 at a time, at log level INFO."""
    with run.server("--zone-file", str(run.zone_file())) as server:
        before, _ = run.server_log()

        async def send() -> int:
            answered = 0
            async with DNSClient(server.host, server.port, timeout_s=2.0) as client:
                counter = iter(range(updates))

                async def worker() -> None:
                    nonlocal answered
                    for n in counter:
                        reply = await client.update(Update(ZONE, changes=(
                            Change.add(f"u{n}.{ZONE}", "A", 60, "192.0.2.9"),)))
                        answered += reply.rcode == dns.rcode.REFUSED

                async with asyncio.timeout(_MAX_PROBE_S):
                    await asyncio.gather(*(worker() for _ in range(32)))
            return answered

        run.results["refused"] = asyncio.run(send())
    after, tracebacks = run.server_log()  # after the server stopped: its last lines included
    run.results.update(log_lines=after - before, tracebacks=tracebacks)


# -- disk-full -------------------------------------------------------------------------------


def disk_full(run: _Run, updates: int, room_lines: int) -> None:
    """Updates while the journal's file-size limit (RLIMIT_FSIZE, standing in for a full disk)
    leaves room for about `room_lines` more lines; then the limit is lifted, one more update is
    sent, the server is SIGKILLed and restarted, and every update is looked up."""
    journal = run.workdir / "journal"
    flags = ("--zone-file", str(run.zone_file()), "--journal", str(journal))
    outcome: dict[int, str] = {}

    async def send(client: DNSClient, n: int) -> None:
        try:
            reply = await client.update(Update(ZONE, changes=(
                Change.add(f"d{n}.{ZONE}", "A", 60, "192.0.2.7"),
                Change.add(f"d{n}.{ZONE}", "TXT", 60, f'"update {n}"'))))
            outcome[n] = reply.rcode.name
        except DNSClientError:
            outcome[n] = "no_answer"

    server = run.server(*flags, log_level="WARNING")
    with server:
        async def phase_one() -> tuple[str, str]:
            async with DNSClient(server.host, server.port, key_name=KEY_NAME, secret=SECRET,
                                 timeout_s=1.0) as client:
                await send(client, 0)
                size = journal.stat().st_size
                limit = size + size * room_lines
                resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
                for n in range(1, updates):
                    await send(client, n)
                # The zone as UDP (cached) and TCP see it after the failures:
                last = max(outcome)
                udp = await client.query(f"d{last}.{ZONE}", "A")
                tail = journal.read_bytes()[-1:]
                run.results["journal_ends_in_a_whole_line"] = tail == b"\n"
                resource.prlimit(server.pid, resource.RLIMIT_FSIZE,
                                 (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                await send(client, updates)
                return ("present" if udp.answer else "absent"), outcome[last]

        seen, last_outcome = asyncio.run(phase_one())
        run.results["last_update_over_udp"] = f"{seen} (its answer: {last_outcome})"
        server.kill()
    for name in ("NOERROR", "SERVFAIL", "no_answer"):
        run.results[name] = sum(1 for v in outcome.values() if v == name)
    try:
        with run.server(*flags, log_level="WARNING") as second:
            async def check() -> dict[int, bool]:
                async with DNSClient(second.host, second.port) as client:
                    return {n: bool((await client.query(f"d{n}.{ZONE}", "TXT")).answer)
                            for n in outcome}

            present = asyncio.run(check())
    except RuntimeError as exc:
        run.results["restart"] = "refused: " + str(exc).rsplit("| ", 1)[-1]
        return
    run.results["restart"] = "ok"
    run.results["acked_lost"] = sum(1 for n, v in outcome.items()
                                    if v == "NOERROR" and not present[n])
    run.results["unacked_present"] = sum(1 for n, v in outcome.items()
                                         if v != "NOERROR" and present[n])


# -- big-rrset and big-tcp-answer ------------------------------------------------------------


def big_rrset(run: _Run, records: int) -> None:
    """Start a server on a zone file with `records` A records at one name; time it."""
    zone_file = run.zone_file(records)
    start = time.monotonic()
    with run.server("--zone-file", str(zone_file), log_level="WARNING"):
        run.results["start_s"] = round(time.monotonic() - start, 2)
    journal = run.workdir / "journal"
    lines = [f'{{"zone":"{ZONE}","serial":{n + 2},"key":"{KEY_NAME}.","changes":'
             f'[["add","big.{ZONE}","A",300,"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"]]}}'
             for n in range(records)]
    journal.write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    with run.server("--zone-file", str(run.zone_file()), "--journal", str(journal),
                    log_level="WARNING"):
        run.results["replay_s"] = round(time.monotonic() - start, 2)


def big_tcp_answer(run: _Run, records: int) -> None:
    """A TCP query for a name with `records` A records (over 65,535 bytes when > ~4,000)."""
    with run.server("--zone-file", str(run.zone_file(records))) as server:
        wire = _query(f"big.{ZONE}")

        async def ask() -> str:
            try:
                async with asyncio.timeout(10):
                    reader, writer = await asyncio.open_connection(server.host, server.port)
                    writer.write(struct.pack("!H", len(wire)) + wire)
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    answer = dns.message.from_wire(await reader.readexactly(length))
                    writer.close()
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                return f"no answer ({type(exc).__name__})"
            tc = "TC" if answer.flags & 0x0200 else "no TC"
            count = sum(len(rrset) for rrset in answer.answer)
            return f"{dns.rcode.to_text(answer.rcode())}, {tc}, {count} records"

        run.results["answer"] = asyncio.run(ask())
    lines, tracebacks = run.server_log()
    run.results.update(log_lines=lines, tracebacks=tracebacks)


# -- sigkill ---------------------------------------------------------------------------------


def sigkill(run: _Run, rounds: int, acks_per_round: int, seed: int) -> None:
    """`rounds` times: start the server on one journal, stream two-change UPDATEs from 8
    workers, SIGKILL it after about `acks_per_round` acknowledgements (others in flight);
    then restart once more and look every update up: none acknowledged may be missing, none
    may be half there."""
    journal = run.workdir / "journal"
    flags = ("--zone-file", str(run.zone_file()), "--journal", str(journal))
    rng = random.Random(seed)
    acked: list[str] = []
    sent: list[str] = []
    for r in range(rounds):
        stop_after = rng.randint(acks_per_round // 2, acks_per_round * 3 // 2)
        with run.server(*flags, log_level="WARNING") as server:
            async def stream(server: ServerProcess = server, r: int = r,
                             stop_after: int = stop_after) -> None:
                round_acks = 0
                async with DNSClient(server.host, server.port, key_name=KEY_NAME,
                                     secret=SECRET, timeout_s=0.6) as client:
                    counter = iter(range(10**6))

                    async def worker() -> None:
                        nonlocal round_acks
                        for n in counter:
                            name = f"r{r}n{n}.{ZONE}"
                            sent.append(name)
                            try:
                                reply = await client.update(Update(ZONE, changes=(
                                    Change.add(name, "A", 60, "192.0.2.1"),
                                    Change.add(name, "TXT", 60, f'"{name}"'))))
                            except DNSClientError:
                                return  # killed
                            if reply.ok:
                                acked.append(name)
                                round_acks += 1
                                if round_acks == stop_after:
                                    server.kill()

                    async with asyncio.timeout(_MAX_PROBE_S):
                        await asyncio.gather(*(worker() for _ in range(8)))

            asyncio.run(stream())
    with run.server(*flags, log_level="WARNING") as server:
        async def check() -> dict[str, tuple[bool, bool]]:
            async with DNSClient(server.host, server.port) as client:
                return {name: (bool((await client.query(name, "A")).answer),
                               bool((await client.query(name, "TXT")).answer))
                        for name in sent}

        present = asyncio.run(check())
    run.results.update(
        kills=rounds, acknowledged=len(acked),
        acked_lost=sum(1 for name in acked if present[name] != (True, True)),
        half_applied=sum(1 for both in present.values() if both[0] != both[1]),
        in_flight_kept=sum(1 for name in set(sent) - set(acked) if present[name][0]))


# -- fuzz ------------------------------------------------------------------------------------


def _mutate(rng: random.Random, wire: bytes) -> bytes:
    data = bytearray(wire)
    for _ in range(rng.randint(1, 4)):
        action = rng.randrange(4)
        pos = rng.randrange(len(data)) if data else 0
        if action == 0 and data:
            data[pos] ^= 1 << rng.randrange(8)  # a bit flip
        elif action == 1 and data:
            data[pos] = rng.randrange(256)  # a random byte
        elif action == 2:
            del data[pos:pos + rng.randint(1, 8)]  # bytes lost
        else:
            data[pos:pos] = rng.randbytes(rng.randint(1, 8))  # bytes added
    return bytes(data)


def fuzz(run: _Run, packets: int, seed: int) -> None:
    """`packets` mutations of real queries and UPDATEs (signed and not) over UDP, 64 at a
    time, and some over TCP; then one plain query must be answered and the server's log must
    hold no traceback. (A mutation that makes a packet a response is rightly not answered.)"""
    rng = random.Random(seed)
    keyring = {dns.name.from_text(KEY_NAME): SECRET}
    seeds = [_query(f"www.{ZONE}"), _query(f"fat.{ZONE}", "TXT", edns=True),
             _query(f"missing.{ZONE}", "AAAA"), _query(ZONE, "SOA", edns=True)]
    for signed in (False, True):
        update = dns.update.UpdateMessage(ZONE, keyring=keyring if signed else None,
                                          keyalgorithm="hmac-sha256")
        update.present(f"www.{ZONE}", "A", "192.0.2.1")
        update.replace(f"www.{ZONE}", 60, "A", "192.0.2.2")
        update.delete(f"gone.{ZONE}")
        seeds.append(update.to_wire())
    with run.server("--zone-file", str(run.zone_file()), log_level="WARNING") as server:
        answered = sent = 0
        end = time.monotonic() + _MAX_PROBE_S
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((server.host, server.port))
            while sent < packets and time.monotonic() < end:
                batch = [_mutate(rng, rng.choice(seeds)) for _ in range(min(64, packets - sent))]
                sent += len(batch)
                for packet in batch:  # 64 at a time, then their answers
                    with contextlib.suppress(OSError):
                        sock.send(packet)
                while select.select([sock], [], [], 0.02)[0]:  # until 20 ms of silence
                    with contextlib.suppress(OSError):
                        sock.recv(65535)
                        answered += 1
                if sent % 6400 < 64:  # now and then, one over TCP
                    with contextlib.suppress(OSError), socket.create_connection(
                            (server.host, server.port), timeout=2) as tcp:
                        tcp.sendall(struct.pack("!H", len(batch[0])) + batch[0])
        run.results.update(sent=sent, udp_answers=answered)
        latencies, _ = _udp_latencies(server.host, server.port, 0.3)
        run.results["answers_after"] = "yes" if latencies else "no"
    lines, tracebacks = run.server_log()
    run.results.update(log_lines=lines, tracebacks=tracebacks)


# -- the command line ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fake_dns.probes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server-pythonpath", type=Path, metavar="DIR",
                   help="run the server from the fake_dns package in DIR")
    p.add_argument("--keep-log", type=Path, metavar="PATH",
                   help="copy the server's stderr here at the end")
    sub = p.add_subparsers(dest="probe", required=True)
    s = sub.add_parser("accept-burst", help="many TCP connections at once, low fd limit")
    s.add_argument("--connections", type=int, default=3000)
    s.add_argument("--nofile", type=int, default=1024)
    s.add_argument("--timeout-s", type=float, default=20.0)
    s = sub.add_parser("pipelining", help="TCP clients pipelining queries; UDP latency")
    s.add_argument("--clients", type=int, default=200)
    s.add_argument("--seconds", type=float, default=10.0)
    s.add_argument("--batch", type=int, default=50)
    s = sub.add_parser("never-read", help="TCP clients that never read; UDP latency")
    s.add_argument("--clients", type=int, default=300)
    s.add_argument("--seconds", type=float, default=10.0)
    s.add_argument("--queries", type=int, default=2000)
    s = sub.add_parser("refused-updates", help="unsigned UPDATEs; log lines written")
    s.add_argument("--updates", type=int, default=10000)
    s = sub.add_parser("disk-full", help="updates while the journal cannot grow")
    s.add_argument("--updates", type=int, default=60)
    s.add_argument("--room-lines", type=int, default=20)
    s = sub.add_parser("big-rrset", help="start-up with one big RRset (zone file, journal)")
    s.add_argument("--records", type=int, default=20000)
    s = sub.add_parser("big-tcp-answer", help="a TCP answer over 65,535 bytes")
    s.add_argument("--records", type=int, default=5000)
    s = sub.add_parser("sigkill", help="SIGKILLs during a stream of updates; then look up")
    s.add_argument("--rounds", type=int, default=20)
    s.add_argument("--acks-per-round", type=int, default=250)
    s.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("fuzz", help="mutated queries and UPDATEs over UDP and TCP")
    s.add_argument("--packets", type=int, default=100_000)
    s.add_argument("--seed", type=int, default=1)
    return p


@contextlib.contextmanager
def _bounded(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the probe ran longer than its bound of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fake-dns-probe-") as tmp:
        run = _Run(Path(tmp), args.server_pythonpath)
        with _bounded(_MAX_PROBE_S + 60):
            if args.probe == "accept-burst":
                accept_burst(run, args.connections, args.nofile, args.timeout_s)
            elif args.probe == "pipelining":
                pipelining(run, args.clients, min(args.seconds, _MAX_PROBE_S), args.batch)
            elif args.probe == "never-read":
                never_read(run, args.clients, min(args.seconds, _MAX_PROBE_S), args.queries)
            elif args.probe == "refused-updates":
                refused_updates(run, args.updates)
            elif args.probe == "disk-full":
                disk_full(run, args.updates, args.room_lines)
            elif args.probe == "big-rrset":
                big_rrset(run, args.records)
            elif args.probe == "big-tcp-answer":
                big_tcp_answer(run, args.records)
            elif args.probe == "sigkill":
                sigkill(run, args.rounds, args.acks_per_round, args.seed)
            elif args.probe == "fuzz":
                fuzz(run, args.packets, args.seed)
        print(args.probe + ": " + " ".join(f"{k}={v}" for k, v in run.results.items()),
              flush=True)
        log_file = run.workdir / "server.log"
        if args.keep_log is not None and log_file.exists():
            args.keep_log.write_bytes(log_file.read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
