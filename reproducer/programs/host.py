"""The programs' side of the machine: listeners, processes and their lifecycle, on one asyncio
loop in a background thread.

Theory of operation
-------------------
- Rule 1 (one loop, one thread): every socket and every process of the programs lives on one
  event loop, run by one daemon thread of this Python process (`host()`). The scheduler's
  thread never touches them: it takes held requests from a thread-safe queue and hands answers
  back with `call_soon_threadsafe`. So the synchronous simulation, the samplers, the minimiser
  and breadth-first search drive programs through the plain `Worker` protocol.
- Rule 2 (a slot per process): a process is started on a `Slot`, one set of listeners
  (`listeners.py`: DNS, Route 53, the plan store) whose ports and key are in its environment;
  the port says who sent a message. Slots are reused from process to process.
- Rule 3 (processes): a program runs in a session and process group of its own, with stdin
  from /dev/null and its stdout and stderr kept as bounded tails; its exit is an event on its
  slot's queue. Every program is started by a spawner (`spawner.py`, `forkserver.py`) that
  kills what it started once this process is gone, however it ends: nothing a command starts
  outlives it. Ending a session kills the program's whole process group.
- Rule 4 (a fork server): a `python SCRIPT ARGS` program is forked from a spawner that has
  already imported what SCRIPT imports, one per interpreter, script and folder; any other
  command (or every one, with `settings.fork_server` off) is executed as it is.
- Rule 5 (a pool): processes are started ahead, `settings.pool` per program and enactor name,
  each on a slot of its own, so that a run claims a process that has already started (and
  imported what it imports) and usually already sent its first request. Claimed sessions are
  bounded (`max_live`): past it, the least recently used one is ended (its worker value
  re-executes the program if it is ever moved again).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import logging
import os
import queue
import shlex
import signal
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from reproducer.programs.listeners import Event, Exited, Held, Slot
from reproducer.programs.spawner import Process, Spawner, python_script, runnable
from reproducer.world.values import EnactorError, Layout, Result, describe_result

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
    pool: int = 1  # processes started ahead, per program and enactor (Rule 5)


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


class Session:
    """One process of a program on one slot: what a `ProgramWorker` holds (its live part).
    Used from the scheduler's thread; every effect goes through the host's loop."""

    def __init__(self, host: ProgramHost, spec: ProgramSpec, slot: Slot, epoch: int,
                 process: Process, stdout: _Tail, stderr: _Tail) -> None:
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
                    continue  # left by an earlier process of this slot
                if isinstance(event, Held):
                    self.requests += 1
                return event
        finally:
            self.host.waited_s += time.monotonic() - start

    def answer(self, held: Held, result: Result) -> None:
        self.last = describe_result(result)
        self.host.touch(self)
        self.host.loop.call_soon_threadsafe(held.respond, result)

    def end(self) -> None:
        """Kill the process group (if it still runs) and give the slot back; at once."""
        if self.alive:
            self.alive = False
            self.host.end(self)


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
        self._spawners: dict[tuple[str, str | None, str], asyncio.Future[Spawner]] = {}
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
            if not runnable(spec.argv, spec.cwd):
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
            script = python_script(spec.argv, spec.cwd) if settings.fork_server else None
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
            slot.release()  # nothing more of this process is taken from its queue
            self._free.append(slot)

    async def _spawner(self, python: str, script: str | None, cwd: str) -> Spawner:
        """The running spawner of this interpreter, script and folder; started once (the
        processes started meanwhile wait for it)."""
        key = (python, script, cwd)
        starting = self._spawners.get(key)
        if starting is None or (starting.done() and not starting.cancelled()
                                and (starting.exception() is not None
                                     or starting.result().dead)):
            starting = asyncio.ensure_future(Spawner(python, script, cwd).start())
            self._spawners[key] = starting
        return await asyncio.shield(starting)

    # -- shutting down ------------------------------------------------------------------------

    def close(self) -> None:
        """End every process and listener; the thread stops. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            for session in self._live:
                session.alive = False  # a worker value still holding one re-executes
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


async def _cancel_others() -> None:
    """Cancel every task of the loop but this one, and wait for them to end."""
    for _ in range(3):
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if not others:
            return
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


async def _drain(stream: asyncio.StreamReader | None, tail: _Tail) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        tail.add(chunk)


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
