"""Breadth-first search with its visited set split over the workers of a Dask cluster, for more
machines than one: `reproducer explore --strategy bfs --cluster tcp://HOST:PORT`.

Theory of operation
-------------------
Rule 1: one share per cluster worker, each a Dask actor. A share is a `partition.Partition`
living in a worker process (an actor keeps its part of the visited set in place between
calls); the level loop is `levels.search_levels`, the same as on one machine, so the
verdict, state count, steps and shortest story are one process's. Shares are placed
round-robin over the workers the scheduler lists. One share per worker, not per thread: a
share is pure Python (one thread holds the GIL), and a Dask worker runs every actor method of
that worker on one actor thread anyway, so two shares in one worker take turns; more shares
would only mean more messages. Every share must identify states as the driver does (the same
reproducer code on every machine): each share's root identity is checked against the driver's
when the shares start (`ClusterError` names the workers that differ).

Rule 2: the driver (this process) calls every share's method at once and gathers the answers,
waiting at most `POLL_S` at a time; between waits it asks the scheduler whether each share's
worker is still there. A worker that left (its process died, its machine went away), a call
that cannot reach its worker, or an answer from a share that is not the one created (a
worker restarted by its nanny on the same address re-creates the actor, empty) is a lost
share: `ShareLost`, with the workers still in the cluster, and `search_partitioned` starts
again from the beginning on them (`levels`, Rule 3). Any other exception is the share's
own and is raised as is.

Rule 3: nothing of Dask is imported until a search on a cluster is asked for, and nothing is
started: the driver joins a running cluster as a client (`ClusterError` when it cannot, or
when Dask is not installed), and leaving releases its actors and closes the client, on a
result, an error or Ctrl-C alike.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from reproducer.running.engine import Engine
from reproducer.search.distributed.levels import (
    SHARE_METHODS,
    ShareLost,
    answer,
    search_partitioned,
)
from reproducer.search.distributed.partition import Partition
from reproducer.search.exhaustive.bfs import DEFAULT_MAX_STATES
from reproducer.search.exhaustive.expansion import Expansion, stable_identity
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS, Identity
from reproducer.search.outcome import Exploration, Progress
from reproducer.world.config import Config

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["INSTALL_HINT", "ClusterError", "ClusterShare", "DaskShares",
           "explore_bfs_on_cluster", "root_identity"]

log = logging.getLogger(__name__)

INSTALL_HINT = ("pip install 'dns-race-reproducer[cluster]' (in a clone: "
                "pip install -e '.[cluster]')")
CONNECT_TIMEOUT_S = 10.0
GREETING_S = 3.0  # a Dask scheduler speaks first, at once, to a new connection
POLL_S = 0.5  # longest wait for an answer before asking whether its worker is still there
METHODS = ("root", *SHARE_METHODS)


class ClusterError(RuntimeError):
    """The cluster cannot be used: Dask is not installed, nothing answers at the address, it
    has no workers, a worker runs other code, or the scheduler stopped answering. Nothing was
    proved."""


class ClusterShare:
    """The actor of one share: a `Partition`, and a token that names this very object, so the
    driver can tell it from a share re-created in its place (Rule 2)."""

    def __init__(self, config: Config, index: int, count: int, reductions: list[str]) -> None:
        self.token = f"{os.getpid()}-{uuid.uuid4().hex}"
        self.share = Partition(config, index, count, reductions)
        self.root = root_identity(self.share.engine, self.share.identity)

    def call(self, method: str, args: tuple[Any, ...]) -> tuple[str, Any]:
        """(this share's token, the answer of `Partition.<method>(*args)`)."""
        if method == "root":
            return self.token, self.root
        return self.token, answer(self.share, method, args)


class DaskShares:
    """`count` shares as actors on the workers of `client`'s cluster (`levels.Shares`)."""

    def __init__(self, client: Client, config: Config, count: int,
                 reductions: tuple[str, ...]) -> None:
        self.client = client
        self.config = config
        self.count = count
        self.reductions = reductions
        self.places: list[str] = []  # the worker address of each share
        self._futures: list[Any] = []
        self._actors: list[Any] = []
        self._tokens: list[str] = []
        self._gone: set[str] = set()  # workers known to have left

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> DaskShares:
        try:
            workers = sorted(self._workers())
            if not workers:
                raise ClusterError("the cluster has no workers: start some with "
                                   "dask worker SCHEDULER_ADDRESS")
            self.places = [workers[i % len(workers)] for i in range(self.count)]
            run = uuid.uuid4().hex[:8]
            self._futures = [
                self.client.submit(ClusterShare, self.config, i, self.count,
                                   list(self.reductions), actor=True, workers=[place],
                                   allow_other_workers=False,
                                   key=f"reproducer-share-{i + 1}-of-{self.count}-{run}")
                for i, place in enumerate(self.places)]
            self._actors = self._gather(list(enumerate(self._futures)), "start")
            roots = self._gather([(i, self._ask(i, "root", ())) for i in
                                  range(len(self._actors))], "start")
            self._tokens = [token for token, _ in roots]
            _check_same_code(self.config, self.reductions, self.places,
                             [root for _, root in roots])
        except BaseException:
            self.__exit__()
            raise
        log.info("bfs: %d shares on %s", self.count, ", ".join(self.places))
        return self

    def __exit__(self, *exc: object) -> None:
        futures, self._futures, self._actors = self._futures, [], []
        if futures:
            try:
                self.client.cancel(futures)  # type: ignore[no-untyped-call]  # frees them
            except Exception as error:  # the scheduler went away: its actors went with it
                log.debug("bfs: releasing the shares failed: %s", error)

    # -- Shares ------------------------------------------------------------------------------

    def alive(self) -> int:
        """The shares whose worker is still in the cluster."""
        workers = self._workers()
        return sum(1 for place in self.places if place in workers)

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        """Every share's (or the first len(args) shares') answer, called at once."""
        calls = [(i, self._ask(i, method, a)) for i, a in enumerate(args)]
        answers = self._gather(calls, method)
        out = []
        for i, (token, reply) in enumerate(answers):
            if token != self._tokens[i]:
                self._gone.add(self.places[i])
                raise self._lost(i, "was restarted, and its share of the states with it")
            out.append(reply)
        return out

    # -- waiting, and telling a lost share from a share's own error ---------------------------

    def _ask(self, i: int, method: str, args: tuple[Any, ...]) -> Any:
        """Share i's call, as a future. Dask may refuse at once, before there is a future to
        wait on ("Worker holding Actor was lost"): that too is a lost share."""
        try:
            return self._actors[i].call(method, args)
        except Exception as exc:
            if self._is_loss(i, exc):
                raise self._lost(i, f"could not be reached ({type(exc).__name__}: "
                                    f"{exc})") from None
            raise

    def _gather(self, calls: list[tuple[int, Any]], doing: str) -> list[Any]:
        answers: dict[int, Any] = {}
        pending = dict(calls)
        while pending:
            i, future = next(iter(pending.items()))
            try:
                answers[i] = future.result(timeout=POLL_S)
            except TimeoutError:
                workers = self._workers()
                for j in pending:
                    if self.places[j] not in workers:
                        self._gone.add(self.places[j])
                        raise self._lost(j, "left the cluster") from None
                continue
            except Exception as exc:
                if self._is_loss(i, exc):
                    raise self._lost(i, f"could not be reached ({type(exc).__name__}: "
                                        f"{exc})") from None
                raise
            del pending[i]
        log.debug("bfs: %s answered by %d shares", doing, len(answers))
        return [answers[i] for i in sorted(answers)]

    def _is_loss(self, i: int, exc: BaseException) -> bool:
        from distributed import KilledWorker  # Dask, the optional extra: loaded lazily (Rule 3)

        place = self.places[i]
        lost = (isinstance(exc, OSError | KilledWorker) or "was lost" in str(exc)
                or place not in self._workers())
        if lost:
            self._gone.add(place)
        return lost

    def _lost(self, i: int, what: str) -> ShareLost:
        left = len(self._workers() - self._gone)
        return ShareLost(f"share {i + 1} of {self.count}: its worker {self.places[i]} {what}",
                         left)

    def _workers(self) -> set[str]:
        """The workers in the cluster now; `ClusterError` when the scheduler is gone (the
        client tries to reconnect for its timeout first): without it there is no cluster."""
        client = self.client
        deadline = time.monotonic() + CONNECT_TIMEOUT_S + 1.0
        while client.status == "connecting" and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            info = client.scheduler_info() if client.status == "running" else {}
        except (OSError, TimeoutError):
            info = {}
        if "workers" not in info:
            raise ClusterError("the cluster's scheduler stopped answering; nothing was "
                               "proved")
        return set(info["workers"])


def explore_bfs_on_cluster(config: Config, address: str, *,
                           max_states: int = DEFAULT_MAX_STATES,
                           reductions: Iterable[str] = DEFAULT_REDUCTIONS,
                           progress: Progress | None = None,
                           connect_timeout: float = CONNECT_TIMEOUT_S) -> Exploration:
    """Breadth-first search with its visited set split over the workers of the Dask cluster whose
    scheduler is at `address` (`tcp://HOST:PORT`), one share per worker; the same result as
    one process. Raises `ClusterError` when the cluster cannot be used."""
    asked = tuple(sorted(set(reductions)))
    if not stable_identity(config, asked):
        raise ClusterError("these enactors' states differ in every process (async enactors "
                           "hold live coroutines): search them without --cluster")
    distributed = _import_distributed()
    _check_listening(address, connect_timeout)
    try:
        client = distributed.Client(address, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"no Dask scheduler answers at {address} ({exc}); start one "
                           f"with dask scheduler, and workers with dask worker "
                           f"{address}") from None
    with client, client.as_current():  # actors find their client as the current one
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise ClusterError(f"the cluster at {address} has no workers: start some with "
                               f"dask worker {address}")
        if progress is not None:
            progress(f"bfs: {len(workers)} shares, one on each worker of the cluster at "
                     f"{address}")
        return search_partitioned(
            config, lambda n: DaskShares(client, config, n, asked), len(workers),
            max_states=max_states, reductions=asked, progress=progress)


def root_identity(engine: Engine, identity: Identity) -> tuple[int, int]:
    """The root state's fingerprint and place: what every share and the driver must agree on,
    or their states' identities do not match (other reproducer code)."""
    root = engine.root
    return identity.fingerprint(root), identity.place(root)


def _check_same_code(config: Config, reductions: tuple[str, ...], places: list[str],
                     roots: list[tuple[int, int]]) -> None:
    expansion = Expansion(config, reductions, stable=True)
    mine = root_identity(expansion.engine, expansion.identity)
    other = sorted({place for place, root in zip(places, roots, strict=True) if root != mine})
    if other:
        raise ClusterError(f"the workers at {', '.join(other)} identify states otherwise than "
                           f"this process (other reproducer code): install the same "
                           f"dns-race-reproducer on every machine of the cluster")


def _import_distributed() -> Any:
    try:
        import distributed  # Dask, the optional extra: loaded lazily (Rule 3)
    except ImportError:
        raise ClusterError(f"a search on a cluster needs Dask distributed, which is not "
                           f"installed: {INSTALL_HINT}") from None
    return distributed


def _check_listening(address: str, timeout: float) -> None:
    """Fail at once, in one line, when nothing listens at a tcp:// address (Dask itself
    would retry for the whole timeout), or when what listens does not greet as a Dask
    scheduler does, at once (an HTTP server, say the dashboard's port, never answers Dask's
    client, which then waits past its own timeout)."""
    scheme, sep, rest = address.rpartition("://")
    if sep and scheme != "tcp":
        return  # tls://, ucx://, ...: Dask's own connection says what is wrong
    host, colon, port = rest.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"{address!r}: expected a scheduler address tcp://HOST:PORT, "
                           f"e.g. tcp://127.0.0.1:8786")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as probe:
            probe.settimeout(min(timeout, GREETING_S))
            greeted = bool(probe.recv(1))
    except TimeoutError:
        greeted = False
    except OSError as exc:
        raise ClusterError(f"nothing answers at {address} ({exc.strerror or exc}): start a "
                           f"scheduler with dask scheduler --host {host} --port {port}, "
                           f"and workers with dask worker {address}") from None
    if not greeted:
        raise ClusterError(f"what listens at {address} is not a Dask scheduler (it did not "
                           f"greet within {min(timeout, GREETING_S):g}s): give the "
                           f"scheduler's address, the one dask scheduler prints after "
                           f"'Scheduler at:' (its dashboard's port is another)")
