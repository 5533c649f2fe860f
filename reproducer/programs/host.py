"""The programs' side of the machine: listeners, processes and their lifecycle, on one asyncio
loop in a background thread.

Theory of operation
-------------------
- Rule 1 (one loop, one thread): every socket and every process of the programs lives on one
  event loop, run by one daemon thread of this Python process (`host()`). The scheduler's
  thread never touches them: it takes held requests from a thread-safe queue and hands answers
  back with `call_soon_threadsafe`. So the synchronous simulation, the samplers, the minimiser
  and breadth-first search drive programs through the plain `Worker` protocol.
- Rule 2 (a slot per program, the port says who): a `Slot` is one set of listeners on
  127.0.0.1 ephemeral ports — DNS (UDP and TCP on one port, TSIG-checked with the program's own
  key), the Route 53 API, the plan store — serving one process at a time. A message is turned
  into an action (`reproducer.programs.wire`) and put, as a `Held` request, on the slot's
  queue; nothing is applied here. Slots are reused from process to process; each process gets
  a new epoch, and whatever an older process left in a slot's queue is dropped.
- Rule 3 (retransmissions): a datagram with the id and content of a request that is held is
  the same request (only the address to answer is updated); one with those of the request
  answered last gets that answer again.
- Rule 4 (processes): a program runs in a session and process group of its own, with stdin
  from /dev/null and its stdout and stderr kept as bounded tails. Its exit is an event on its
  slot's queue. Ending a session kills the whole group. Every program is started by a
  spawner (`forkserver.py`), a child of this process that forks it and reports its exit, and
  that kills every process it started once its socket to us closes, however we end (a
  SIGKILL included): nothing a command starts outlives it.
- Rule 5 (a fork server): a `python SCRIPT ARGS` program is forked from a spawner that has
  already imported what SCRIPT imports, one per interpreter, script and folder: a start costs
  a fork and the script's own work, not an interpreter's start and its imports. Any other
  command (or with `settings.fork_server` off) is executed by a spawner of plain commands.
- Rule 6 (a pool): processes are started ahead, `pool` per program and enactor name, each on
  a slot of its own, so that a run claims a process that has already started (and imported
  what it imports) and usually already sent its first request. Claimed sessions are bounded
  (`max_live`): past it, the least recently used one is ended (its worker value re-executes
  the program if it is ever moved again).
"""

from __future__ import annotations

import array
import asyncio
import atexit
import base64
import collections
import concurrent.futures
import contextlib
import json
import logging
import os
import queue
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from fake_dns import DnsRequest, read_request
from reproducer.programs.wire import (
    HttpAnswer,
    dns_action,
    dns_answer,
    plan_store_action,
    plan_store_answer,
)
from reproducer.world.values import (
    Action,
    EnactorError,
    Layout,
    Result,
    Route53Answer,
    Route53Call,
    describe_action,
    request_digest,
)

__all__ = ["DEFAULT_QUIET_TIMEOUT_S", "DEFAULT_SHRINK_BUDGET_S", "Exited", "Held", "ProgramError",
           "ProgramHost", "ProgramSpec", "Session", "Settings", "host", "settings", "shutdown"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
TAIL_BYTES = 4096  # of a program's stdout and stderr, kept for messages
_EXIT_DRAIN_S = 1.0  # after an exit, how long its pipes may stay open (a child holding them)


DEFAULT_QUIET_TIMEOUT_S = 10.0
DEFAULT_SHRINK_BUDGET_S = 30.0


@dataclass(slots=True)
class Settings:
    """How this process runs programs: how long one may stay quiet after an answer
    (`--quiet-timeout`); whether `python SCRIPT` programs are forked from a server that has
    their imports loaded (`forkserver.py`; `--no-fork-server` turns it off); how long the
    minimiser may replay programs' runs (`--shrink-budget`; every replay starts processes)."""

    quiet_timeout_s: float = DEFAULT_QUIET_TIMEOUT_S
    fork_server: bool = True
    shrink_budget_s: float = DEFAULT_SHRINK_BUDGET_S
    pool: int = 1  # processes started ahead, per program and enactor (Rule 6)


settings = Settings()


class ProgramError(EnactorError):
    """A program broke the contract or failed: it could not start, exited non-zero, fell
    quiet, or asked for something else on replay. The message names the enactor and says
    what happened."""


@dataclass(frozen=True, slots=True)
class ProgramSpec:
    """What a process is started from: the command, the enactor it plays, the world's layout
    (its zone and endpoints), and the working directory."""

    command: str
    name: str
    layout: Layout
    cwd: str

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)


@dataclass(slots=True, eq=False)
class Held:
    """A request a program sent, held at its listener until it is answered."""

    action: Action
    text: str  # the request in words
    epoch: int
    respond: Callable[[Result], None]  # called on the loop's thread


@dataclass(frozen=True, slots=True)
class Exited:
    """The program's process ended: its status (negative: killed by that signal)."""

    returncode: int
    stderr: str
    epoch: int


Event = Held | Exited


class _Tail:
    """The last TAIL_BYTES of a stream."""

    def __init__(self) -> None:
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > TAIL_BYTES:
            del self.data[:-TAIL_BYTES]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class _DnsUdp(asyncio.DatagramProtocol):
    def __init__(self, slot: Slot) -> None:
        self.slot = slot

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.slot.udp = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self.slot.datagram(data, addr)
        except Exception:  # our bug, not the program's: log it, keep serving
            log.exception("%s: internal error on a %d-byte datagram", self.slot, len(data))


@dataclass(eq=False)
class Slot:
    """One program's listeners (Rule 2), on the host's loop."""

    index: int
    events: queue.SimpleQueue[Event] = field(default_factory=queue.SimpleQueue)
    epoch: int = 0
    name: str = ""
    layout: Layout = field(default_factory=Layout)
    keys: dict[str, bytes] = field(default_factory=dict)
    udp: asyncio.DatagramTransport | None = None
    dns_port: int = 0
    route53_port: int = 0
    plans_port: int = 0
    process: _Process | None = None
    _held_udp: dict[tuple[int, str], tuple[str | Any, int]] = field(default_factory=dict)
    _answered_udp: collections.OrderedDict[tuple[int, str], bytes] = field(
        default_factory=collections.OrderedDict)
    _closers: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"slot {self.index} ({self.name or 'idle'})"

    def arm(self, name: str, layout: Layout) -> str:
        """Ready for a new process playing `name`: a new epoch, a new key, nothing held.
        Returns the key as NAME:BASE64SECRET."""
        self.epoch += 1
        self.name = name
        self.layout = layout
        secret = secrets.token_bytes(32)
        self.keys = {f"{name}.": secret}
        self._held_udp.clear()
        self._answered_udp.clear()
        return f"{name}:{base64.b64encode(secret).decode()}"

    def hold(self, action: Action, text: str, respond: Callable[[Result], None]) -> None:
        self.events.put(Held(action, text, self.epoch, respond))

    # -- DNS --------------------------------------------------------------------------------

    def datagram(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        request = read_request(data, tcp=False, keys=self.keys, now=int(time.time()))
        if request is None:
            return
        udp = self.udp
        assert udp is not None
        if isinstance(request, bytes):
            udp.sendto(request, addr)
            return
        action = dns_action(request)
        key = (request.id, request_digest(action))
        if key in self._held_udp:  # Rule 3: a retransmission of a held request
            self._held_udp[key] = addr
            return
        answered = self._answered_udp.get(key)
        if answered is not None:  # Rule 3: a retransmission of one already answered
            udp.sendto(answered, addr)
            return
        self._held_udp[key] = addr
        epoch = self.epoch

        def respond(result: Result) -> None:
            if epoch != self.epoch or key not in self._held_udp:
                return
            wire = dns_answer(request, result, self.keys, int(time.time()))
            to = self._held_udp.pop(key)
            self._answered_udp[key] = wire
            while len(self._answered_udp) > 16:
                self._answered_udp.popitem(last=False)
            udp.sendto(wire, to)

        self.hold(action, request.describe(), respond)

    async def dns_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """RFC 7766: length-framed messages, answered in order on the connection."""
        try:
            while True:
                length = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(length)
                request = read_request(data, tcp=True, keys=self.keys, now=int(time.time()))
                if request is None:
                    continue
                if not isinstance(request, DnsRequest):
                    answer = request
                else:
                    result = await self._held(dns_action(request), request.describe())
                    answer = dns_answer(request, result, self.keys, int(time.time()))
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _held(self, action: Action, text: str) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()

        def respond(result: Result) -> None:
            if not future.done():
                future.set_result(result)

        self.hold(action, text, respond)
        return await future

    # -- HTTP -------------------------------------------------------------------------------

    async def route53(self, http: Any) -> Any:
        from aiohttp import web

        from fake_dns.route53 import parse_request

        body = await http.read()
        request = parse_request(http.method, http.path, http.query.items(), http.headers, body)
        call = Route53Call(request, self.name)
        result = await self._held(call, request.describe())
        assert isinstance(result, Route53Answer), result
        response = result.response
        return web.Response(status=response.status, headers=dict(response.headers),
                            body=response.body)

    async def plans(self, http: Any) -> Any:
        from aiohttp import web

        got = plan_store_action(http.method, http.path, http.query)
        answer = got if isinstance(got, HttpAnswer) else plan_store_answer(
            await self._held(got, describe_action(got)), self.layout)
        return web.Response(status=answer.status, headers=dict(answer.headers),
                            body=answer.body or None)

    # -- lifecycle ----------------------------------------------------------------------------

    async def listen(self) -> None:
        """Bind the three listeners on 127.0.0.1, ports chosen by the system."""
        from aiohttp import web

        loop = asyncio.get_running_loop()
        for attempt in range(8):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _DnsUdp(self), local_addr=("127.0.0.1", 0))
            port = transport.get_extra_info("sockname")[1]
            try:
                tcp = await asyncio.start_server(self.dns_tcp, "127.0.0.1", port,
                                                 reuse_address=True)
            except OSError:
                transport.close()  # another socket has the TCP side of this port: again
                if attempt == 7:
                    raise
                continue
            break
        self.dns_port = port

        async def close_dns() -> None:
            transport.close()
            tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tcp.wait_closed(), 1.0)

        self._closers.append(close_dns)
        for handler, attr in ((self.route53, "route53_port"), (self.plans, "plans_port")):
            app = web.Application(client_max_size=(1 << 20) + 1)
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                   shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            setattr(self, attr, runner.addresses[0][1])
            self._closers.append(runner.cleanup)

    async def close(self) -> None:
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()
        self._closers.clear()


class Session:
    """One process of a program on one slot: what a `ProgramWorker` holds (its live part).
    Used from the scheduler's thread; every effect goes through the host's loop."""

    def __init__(self, host: ProgramHost, spec: ProgramSpec, slot: Slot, epoch: int,
                 process: _Process, stdout: _Tail, stderr: _Tail) -> None:
        self.host = host
        self.spec = spec
        self.slot = slot
        self.epoch = epoch
        self.process = process
        self.stdout = stdout
        self.stderr = stderr
        self.alive = True  # False once ended: a worker value holding it re-executes
        self.requests = 0  # requests taken from it so far
        self.last = "nothing yet"  # what it last received, in words
        self.started_s = time.perf_counter()

    def __repr__(self) -> str:
        return f"Session({self.spec.name}, pid {self.process.pid}, {self.requests} requests)"

    def next_event(self, timeout_s: float) -> Event | None:
        """The program's next request or its exit; None when neither came within `timeout_s`
        (it is quiet). The time spent waiting is counted (`ProgramHost.waited_s`)."""
        start = time.monotonic()
        deadline = start + timeout_s
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    event = self.slot.events.get(timeout=left)
                except queue.Empty:
                    return None
                if event.epoch != self.epoch:
                    continue  # left by an earlier process of this slot (Rule 2)
                if isinstance(event, Held):
                    self.requests += 1
                return event
        finally:
            self.host.waited_s += time.monotonic() - start

    def answer(self, held: Held, result: Result) -> None:
        self.last = _said(result)
        self.host.touch(self)
        self.host.loop.call_soon_threadsafe(held.respond, result)

    def end(self) -> None:
        """Kill the process group (if it still runs) and give the slot back; at once."""
        if self.alive:
            self.alive = False
            self.host.end(self)


def _said(result: Result) -> str:
    from reproducer.world.values import describe_result

    return describe_result(result)


class ProgramHost:
    """The loop thread with every slot and process (module docstring)."""

    def __init__(self, *, max_live: int = 8) -> None:
        self.max_live = max_live
        self.waited_s = 0.0  # the scheduler's time waiting for programs (for the benchmark)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="reproducer-programs",
                                        daemon=True)
        self._lock = threading.Lock()
        self._slots: list[Slot] = []
        self._free: list[Slot] = []
        self._ready: dict[ProgramSpec, collections.deque[concurrent.futures.Future[Session]]] = {}
        self._live: collections.OrderedDict[Session, None] = collections.OrderedDict()
        self._closed = False
        self._tasks: set[asyncio.Future[None]] = set()
        self._found: set[ProgramSpec] = set()
        self._spawners: dict[tuple[str, str | None, str], asyncio.Future[_Spawner]] = {}
        self.started = 0  # processes started, for the benchmark
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coroutine: Coroutine[Any, Any, _T], timeout_s: float | None = None) -> _T:
        """Run `coroutine` on the loop and wait for it (from another thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    # -- claiming -----------------------------------------------------------------------------

    def claim(self, spec: ProgramSpec) -> Session:
        """A started process of `spec` (from the pool when one is there), claimed for a run;
        the pool starts the next one at once (Rule 5)."""
        if self._closed:
            raise ProgramError("the programs' host has been shut down")
        if spec not in self._found:
            if not _runnable(spec):
                raise ProgramError(f"--program {spec.command!r}: cannot start it: no "
                                   f"command {spec.argv[0]!r} on PATH or in {spec.cwd}")
            self._found.add(spec)
        with self._lock:
            ready = self._ready.setdefault(spec, collections.deque())
            future = ready.popleft() if ready else None
            missing = settings.pool - len(ready)
        if future is None:
            future = asyncio.run_coroutine_threadsafe(self._start(spec), self.loop)
        for _ in range(max(0, missing)):
            self._prestart(spec)
        session = future.result()
        with self._lock:
            self._live[session] = None
            excess = len(self._live) - self.max_live
            old = list(self._live)[:max(0, excess)]
        for stale in old:
            stale.end()
        return session

    def _prestart(self, spec: ProgramSpec) -> None:
        future = asyncio.run_coroutine_threadsafe(self._start(spec), self.loop)
        with self._lock:
            self._ready.setdefault(spec, collections.deque()).append(future)

    def touch(self, session: Session) -> None:
        with self._lock:
            if session in self._live:
                self._live.move_to_end(session)

    def end(self, session: Session) -> None:
        with self._lock:
            self._live.pop(session, None)
        if not self._closed:
            asyncio.run_coroutine_threadsafe(self._end(session), self.loop)

    # -- on the loop --------------------------------------------------------------------------

    async def _slot(self) -> Slot:
        if self._free:
            return self._free.pop()
        slot = Slot(len(self._slots))
        await slot.listen()
        self._slots.append(slot)
        return slot

    async def _start(self, spec: ProgramSpec) -> Session:
        slot = await self._slot()
        key = slot.arm(spec.name, spec.layout)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "REPRODUCER_ENACTOR": spec.name,
            "REPRODUCER_ZONE": spec.layout.zone,
            "REPRODUCER_DNS": f"127.0.0.1:{slot.dns_port}",
            "REPRODUCER_TSIG_KEY": key,
            "REPRODUCER_PLANS": f"http://127.0.0.1:{slot.plans_port}",
            "AWS_ENDPOINT_URL_ROUTE_53": f"http://127.0.0.1:{slot.route53_port}",
            "AWS_ACCESS_KEY_ID": spec.name,
            "AWS_SECRET_ACCESS_KEY": "reproducer-dummy-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            # nothing of the user's own AWS set-up: no profile, no credentials, no IMDS
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        try:
            script = _python_script(spec.argv, spec.cwd) if settings.fork_server else None
            if script is not None:
                spawner = await self._spawner(spec.argv[0], script, spec.cwd)
                process = await spawner.fork(spec.argv[1:], env, spec.cwd)
            else:
                spawner = await self._spawner(sys.executable, None, "/")
                process = await spawner.fork(spec.argv, env, spec.cwd)
        except (OSError, ValueError) as exc:
            self._free.append(slot)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ProgramError(f"--program {spec.command!r}: cannot start it: {reason}"
                               ) from None
        self.started += 1
        slot.process = process
        stdout, stderr = _Tail(), _Tail()
        readers = [asyncio.ensure_future(_drain(process.stdout, stdout)),
                   asyncio.ensure_future(_drain(process.stderr, stderr))]
        session = Session(self, spec, slot, slot.epoch, process, stdout, stderr)
        waiter = asyncio.ensure_future(self._exit(session, readers))
        self._tasks.add(waiter)
        waiter.add_done_callback(self._tasks.discard)
        log.debug("started %s for %s on %s", spec.command, spec.name, slot)
        return session

    async def _exit(self, session: Session, readers: Sequence[asyncio.Future[None]]) -> None:
        process = session.process
        code = await process.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*readers), _EXIT_DRAIN_S)
        session.slot.events.put(Exited(code, session.stderr.text(), session.epoch))

    async def _end(self, session: Session) -> None:
        slot, process = session.slot, session.process
        # whoever still waits for this process's next request learns at once that it ended
        slot.events.put(Exited(-signal.SIGKILL, "", session.epoch))
        if process.returncode is None:
            process.kill()
            with contextlib.suppress(Exception):
                await process.wait()
        if slot.epoch == session.epoch and slot.process is process:
            slot.process = None
            slot.epoch += 1  # nothing more of this process is taken from its queue
            self._free.append(slot)

    async def _spawner(self, python: str, script: str | None, cwd: str) -> _Spawner:
        """The running spawner of this interpreter, script and folder; started once (the
        processes started meanwhile wait for it)."""
        key = (python, script, cwd)
        starting = self._spawners.get(key)
        if starting is None or (starting.done() and not starting.cancelled()
                                and (starting.exception() is not None
                                     or starting.result().dead)):
            starting = asyncio.ensure_future(_Spawner(python, script, cwd).start())
            self._spawners[key] = starting
        return await asyncio.shield(starting)

    # -- shutting down ------------------------------------------------------------------------

    def close(self) -> None:
        """End every process and listener; the thread stops. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.call(self._close(), timeout_s=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()

    async def _close(self) -> None:
        with self._lock:
            pending = [f for ready in self._ready.values() for f in ready]
            self._ready.clear()
            self._live.clear()
        for slot in self._slots:
            if slot.process is not None and slot.process.returncode is None:
                slot.process.kill()
        for future in pending:
            future.cancel()
        # every request still held, and every other task, is cancelled first: a server does
        # not wait for handlers that wait for an answer that will never come
        await _cancel_others()
        for slot in self._slots:
            if slot.process is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(slot.process.wait(), 5)
            await slot.close()
        for starting in self._spawners.values():
            if starting.done() and not starting.cancelled() and starting.exception() is None:
                await starting.result().close()
        await _cancel_others()  # and what closing them started: nothing is left pending


class _Process(Protocol):
    """What the host needs of a process (a `_Forked`)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def stdout(self) -> asyncio.StreamReader | None: ...

    @property
    def stderr(self) -> asyncio.StreamReader | None: ...

    async def wait(self) -> int: ...

    def kill(self) -> None: ...


_PYTHON = re.compile(r"python(\d+(\.\d+)?)?")
FORK_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forkserver.py")


def _runnable(spec: ProgramSpec) -> bool:
    """The command names an executable file: on PATH, or a path from its folder."""
    first = spec.argv[0]
    if os.sep not in first:
        return shutil.which(first) is not None
    path = os.path.join(spec.cwd, first)
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _python_script(argv: Sequence[str], cwd: str) -> str | None:
    """SCRIPT when the command is `python[X[.Y]] SCRIPT ...` with SCRIPT a file (Rule 5)."""
    if len(argv) < 2 or not _PYTHON.fullmatch(os.path.basename(argv[0])):
        return None
    script = argv[1]
    if script.startswith("-") or not os.path.isfile(os.path.join(cwd, script)):
        return None
    return script


class _Forked:
    """A child of a spawner, seen from here (its exit comes from the spawner: Rule 3 of
    `forkserver.py`)."""

    def __init__(self, spawner: _Spawner, pid: int, stdout: asyncio.StreamReader,
                 stderr: asyncio.StreamReader) -> None:
        self.spawner = spawner
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._exited = asyncio.get_running_loop().create_future()

    def exited(self, status: int) -> None:
        if self.returncode is None:
            self.returncode = status
            self._exited.set_result(status)

    async def wait(self) -> int:
        return int(await asyncio.shield(self._exited))

    def kill(self) -> None:
        """Kill it with its process group (its spawner does, unless it has exited)."""
        if self.returncode is None:
            self.spawner.kill(self.pid)


class _Spawner:
    """One `forkserver.py` process: for one interpreter, script and folder (Rule 5), or, with
    no script, for any command (Rule 4)."""

    def __init__(self, python: str, script: str | None, cwd: str) -> None:
        self.python = python
        self.script = script
        self.cwd = cwd
        self.dead = False
        self._sock: socket.socket | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._ready: asyncio.Future[int] | None = None
        self._forks: collections.deque[asyncio.Future[int]] = collections.deque()
        self._children: dict[int, _Forked] = {}
        self._buffer = b""

    @property
    def what(self) -> str:
        return f"the fork server for {self.script}" if self.script else "the spawner"

    async def start(self) -> _Spawner:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "REPRODUCER_"))}
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.python, FORK_SERVER, self.script or "-", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),), env=env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._ready = loop.create_future()
        loop.add_reader(ours.fileno(), self._readable)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), 60)
        except (TimeoutError, ConnectionError) as exc:
            stderr = b""
            if self._process.stderr is not None:
                with contextlib.suppress(TimeoutError):
                    stderr = await asyncio.wait_for(self._process.stderr.read(4096), 1)
            await self.close()
            raise OSError(0, f"{self.what} did not start "
                             f"({stderr.decode(errors='replace').strip() or exc})") from None
        return self

    def _readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._gone()
            return
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            message = json.loads(line)
            if "ready" in message and self._ready is not None and not self._ready.done():
                self._ready.set_result(int(message["ready"]))
            elif "pid" in message and self._forks:
                self._forks.popleft().set_result(int(message["pid"]))
            elif "exit" in message:
                child = self._children.pop(int(message["exit"]), None)
                if child is not None:
                    child.exited(int(message["status"]))

    def _gone(self, *, expected: bool = False) -> None:
        """The server stopped (`expected`: we closed it, and it ends its children itself):
        nothing more comes from it."""
        self.dead = True
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        failure = ConnectionError(f"{self.what} stopped")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(failure)
        while self._forks:
            self._forks.popleft().set_exception(failure)
        for child in self._children.values():  # their exits cannot be known any more
            if not expected:  # it died: what it started is ours to end
                _kill_group(child.pid)
            child.exited(-signal.SIGKILL)
        self._children.clear()

    async def fork(self, argv: Sequence[str], env: dict[str, str], cwd: str) -> _Forked:
        """A child running `python SCRIPT ARGS` (argv is SCRIPT ARGS), or without a script,
        the command argv."""
        if self._sock is None:
            raise OSError(0, f"{self.what} has stopped")
        loop = asyncio.get_running_loop()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        future: asyncio.Future[int] = loop.create_future()
        try:
            request = json.dumps({"argv": list(argv), "env": env, "cwd": cwd}).encode() + b"\n"
            self._sock.setblocking(True)
            try:
                self._sock.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                array.array("i", [out_w, err_w]))])
            finally:
                self._sock.setblocking(False)
            self._forks.append(future)
        finally:
            os.close(out_w)
            os.close(err_w)
        pid = await future
        stdout, stderr = await _reader(out_r), await _reader(err_r)
        child = _Forked(self, pid, stdout, stderr)
        self._children[pid] = child
        return child

    def kill(self, pid: int) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.send(json.dumps({"kill": pid}).encode() + b"\n")

    async def close(self) -> None:
        """Close its socket: it kills every process it started, and stops (Rule 4 of
        `forkserver.py`)."""
        if self._sock is not None:
            self._gone(expected=True)
        if self._process is not None and self._process.returncode is None:
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


async def _cancel_others() -> None:
    """Cancel every task of the loop but this one, and wait for them to end."""
    for _ in range(3):
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if not others:
            return
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


async def _reader(fd: int) -> asyncio.StreamReader:
    """A StreamReader on the read end of a pipe."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(fd, "rb", buffering=0))
    return reader


async def _drain(stream: asyncio.StreamReader | None, tail: _Tail) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        tail.add(chunk)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


_HOST: ProgramHost | None = None
_HOST_LOCK = threading.Lock()
_HOST_PID = 0


def host() -> ProgramHost:
    """This process's host, started on first use (and again in a forked child)."""
    global _HOST, _HOST_PID
    with _HOST_LOCK:
        if _HOST is None or os.getpid() != _HOST_PID:
            if os.getpid() != _HOST_PID:
                atexit.register(shutdown)  # once per process
            _HOST = ProgramHost()
            _HOST_PID = os.getpid()
        return _HOST


def shutdown() -> None:
    """End every program this process started, and their listeners."""
    global _HOST
    with _HOST_LOCK:
        current, _HOST = _HOST, None
    if current is not None and os.getpid() == _HOST_PID:
        current.close()
