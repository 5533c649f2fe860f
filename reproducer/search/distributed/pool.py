"""Worker processes of one machine: a pool that runs a module-level target function in each, and
knows nothing of what the target does.

Theory of operation
-------------------
Rule 1: a worker runs `target(channel, payload, flag)` and nothing else. The target is a
module-level function (a spawned worker finds it by name) and the payload one frozen value
per worker, of the target's own type. The parent and the worker speak over one pipe each
(`Channel`, on the worker's side), and share one integer (`flag`) that only the parent writes.

Rule 2: a worker exits only when told. When its target returns, or raises (sent to the parent
as `Failed`, which `WorkerPool.wait` raises there), the worker waits for the parent's stop
(None) before it exits; so a pipe that closes before is a worker that died, and `wait` says so
by yielding None for it. Leaving the pool stops every worker: it sets the flag to `STOP`, sends
each the stop, then terminates (and last kills) any that does not exit. That is the same on a
result, an error or Ctrl-C alike: workers ignore SIGINT (Ctrl-C reaches the whole process
group), and the parent is the one to handle it.

Rule 3: only the parent speaks. A worker that died is reported by the parent in one line
naming it (`died`), with what becomes of its work, which the parent decides.

Workers are forked where that is safe (`start_method`: Linux, in memory, one thread), else
started with the "spawn" context: a fresh interpreter each, so no event loop, uvloop policy or
socket of the parent leaks into them.

Rule 4: a worker never outlives its parent. Killed outright (SIGKILL, the OOM killer, a CI job
cancelled), the parent runs no `__exit__`; each worker ends itself as soon as its parent is gone
(`die_with_parent`), rather than searching on for minutes, holding gigabytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any, Generic, Protocol, TypeVar

from reproducer.search.outcome import Progress

__all__ = ["STOP", "Channel", "Failed", "ParentGone", "SharedInt", "Target", "WorkerPool",
           "WorkersLost", "answer_each", "die_with_parent", "portable", "start_method",
           "worker_main"]

log = logging.getLogger(__name__)

STOP = 0  # the shared integer's value that stops every worker (no run index is 0)
_START = 1 << 62  # its value at first: above any run index (`samples`)

P = TypeVar("P")


class WorkersLost(RuntimeError):
    """Every worker process died before the exploration was done: nothing was judged."""


@dataclass(frozen=True, slots=True)
class Failed:
    """A worker's message: it raised outside any run (building a strategy's sources, starting
    its transport, its Hypothesis, a share); the parent raises `error`."""

    error: BaseException


class ParentGone(BaseException):
    """A worker's pipe broke: the parent has gone, and there is no one left to tell. Not an
    `Exception`, so that no handler of a target's own errors (nor Hypothesis) takes it for
    one."""


class SharedInt(Protocol):
    """The integer the parent shares with its workers (a `multiprocessing` raw value)."""

    value: int


class Channel:
    """A worker's end of its pipe to the parent."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn
        self.stopped = False  # the parent has said stop

    def send(self, message: object) -> None:
        try:
            self._conn.send(message)
        except (EOFError, OSError):
            raise ParentGone from None

    def requests(self) -> Iterator[Any]:
        """The parent's requests, until it says stop (None)."""
        while not self.stopped:
            try:
                request = self._conn.recv()
            except (EOFError, OSError):
                raise ParentGone from None
            if request is None:
                self.stopped = True
                return
            yield request


Target = Callable[[Channel, P, SharedInt], None]


def answer_each(channel: Channel, handle: Callable[[Any], object]) -> None:
    """Answer each of the parent's requests with `handle(request)`, until it says stop; a
    request that raised is answered with `Failed`."""
    for request in channel.requests():
        try:
            reply = handle(request)
        except Exception as exc:
            reply = Failed(portable(exc))
        channel.send(reply)


def portable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling to the parent, else a RuntimeError that names it."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        stand_in = RuntimeError(f"{type(exc).__name__}: {exc}")
        stand_in.add_note("".join(traceback.format_exception(exc)))
        return stand_in


class WorkerPool(Generic[P]):
    """One worker process per payload (forked or spawned, `start_method`), each running
    `target` (module docstring). Lifecycle: `with` starts them; leaving it stops them all."""

    def __init__(self, target: Target[P], payloads: Sequence[P], label: str,
                 progress: Progress | None, start_method: str = "spawn") -> None:
        self._ctx: Any = multiprocessing.get_context(start_method)
        self.target = target
        self.payloads = list(payloads)
        self.label = label
        self.progress = progress
        self.flag: SharedInt = self._ctx.RawValue(ctypes.c_longlong, _START)
        self.processes: list[BaseProcess] = []
        self.conns: list[multiprocessing.connection.Connection] = []
        self.alive: set[int] = set()
        self.lost: list[int] = []

    def __enter__(self) -> WorkerPool[P]:
        n = len(self.payloads)
        try:
            for w, payload in enumerate(self.payloads):
                ours, theirs = self._ctx.Pipe()
                process = self._ctx.Process(
                    target=worker_main,
                    args=(theirs, self.target, payload, self.flag, os.getpid()),
                    daemon=True, name=f"reproducer {self.label} worker {w + 1}/{n}")
                self.conns.append(ours)
                try:
                    process.start()
                finally:
                    theirs.close()
                self.processes.append(process)  # started: `__exit__` joins it
                self.alive.add(w)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.flag.value = STOP
        for w in sorted(self.alive):
            self.send(w, None)
        for process in self.processes:
            process.join(timeout=2.0)
            if process.is_alive():
                process.terminate()
                process.join(timeout=2.0)
            if process.is_alive():
                process.kill()
                process.join()
        for conn in self.conns:
            conn.close()
        self.alive.clear()

    def send(self, worker: int, message: object) -> None:
        with contextlib.suppress(OSError):  # it died: its pipe reports that to `wait`
            self.conns[worker].send(message)

    def wait(self, timeout: float) -> Iterator[tuple[int, object]]:
        """(worker, message) for each message that arrives within `timeout`; (worker, None)
        for a worker that died. A worker's `Failed` is raised here."""
        conns = {id(self.conns[w]): w for w in self.alive}
        ready = multiprocessing.connection.wait([self.conns[w] for w in self.alive], timeout)
        for conn in ready:
            assert isinstance(conn, multiprocessing.connection.Connection)
            w = conns[id(conn)]
            try:
                message = conn.recv()
            except (EOFError, OSError):
                self.alive.discard(w)
                self.lost.append(w)
                message = None
            if isinstance(message, Failed):
                raise message.error
            yield w, message

    def died(self, worker: int, doing: str) -> None:
        """Say that `worker` died, and what becomes of its work."""
        process = self.processes[worker]
        process.join(timeout=1.0)
        line = (f"{self.label}: worker {worker + 1} of {len(self.payloads)} (pid "
                f"{process.pid}) died with exit code {process.exitcode}; {doing}")
        if self.progress is not None:
            self.progress(line)
        else:
            log.warning(line)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_S = 0.5


def die_with_parent(parent: int) -> None:
    """Rule 4: end this process as soon as `parent` is gone, whatever it is doing (a worker
    busy in a long level reads no pipe). On Linux the kernel's parent-death signal does it at
    once; everywhere, a thread that looks at the parent every `PARENT_POLL_S` does it too (and
    covers a parent that went before the signal was asked for)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def start_method(transport: str = "memory") -> str:
    """"fork" where it is safe: on Linux, in memory, from a process with no other thread (a
    thread could hold a lock the child would inherit locked; a real transport's event loop and
    sockets stay the parent's). A forked worker starts at once with every module imported; a
    spawned one imports them first."""
    if sys.platform == "linux" and transport == "memory" and threading.active_count() == 1:
        return "fork"
    return "spawn"


def worker_main(conn: multiprocessing.connection.Connection, target: Target[P], payload: P,
                flag: SharedInt, parent: int | None = None) -> None:
    """A worker process (module docstring): the target, then the wait for the stop. With
    `parent` (the pool's pid), it dies with its parent (Rule 4)."""
    if parent is not None:
        die_with_parent(parent)
    # Forked, this process holds every object of its parent: out of the collector's sight
    # (never freed here, and never scanned, which would copy their pages and cost seconds).
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    channel = Channel(conn)
    try:
        try:
            target(channel, payload, flag)
        except Exception as exc:
            channel.send(Failed(portable(exc)))
        for _ in channel.requests():  # Rule 2: wait to be told to stop
            pass
    except ParentGone:
        pass  # there is no one left to tell
    conn.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Done, and nothing is left to close: skip the interpreter's teardown, which would free the
    # simulation's memos (millions of objects after a long exploration) while the parent waits
    # in `WorkerPool.__exit__`. (An exception other than the pipe's still ends the process the
    # usual way, with its traceback and exit code 1.)
    os._exit(0)
