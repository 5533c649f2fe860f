"""The real transport: the workers' DNS as TSIG-signed RFC 2136 messages over UDP to fake_dns.

Each worker signs with its own key (`enactor-1.` ...), so the server's change log says who made
every change. A run either starts its own in-process server on 127.0.0.1 port 0 (`run_real`),
or uses a server that is already running (`--dns HOST:PORT`, with one shared key), whose zone is
first reset to the world's initial state with one UPDATE (`reset_update`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import fake_dns
from fake_dns import (
    Change,
    ChangeKind,
    CommittedUpdate,
    DNSClient,
    DNSClientError,
    DNSServer,
    LookupResult,
    Update,
    UpdateReply,
)
from reproducer.running.choices import ChoiceSource
from reproducer.running.runtime import run_async
from reproducer.running.trace import RunResult, Step
from reproducer.world.config import Config
from reproducer.world.health import HealthSource

__all__ = [
    "DnsServerError",
    "DnsTransport",
    "RealSession",
    "TsigKey",
    "fast_event_loop_factory",
    "parse_tsig_key",
    "reset_update",
    "run_against",
    "run_real",
]



@dataclass(frozen=True, slots=True)
class TsigKey:
    name: str
    secret: bytes

    @classmethod
    def for_worker(cls, worker: str) -> TsigKey:
        """A per-worker key for in-process servers (deterministic; loopback only)."""
        return cls(f"{worker}.", hashlib.sha256(f"dns-race-reproducer/{worker}".encode()).digest())

    @property
    def spec(self) -> str:
        """The NAME:BASE64 form fake-dns, nsupdate (-y hmac-sha256:NAME:SECRET) and we accept."""
        return f"{self.name}:{base64.b64encode(self.secret).decode()}"


def fast_event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (a dependency on Linux): long runs over the real
    transport (exploration, benchmarks) spend most of their time in the event loop itself."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def parse_tsig_key(spec: str) -> TsigKey:
    """'name:BASE64SECRET' (or 'hmac-sha256:name:BASE64SECRET', nsupdate's -y form), by
    fake_dns's own rules (`fake_dns.parse_tsig_key`); a bad one is a `fake_dns.ConfigError`
    (a ValueError) that says why."""
    name, secret = fake_dns.parse_tsig_key(spec)
    return TsigKey(name, secret)


class DnsServerError(Exception):
    """The DNS server given with --dns cannot be used as given: nothing answers there, it is
    not authoritative for the world's zone, or it rejects the key. The message says which, and
    what to do; it is the user's setup that is wrong, not the run."""


def refusal_reason(reply: UpdateReply, zone: str, key: TsigKey, where: str) -> str | None:
    """Why the server at `where` refused an UPDATE, when the reason is the caller's setup (the
    zone or the key it was given); None for any other answer.

    RFC 8945 §5.2: a server that rejects the signature answers NOTAUTH and says why in the TSIG
    Error field: BADKEY (it has no key of that name), BADSIG (the MAC does not verify: the
    secret differs), BADTIME (the clocks differ by more than the fudge). NOTAUTH with no TSIG
    error is RFC 2136 §3.1.1's: the server is not authoritative for the zone.
    """
    error = reply.tsig_error.name
    if error == "BADKEY":
        return (f"key {key.name} unknown to the DNS server at {where} (TSIG BADKEY); give "
                "--tsig-key the NAME:SECRET the server was started with")
    if error == "BADSIG":
        return (f"signature does not verify — wrong secret for key {key.name} (TSIG BADSIG from "
                f"the DNS server at {where}); give --tsig-key the secret the server was started "
                "with")
    if error == "BADTIME":
        return (f"the DNS server at {where} rejects the signature's time (TSIG BADTIME): its "
                "clock and this machine's differ by more than 5 minutes")
    if error != "NOERROR":
        return f"the DNS server at {where} rejects the signature of key {key.name} (TSIG {error})"
    if reply.rcode.name == "NOTAUTH":
        bare = zone.rstrip(".")
        return (f"the DNS server at {where} is not authoritative for zone {zone} (NOTAUTH); "
                f"start it with --zone {bare}, or point --dns at the server for {bare}")
    return None


class DnsTransport:
    """Queries through one client, UPDATEs through a client per worker (its own TSIG key)."""

    def __init__(self, host: str, port: int, keys: Mapping[str, TsigKey] | TsigKey,
                 *, timeout_s: float = 2.0) -> None:
        self.host = host
        self.port = port
        self._keys = keys
        self._timeout_s = timeout_s
        self._reader = DNSClient(host, port, timeout_s=timeout_s)
        self._writers: dict[str, DNSClient] = {}

    async def __aenter__(self) -> DnsTransport:
        try:
            await self._reader.start()
        except OSError as exc:  # e.g. a host name that does not resolve
            raise DnsServerError(f"cannot reach a DNS server at {self.host}:{self.port}: "
                                 f"{exc.strerror or exc}; fix --dns") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._reader.close()
        for client in self._writers.values():
            await client.close()
        self._writers.clear()

    def _key(self, worker: str) -> TsigKey:
        if isinstance(self._keys, TsigKey):
            return self._keys
        return self._keys[worker]

    async def _writer(self, worker: str) -> DNSClient:
        client = self._writers.get(worker)
        if client is None:
            key = self._key(worker)
            client = DNSClient(self.host, self.port, key_name=key.name, secret=key.secret,
                               timeout_s=self._timeout_s)
            await client.start()
            self._writers[worker] = client
        return client

    async def query(self, name: str, rtype: str) -> LookupResult:
        return await self._reader.query(name, rtype)

    async def update(self, update: Update, worker: str) -> str:
        reply = await (await self._writer(worker)).update(update)
        return reply.rcode.name

    async def first_update(self, update: Update, worker: str) -> str:
        """`update` for the first UPDATE sent to a server the user named (--dns): a server that
        does not answer, or refuses for a reason the user's setup can fix, is a
        `DnsServerError` saying which. Returns the rcode, as `update` does."""
        where = f"{self.host}:{self.port}"
        try:
            reply = await (await self._writer(worker)).update(update)
        except (DNSClientError, OSError) as exc:
            raise DnsServerError(f"no DNS server answering at {where} ({exc}); start one "
                                 "(fake-dns --zone ZONE --tsig-key NAME:SECRET) or fix --dns"
                                 ) from None
        reason = refusal_reason(reply, update.zone, self._key(worker), where)
        if reason is not None:
            raise DnsServerError(reason)
        return reply.rcode.name


@functools.lru_cache(maxsize=64)
def reset_update(config: Config) -> Update:
    """One UPDATE that puts a zone back into the world's initial state: every name the world
    can use is deleted (§2.5.3), then the initial records are added (§2.5.1)."""
    lay = config.layout
    names = [lay.lock_name]
    for ep in lay.endpoints:
        names += [lay.endpoint_name(ep), lay.rollback_name(ep)]
        names += [lay.tree_name(ep, g) for g in range(1, config.newest_generation + 1)]
    changes = [Change(ChangeKind.DELETE_NAME, n) for n in names]
    changes += [Change(ChangeKind.ADD, rr.name, rr.rtype, rr.ttl, rr.rdata)
                for rr in config.initial_records()]
    return Update(lay.zone, (), tuple(changes))


async def run_real(config: Config, source: ChoiceSource, *, stop_at_violation: bool = True,
                   on_step: Callable[[Step], None] | None = None,
                   dns_log: list[CommittedUpdate] | None = None) -> RunResult:
    """One run over real UDP against a fake_dns server started for it on 127.0.0.1:0."""
    keys = {w: TsigKey.for_worker(w) for w in config.worker_names}
    store = config.initial_dns()
    if dns_log is not None:
        store.subscribe(dns_log.append)
    async with DNSServer(store, "127.0.0.1", 0, {k.name: k.secret for k in keys.values()}) \
            as server, DnsTransport(server.host, server.port, keys) as transport:
        return await run_async(config, source, transport, stop_at_violation=stop_at_violation,
                               on_step=on_step)


async def run_against(host: str, port: int, key: TsigKey, config: Config, source: ChoiceSource,
                      *, stop_at_violation: bool = True, health: HealthSource | None = None,
                      on_step: Callable[[Step], None] | None = None,
                      after_step: Callable[[Step], Awaitable[None]] | None = None) -> RunResult:
    """One run against a server that is already running: reset its zone, then run."""
    async with DnsTransport(host, port, key) as transport:
        rcode = await transport.first_update(reset_update(config), "reset")
        if rcode != "NOERROR":
            raise DnsServerError(f"the DNS server at {host}:{port} refused to reset zone "
                                 f"{config.layout.zone} to the world's initial state ({rcode})")
        return await run_async(config, source, transport, stop_at_violation=stop_at_violation,
                               health=health, on_step=on_step, after_step=after_step)


class RealSession:
    """One fake_dns server on 127.0.0.1:0 and one signed transport, kept for many runs of one
    configuration (exploration over the real transport). Each run begins with one UPDATE that
    resets the zone to the world's initial state (`reset_update`)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._keys = {w: TsigKey.for_worker(w) for w in (*config.worker_names, "reset")}
        self._server: DNSServer | None = None
        self._transport: DnsTransport | None = None

    async def __aenter__(self) -> RealSession:
        server = DNSServer(self.config.initial_dns(), "127.0.0.1", 0,
                           {k.name: k.secret for k in self._keys.values()})
        await server.start()
        self._server = server
        self._transport = DnsTransport(server.host, server.port, self._keys)
        await self._transport.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            await self._transport.close()
            self._transport = None
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def run(self, source: ChoiceSource, *, stop_at_violation: bool = True,
                  on_step: Callable[[Step], None] | None = None) -> RunResult:
        if self._transport is None:
            raise RuntimeError("use `async with RealSession(config) as session:` first")
        rcode = await self._transport.update(reset_update(self.config), "reset")
        if rcode != "NOERROR":
            raise RuntimeError(f"fake_dns refused the reset of {self.config.layout.zone}: "
                               f"{rcode}")
        return await run_async(self.config, source, self._transport,
                               stop_at_violation=stop_at_violation, on_step=on_step)
