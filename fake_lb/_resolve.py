"""Resolving the service endpoint through fake_dns, honouring record TTLs.

Theory of operation
-------------------
- `classify_response()` is the logic: a pure function from one DNS response (a dnspython
  message, already received) to either a `Resolution` (addresses and how long they may be
  cached) or a `DnsFailure` (what went wrong, in words a person can act on). No I/O.
- `AnswerCache` is the logic of caching: a plain dictionary over an injected clock. A positive
  answer lives for the smallest TTL in its CNAME chain (RFC 1035 §3.2.1, RFC 2181 §5.2); a
  negative one (NOERROR with no address, or NXDOMAIN) for min(chain TTLs, SOA TTL, SOA MINIMUM),
  as RFC 2308 §5 says. "The DNS server did not answer" is never cached: the next request asks
  again, so the LB recovers as soon as the server is back.
- `DnsResolver` is the thin adapter: an `aiohttp.abc.AbstractResolver` that sends one query over
  a *connected* UDP socket (so a stopped server shows up at once as ECONNREFUSED instead of a
  timeout), falls back to TCP when the answer is truncated (RFC 7766 §5), and coalesces
  concurrent lookups of one name into a single query.

The outage summary: resolvers got "NOERROR with an empty answer (no A, no AAAA): not NXDOMAIN,
not SERVFAIL". That is `FailureKind.EMPTY_ANSWER`, kept apart from the other two on purpose.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = [
    "AnswerCache",
    "DnsFailure",
    "DnsResolutionError",
    "DnsResolver",
    "FailureKind",
    "Resolution",
    "classify_response",
]

log = logging.getLogger("fake_lb.resolve")

Clock = Callable[[], float]


class FailureKind(enum.Enum):
    """Why a name gave no address. The values are the reason keys in stats and traffic data."""

    EMPTY_ANSWER = "dns-empty-answer"  # NOERROR, but no A/AAAA at the end of the chain
    NXDOMAIN = "dns-nxdomain"
    RCODE = "dns-rcode"  # SERVFAIL, REFUSED, ...
    NO_ANSWER = "dns-no-answer"  # timeout, connection refused, garbage


@dataclass(frozen=True, slots=True)
class DnsFailure:
    """One failed resolution: its kind, the name asked, the rcode (None when no answer came)
    and a sentence saying exactly what happened (what the LB puts in its 503 body)."""

    kind: FailureKind
    name: str
    rcode: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """A usable answer: the addresses in answer order, the CNAME chain followed to reach them,
    and the TTL (seconds) the whole answer may be cached for."""

    name: str
    addresses: tuple[str, ...]
    chain: tuple[str, ...]
    ttl_s: int


class DnsResolutionError(OSError):
    """Raised by `DnsResolver.resolve`; an OSError as aiohttp's resolver contract requires.
    `failure` holds the precise reason."""

    def __init__(self, failure: DnsFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _chain_text(chain: tuple[str, ...]) -> str:
    return "".join(f" -> CNAME {target}" for target in chain)


def _negative_ttl(response: dns.message.Message, chain_ttls: list[int]) -> int:
    # RFC 2308 §5: a negative answer is cached for min(SOA TTL, SOA MINIMUM) from the authority
    # section; the CNAMEs that led there cap it too (§6 and RFC 2181 §5.2).
    ttls = list(chain_ttls)
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            ttls.append(min(rrset.ttl, rrset[0].minimum))
    return min(ttls) if ttls else 0


def _find(section: list[dns.rrset.RRset], name: dns.name.Name,
          rdtype: dns.rdatatype.RdataType) -> dns.rrset.RRset | None:
    # A plain scan: Message.get_rrset relies on an index that hand-built messages lack.
    for rrset in section:
        if rrset.name == name and rrset.rdtype == rdtype and \
                rrset.rdclass == dns.rdataclass.IN and len(rrset):
            return rrset
    return None


def classify_response(
    name: str, rdtype: dns.rdatatype.RdataType, response: dns.message.Message
) -> tuple[Resolution | DnsFailure, int]:
    """Turn one DNS response into a `Resolution` or a `DnsFailure`, with its cache TTL (s).

    Follows the CNAME chain inside the answer section from `name` (RFC 1034 §3.6.2).
    """
    qname = dns.name.from_text(name)
    rcode = response.rcode()
    rcode_text = dns.rcode.to_text(rcode)
    current = qname
    chain: list[str] = []
    chain_ttls: list[int] = []
    addresses: tuple[str, ...] = ()
    for _ in range(16):  # bound the walk: a CNAME loop must not hang the LB
        cname = _find(response.answer, current, dns.rdatatype.CNAME)
        if cname is None:
            break
        chain_ttls.append(cname.ttl)
        current = cname[0].target
        chain.append(current.to_text())
    addr = _find(response.answer, current, rdtype)
    if addr is not None:
        addresses = tuple(rdata.address for rdata in addr)
        chain_ttls.append(addr.ttl)
    shown = qname.to_text()
    type_text = dns.rdatatype.to_text(rdtype)
    if rcode == dns.rcode.NOERROR and addresses:
        return Resolution(shown, addresses, tuple(chain), min(chain_ttls)), min(chain_ttls)
    if rcode == dns.rcode.NOERROR:
        message = (f"{shown} resolved to no address: rcode NOERROR, the answer held no "
                   f"{type_text} record{_chain_text(tuple(chain))} (empty answer)")
        failure = DnsFailure(FailureKind.EMPTY_ANSWER, shown, rcode_text, message)
        return failure, _negative_ttl(response, chain_ttls)
    if rcode == dns.rcode.NXDOMAIN:
        message = (f"{shown} does not exist: rcode NXDOMAIN{_chain_text(tuple(chain))} "
                   f"(no such name)")
        failure = DnsFailure(FailureKind.NXDOMAIN, shown, rcode_text, message)
        return failure, _negative_ttl(response, chain_ttls)
    message = f"{shown} could not be resolved: the DNS server answered rcode {rcode_text}"
    # RFC 2308 §7.1: a server failure may be cached for at most five minutes; we do not cache
    # it at all, so that recovery is seen on the next request.
    return DnsFailure(FailureKind.RCODE, shown, rcode_text, message), 0


@dataclass(frozen=True, slots=True)
class _Entry:
    outcome: Resolution | DnsFailure
    expires_at: float


class AnswerCache:
    """A TTL cache of resolutions over an injected clock (seconds, monotonic)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, int], _Entry] = {}

    def get(self, name: str, rdtype: int) -> Resolution | DnsFailure | None:
        entry = self._entries.get((name, rdtype))
        if entry is None:
            return None
        if self._clock() >= entry.expires_at:
            del self._entries[(name, rdtype)]
            return None
        return entry.outcome

    def put(self, name: str, rdtype: int, outcome: Resolution | DnsFailure, ttl_s: int) -> None:
        if ttl_s <= 0:
            self._entries.pop((name, rdtype), None)
            return
        self._entries[(name, rdtype)] = _Entry(outcome, self._clock() + ttl_s)

    def clear(self) -> None:
        self._entries.clear()


class _DatagramExchange(asyncio.DatagramProtocol):
    """One query over a connected UDP socket: the first matching reply, or the socket error."""

    def __init__(self, query: dns.message.Message) -> None:
        self._query = query
        self.reply: asyncio.Future[dns.message.Message] = (
            asyncio.get_running_loop().create_future())

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if self.reply.done():
            return
        try:
            response = dns.message.from_wire(data)
        except dns.exception.DNSException as exc:
            self.reply.set_exception(exc)
            return
        if self._query.is_response(response):
            self.reply.set_result(response)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc or ConnectionError("UDP socket closed"))


class DnsResolver(AbstractResolver):
    """Resolve names by asking one DNS server (host, port) directly, honouring record TTLs.

    `clock` is a monotonic clock in seconds (injected so tests move time instead of sleeping).
    `timeout_s` bounds each query; a server that does not answer fails the lookup with
    `FailureKind.NO_ANSWER`. `max_negative_ttl_s` caps negative caching like a resolver's
    max-ncache-ttl. Use `async with` or call `close()`.
    """

    def __init__(
        self,
        server: tuple[str, int],
        *,
        clock: Clock = time.monotonic,
        timeout_s: float = 0.5,
        max_negative_ttl_s: int = 60,
    ) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self.max_negative_ttl_s = max_negative_ttl_s
        self._cache = AnswerCache(clock)
        self._inflight: dict[tuple[str, int], asyncio.Task[Resolution | DnsFailure]] = {}
        self.queries_sent = 0

    async def __aenter__(self) -> DnsResolver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def lookup(self, host: str, rdtype: int = dns.rdatatype.A) -> Resolution | DnsFailure:
        """The resolution of `host` (from the cache while its TTL lasts), never raising for DNS
        reasons: a failure comes back as a `DnsFailure` value."""
        name = dns.name.from_text(host).to_text().lower()
        key = (name, int(rdtype))
        cached = self._cache.get(name, rdtype)
        if cached is not None:
            return cached
        task = self._inflight.get(key)
        if task is None:
            # One query per name at a time, owned by no single request: a request that is
            # cancelled does not cancel the lookup the others are waiting for.
            task = asyncio.create_task(self._query(name, dns.rdatatype.RdataType(rdtype)))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _query(self, name: str, rdtype: dns.rdatatype.RdataType) -> Resolution | DnsFailure:
        host, port = self.server
        query = dns.message.make_query(name, rdtype)
        self.queries_sent += 1
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._udp(query)
                if response.flags & dns.flags.TC:
                    response = await dns.asyncquery.tcp(query, host, port=port)
        except (OSError, TimeoutError, dns.exception.DNSException) as exc:
            why = ("no reply within "
                   f"{self.timeout_s:g} s (timeout)" if isinstance(exc, TimeoutError)
                   else f"{type(exc).__name__}: {exc}")
            message = f"DNS server {host}:{port} did not answer for {name}: {why}"
            log.info("%s", message)
            return DnsFailure(FailureKind.NO_ANSWER, name, None, message)
        outcome, ttl_s = classify_response(name, rdtype, response)
        if isinstance(outcome, DnsFailure):
            ttl_s = min(ttl_s, self.max_negative_ttl_s)
            log.info("%s (cached %d s)", outcome.message, ttl_s)
        self._cache.put(name, rdtype, outcome, ttl_s)
        return outcome

    async def _udp(self, query: dns.message.Message) -> dns.message.Message:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _DatagramExchange(query), remote_addr=self.server)
        try:
            transport.sendto(query.to_wire())
            return await protocol.reply
        finally:
            transport.close()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """aiohttp's resolver contract: the addresses of `host`, or OSError (here the subclass
        `DnsResolutionError`, whose `.failure` says why). Family 0 means "any": A records."""
        if family == socket.AF_INET6:
            rdtype, out_family = dns.rdatatype.AAAA, socket.AF_INET6
        else:
            rdtype, out_family = dns.rdatatype.A, socket.AF_INET
        outcome = await self.lookup(host, rdtype)
        if isinstance(outcome, DnsFailure):
            raise DnsResolutionError(outcome)
        return [
            ResolveResult(hostname=host, host=address, port=port, family=out_family,
                          proto=0, flags=socket.AI_NUMERICHOST)
            for address in outcome.addresses
        ]

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._cache.clear()
