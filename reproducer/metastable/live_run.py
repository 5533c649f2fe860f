"""The second act on real processes: fake_dns, the fake_lb fleet, and the manager's process.

Theory of operation
-------------------
`LiveStage` starts the world once: a fake_dns server (its own process) authoritative for the
endpoint's zone, and a fake_lb fleet (its own process) whose backends hold the lease table, with
bounded work: `capacity` slots in all, split evenly between the backends, each attempt held for
`service_s` (`fake_lb.WorkLimit`). The endpoint's A record names the backends, with TTL 0 and a
negative-caching TTL of 0 (RFC 2308 §5), so the load balancers see the record as it is at every
request: the outage the manager sees is the window in which the record is empty, to a few
milliseconds, as in the model. The name keeps a TXT record, so an emptied A record answers
NOERROR with no address, as the summary says resolvers saw, not NXDOMAIN.

`LiveStage.run(scenario)` runs one scenario: it starts the manager as its own process
(`python -m reproducer.metastable manager ...`, which stops by itself after the scenario's
length), empties the record with a real RFC 2136 UPDATE `warm_s` after the manager is up and
restores it `outage_s` later, turns the manager's counters into the same `Sample`s the model
produces, and lets the same operators' console (`operators.Console`) send its commands to the
manager's stdin. Leaving the stage stops every process it started, Ctrl-C included; a run's
manager process is stopped when its run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from fake_dns import Change, DNSClient, Update
from fake_dns.testing import ServerProcess
from fake_lb import DEFAULT_ENDPOINT, FleetInfo, FleetProcess
from reproducer.metastable.live_manager import decode_counters, encode_command
from reproducer.metastable.operators import Console
from reproducer.metastable.params import FleetParams, ParamError
from reproducer.metastable.scenario import Scenario
from reproducer.metastable.series import Event, Sample, Sampler, Series, record_present

__all__ = ["FIRST_BACKEND", "FIRST_LB", "LiveRunFailed", "LiveStage", "manager_args"]

log = logging.getLogger(__name__)

FIRST_BACKEND = "127.0.2.11"
FIRST_LB = "127.0.2.101"
_KEY_NAME = "metastable-key."
_STOP_TIMEOUT_S = 5.0
_READY_TIMEOUT_S = 20.0
# The samples' clock and the UPDATEs' moments are a few milliseconds apart at best: a sample
# that overlaps the outage by less than this is not marked as one that saw the record empty.
_CLOCK_NOISE_S = 0.01


class LiveRunFailed(RuntimeError):
    """A process of the real run did not do what it must (the message says which, and why)."""


def zone_text(zone: str, endpoint: str) -> str:
    """The endpoint's zone before its addresses are published: SOA MINIMUM 0 (no negative
    caching, RFC 2308 §5) and a TXT record that keeps the name in existence."""
    return "\n".join([f"$ORIGIN {zone}", "$TTL 0",
                      f"@ IN SOA ns1.{zone} hostmaster.{zone} 1 3600 600 86400 0",
                      f"@ IN NS ns1.{zone}",
                      f'{endpoint} 0 IN TXT "the lease table"', ""])


def manager_args(scenario: Scenario, lb_urls: tuple[str, ...]) -> list[str]:
    """The command line of the manager's process for `scenario` (without the interpreter)."""
    p = scenario.params
    args = ["-m", "reproducer.metastable", "manager", "--hosts", str(p.hosts),
            "--lease-s", repr(p.lease_s), "--timeout-s", repr(p.timeout_s),
            "--capacity", str(p.capacity), "--service-s", repr(p.service_s),
            "--retry-delay-s", repr(p.retry_delay_s), "--policy", scenario.policy.name,
            "--seed", str(scenario.seed), "--sample-s", repr(scenario.sample_s),
            "--duration-s", repr(scenario.end_s), "--stdin-commands"]
    for url in lb_urls:
        args += ["--lb", url]
    return args


class LiveStage:
    """fake_dns and a fake_lb fleet as processes, serving a lease table of bounded capacity.
    `async with LiveStage(params) as stage: series = await stage.run(scenario)`; every
    scenario's `capacity` and `service_s` must be the stage's."""

    def __init__(self, params: FleetParams, *, backends: int = 2, lbs: int = 2,
                 endpoint: str = DEFAULT_ENDPOINT, first_backend: str = FIRST_BACKEND,
                 first_lb: str = FIRST_LB) -> None:
        if backends < 1 or lbs < 1:
            raise ParamError(f"the stage needs at least one backend and one load balancer, got "
                             f"backends={backends} and lbs={lbs}")
        if params.capacity % backends:
            raise ParamError(f"capacity={params.capacity} must split evenly between "
                             f"backends={backends} (each backend gets the same slots)")
        self.params = params
        self.endpoint = endpoint.rstrip(".") + "."
        self.zone = self.endpoint.split(".", 1)[1]
        self._backends, self._lbs = backends, lbs
        self._first = (first_backend, first_lb)
        self._secret = os.urandom(32)
        self._stack = contextlib.AsyncExitStack()
        self._dns: ServerProcess | None = None
        self._fleet: FleetProcess | None = None
        self._client: DNSClient | None = None

    @property
    def fleet(self) -> FleetInfo:
        if self._fleet is None:
            raise RuntimeError("the stage is not up: use `async with LiveStage(...)`")
        return self._fleet.info

    @property
    def dns_port(self) -> int:
        if self._dns is None:
            raise RuntimeError("the stage is not up: use `async with LiveStage(...)`")
        return self._dns.port

    async def __aenter__(self) -> LiveStage:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        workdir = Path(self._stack.enter_context(tempfile.TemporaryDirectory(
            prefix="metastable-")))
        zone_file = workdir / "zone.db"
        zone_file.write_text(zone_text(self.zone, self.endpoint))
        key = f"{_KEY_NAME}:{base64.b64encode(self._secret).decode()}"
        dns = ServerProcess(["--zone-file", str(zone_file), "--tsig-key", key,
                             "--log-level", "WARNING"], stderr_path=workdir / "dns.log")
        self._stack.callback(dns.stop)
        try:
            await asyncio.to_thread(dns.start)
        except RuntimeError as exc:
            raise LiveRunFailed(f"the DNS server did not start: {exc}") from None
        self._dns = dns
        per_backend = self.params.capacity // self._backends
        fleet = FleetProcess(
            ("127.0.0.1", dns.port), backends=self._backends, lbs=self._lbs,
            endpoint=self.endpoint, first_backend=self._first[0], first_lb=self._first[1],
            extra_args=["--work-slots", str(per_backend),
                        "--service-ms", repr(self.params.service_s * 1000)])
        self._fleet = await self._stack.enter_async_context(fleet)
        self._client = await self._stack.enter_async_context(
            DNSClient("127.0.0.1", dns.port, key_name=_KEY_NAME, secret=self._secret))
        await self.restore()

    # -- the outage: real RFC 2136 UPDATEs ------------------------------------------------------

    async def _update(self, *changes: Change) -> None:
        if self._client is None:
            raise RuntimeError("the stage is not up: use `async with LiveStage(...)`")
        reply = await self._client.update(Update(self.zone, changes=changes))
        if not reply.ok:
            raise LiveRunFailed(f"the DNS server refused the UPDATE of {self.zone} "
                                f"({reply.rcode.name})")

    async def empty(self) -> None:
        """Delete the endpoint's A record (RFC 2136 §2.5.2): it now resolves to nothing."""
        await self._update(Change.delete_rrset(self.endpoint, "A"))

    async def restore(self) -> None:
        """Publish the backends' addresses again (TTL 0)."""
        await self._update(Change.delete_rrset(self.endpoint, "A"),
                           *(Change.add(self.endpoint, "A", 0, address)
                             for address in self.fleet.backend_addresses))

    # -- one run -------------------------------------------------------------------------------

    async def run(self, scenario: Scenario,
                  on_sample: Callable[[Sample], None] | None = None) -> Series:
        """Run `scenario` on the real processes and return what the manager reported."""
        p = scenario.params
        if (p.capacity, p.service_s) != (self.params.capacity, self.params.service_s):
            raise ParamError(f"the stage serves capacity={self.params.capacity} at service_s="
                             f"{self.params.service_s:g}; the scenario asks for capacity="
                             f"{p.capacity} at service_s={p.service_s:g}")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *manager_args(scenario, self.fleet.lb_urls),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        stderr = asyncio.create_task(_read_all(proc.stderr))
        try:
            return await self._drive(scenario, proc, on_sample)
        except LiveRunFailed as exc:
            await _stop(proc)
            exc.add_note(f"the manager's stderr: {(await stderr).strip() or '(empty)'}")
            raise
        finally:
            await _stop(proc)
            stderr.cancel()
            if scenario.outage_s > 0:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.restore())

    async def _drive(self, scenario: Scenario, proc: asyncio.subprocess.Process,
                     on_sample: Callable[[Sample], None] | None) -> Series:
        ready = await _next_line(proc, _READY_TIMEOUT_S)
        if ready.get("event") != "ready":
            raise LiveRunFailed(f"the manager's first line should say it is ready, got {ready}")
        t0 = float(ready["t0"])
        moments = _Outage()
        outage = asyncio.create_task(self._outage(scenario, t0, moments))
        try:
            series = await self._collect(scenario, proc, t0, moments, on_sample)
            if not outage.done():
                raise LiveRunFailed("the manager's run ended before the DNS repair")
            outage.result()  # a refused UPDATE is the run's failure
        finally:
            outage.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await outage
        return series

    async def _outage(self, scenario: Scenario, t0: float, moments: _Outage) -> None:
        """Empty the record at t0 + warm_s and restore it outage_s later, noting the moments
        (seconds since t0) at which the server had applied each UPDATE."""
        if scenario.outage_s <= 0:
            return
        await asyncio.sleep(max(0.0, t0 + scenario.warm_s - time.monotonic()))
        await self.empty()
        moments.emptied_s = time.monotonic() - t0
        await asyncio.sleep(max(0.0, t0 + scenario.repair_s - time.monotonic()))
        await self.restore()
        moments.restored_s = time.monotonic() - t0

    async def _collect(self, scenario: Scenario, proc: asyncio.subprocess.Process, t0: float,
                       moments: _Outage, on_sample: Callable[[Sample], None] | None) -> Series:
        assert proc.stdin is not None
        console = Console(scenario.params, scenario.policy, scenario.repair_s)
        sampler: Sampler | None = None
        samples: list[Sample] = []
        deadline_s = scenario.end_s + 10.0
        while True:
            data = await _next_line(proc, max(1.0, t0 + deadline_s - time.monotonic()))
            if data.get("event") == "stopped":
                break
            counters = decode_counters(data)
            if sampler is None:  # the first report is the baseline of the rates
                sampler = Sampler(counters, t0)
                continue
            t_s = counters.now - t0
            last_s = samples[-1].t_s if samples else 0.0
            sample = sampler.sample(counters, record_present(last_s, t_s, moments.window(t_s),
                                                             _CLOCK_NOISE_S))
            samples.append(sample)
            if on_sample is not None:
                on_sample(sample)
            for command in console.on_sample(sample):
                proc.stdin.write((encode_command(command) + "\n").encode())
                await proc.stdin.drain()
        window = moments.window(math.inf)
        events = [Event(window[0], "record emptied"), Event(window[1], "DNS repaired"),
                  *console.events] if window is not None else list(console.events)
        start_s, end_s = window if window is not None else (scenario.warm_s, scenario.warm_s)
        return Series(hosts=scenario.params.hosts,
                      steady_rate_per_s=scenario.params.steady_rate_per_s,
                      outage_start_s=start_s, outage_end_s=end_s, samples=tuple(samples),
                      events=tuple(events),
                      label=f"{scenario.policy.name}, {scenario.params.hosts} hosts, "
                            f"outage {scenario.outage_s:g} s (real run)")


@dataclass
class _Outage:
    """When the server applied the UPDATEs, in seconds since the manager's t0 (None: not yet)."""

    emptied_s: float | None = None
    restored_s: float | None = None

    def window(self, now_s: float) -> tuple[float, float] | None:
        """The outage as known at `now_s`: still open if the record is not restored yet."""
        if self.emptied_s is None:
            return None
        return (self.emptied_s, now_s if self.restored_s is None else self.restored_s)


async def _next_line(proc: asyncio.subprocess.Process, timeout_s: float) -> dict[str, Any]:
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(timeout_s):
            line = await proc.stdout.readline()
    except TimeoutError:
        raise LiveRunFailed(f"the manager said nothing for {timeout_s:.0f} s") from None
    if not line:
        code = await proc.wait()
        raise LiveRunFailed(f"the manager exited (status {code}) before its run was over")
    try:
        data: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        raise LiveRunFailed(f"the manager wrote a line that is not JSON: {line!r}") from None
    return data


async def _read_all(stream: asyncio.StreamReader | None) -> str:
    if stream is None:
        return ""
    return (await stream.read()).decode(errors="replace")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Close its stdin (its signal to stop), then SIGTERM, then SIGKILL: it never outlives us."""
    if proc.returncode is not None:
        return
    if proc.stdin is not None and not proc.stdin.is_closing():
        proc.stdin.close()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            async with asyncio.timeout(_STOP_TIMEOUT_S):
                await asyncio.shield(proc.wait())
            return
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
    await proc.wait()
