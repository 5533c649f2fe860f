"""The lease fleet manager (a DWFM stand-in) as a state machine: no I/O, no clock of its own.

AWS's post-event summary (aws.amazon.com/message/101925): EC2's DropletWorkflow Manager (DWFM)
holds a lease on every droplet (physical host) and keeps it through DynamoDB; while DynamoDB's
name was empty the leases timed out, and when DNS came back "efforts to establish new droplet
leases took long enough that the work could not be completed before they timed out. Additional
work was queued to reattempt establishing the droplet lease. At this point, DWFM had entered a
state of congestive collapse and was unable to make forward progress in recovering droplet
leases." This module is that loop, small enough to read, driven from outside.

Theory of operation
-------------------
Inputs are events, each handled in one synchronous step (h11's discipline): `advance(now)`
(time passed: timers fire), `replied(attempt, ok, now)` (the pool answered), and the operators'
commands (`restart(now)`, `throttle(per_s, now)`). After any of them the manager fills its free
slots from the queue and leaves the attempts to start in its outbox (`take_sends()`); the
adapter performs them and reports the replies. `next_wakeup()` says when the manager next needs
`advance`. The same object runs in virtual time (`simulation.py`) and against the wall clock
over HTTP (`live_manager.py`). Its only randomness is the `random.Random` it is given.

An attempt's life (one row per transition; "live" means its host is still waiting on it):

    QUEUED  --dispatch (a slot is free)------------> SENT
    QUEUED  --deadline, live------------------------> QUEUED, dead; the host's retry is queued
    SENT    --deadline, live------------------------> SENT, dead; the host's retry is queued
    SENT    --reply ok, live, before its deadline---> DONE: the lease is granted for lease_s
    SENT    --reply error, live--------------------> DONE: the host tries again after a delay
    SENT    --reply, dead---------------------------> DONE: wasted work, counted
    QUEUED  --restart-------------------------------> DONE: dropped with the queue
    SENT    --restart-------------------------------> SENT, dead (the pool finishes it anyway)

Rules:
  1. A host has at most one live attempt. Dead attempts are not removed from the queue: the
     queue is a plain FIFO that does not know its requesters gave up (that is the collapse).
  2. A reply counts only if it arrives strictly before the attempt's deadline, `timeout_s`
     after the attempt was queued: the timeout covers the wait in the queue and the work.
  3. At most `capacity` attempts are in flight: the manager is sized to the pool, so the pool
     never queues; dead attempts in flight keep their slot until the pool answers.
  4. New work (a renewal falling due, a retry) passes admission first: the operators' throttle
     (a token bucket), then the policy's queue limit; refused work tries again after a delay.
  5. A restart drops the queue and every pending retry, forgets which attempts were live, and
     rebuilds the work from the leases (a restarted manager reads the lease table): every host
     whose renewal is due gets new work. The leases themselves survive.
"""

from __future__ import annotations

import enum
import heapq
import math
import random
from collections import deque
from dataclasses import dataclass

from reproducer.metastable.params import FleetParams
from reproducer.metastable.policies import Policy

__all__ = ["Counters", "LeaseManager", "Send"]


@dataclass(frozen=True, slots=True)
class Send:
    """An attempt to start now: ask the lease table to renew `host`'s lease."""

    attempt: int
    host: int


@dataclass(frozen=True, slots=True)
class Counters:
    """What the manager has done so far (totals) and holds now."""

    now: float
    established: int  # attempts that succeeded in time: leases granted or renewed
    wasted: int  # attempts the pool completed after they had timed out
    timed_out: int
    failed: int  # error replies (the endpoint could not be resolved)
    refused: int  # new work turned away by the throttle or the queue limit
    dropped: int  # queued attempts a restart threw away
    queue: int
    in_flight: int
    leases_held: int


class _Timer(enum.IntEnum):
    RENEW = 0  # key: host
    RETRY = 1  # key: host
    DEADLINE = 2  # key: attempt


class _Attempt:
    __slots__ = ("deadline", "host", "live", "sent")

    def __init__(self, host: int, deadline: float) -> None:
        self.host = host
        self.deadline = deadline
        self.live = True
        self.sent = False


class _Bucket:
    """The operators' throttle: `per_s` tokens a second, at most `burst` saved."""

    __slots__ = ("burst", "last", "per_s", "tokens")

    def __init__(self, per_s: float, burst: float, now: float) -> None:
        self.per_s, self.burst, self.tokens, self.last = per_s, burst, burst, now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.per_s)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class LeaseManager:
    """The manager of `params.hosts` leases under `policy`, starting at `now` with every lease
    held and their renewals spread evenly over one renewal period (a fleet that has been
    running: starting cold would itself be the burst this model is about)."""

    def __init__(self, params: FleetParams, policy: Policy, *, now: float,
                 rng: random.Random) -> None:
        self.params = params
        self.policy = policy
        self._rng = rng
        self._now = now
        self._queue_limit = policy.queue_limit(params)
        self._bucket: _Bucket | None = None
        self._queue: deque[int] = deque()
        self._attempts: dict[int, _Attempt] = {}
        self._next_id = 0
        self._in_flight = 0
        self._outbox: list[Send] = []
        self._timers: list[tuple[float, int, _Timer, int]] = []
        self._seq = 0
        hosts = params.hosts
        self._live: list[int | None] = [None] * hosts
        self._failures = [0] * hosts
        self._retry_at = [math.inf] * hosts
        period = params.renew_every_s
        self._renew_at = [now + (h + 0.5) / hosts * period for h in range(hosts)]
        self._expires = [t + period for t in self._renew_at]
        for host, at in enumerate(self._renew_at):
            self._push(at, _Timer.RENEW, host)
        self._established = self._wasted = self._timed_out = 0
        self._failed = self._refused = self._dropped = 0

    # -- inputs ---------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Time has passed: fire every timer due at or before `now`, each at its own moment and
        in order, filling free slots after each (one long step is the same as many short ones;
        what is sent is for the adapter to start now)."""
        if now < self._now:
            raise ValueError(f"time went backwards: {now!r} < {self._now!r}")
        timers = self._timers
        while timers and timers[0][0] <= now:
            at, _, kind, key = heapq.heappop(timers)
            self._now = max(self._now, at)
            if kind is _Timer.DEADLINE:
                self._deadline(key)
            elif kind is _Timer.RENEW:
                if self._renew_at[key] == at and self._live[key] is None:
                    self._new_work(key)
            elif self._retry_at[key] == at and self._live[key] is None:
                self._retry_at[key] = math.inf
                self._new_work(key)
            self._dispatch()
        self._now = now
        self._dispatch()

    def replied(self, attempt: int, ok: bool, now: float) -> None:
        """The pool answered `attempt`: `ok` if the lease table took the renewal, False for an
        error (the load balancer could not resolve the endpoint, or the pool refused)."""
        self.advance(now)  # rule 2: a deadline at or before `now` fires first
        entry = self._attempts.pop(attempt, None)
        if entry is None or not entry.sent:
            raise ValueError(f"attempt {attempt} is not in flight")
        self._in_flight -= 1
        host = entry.host
        if not entry.live:
            if ok:
                self._wasted += 1
        elif ok:
            self._established += 1
            self._live[host] = None
            self._failures[host] = 0
            self._expires[host] = now + self.params.lease_s
            self._renew_at[host] = now + self.params.renew_every_s
            self._push(self._renew_at[host], _Timer.RENEW, host)
        else:
            self._failed += 1
            self._live[host] = None
            self._retry_later(host)
        self._dispatch()

    def restart(self, now: float) -> None:
        """The operators restart the manager (rule 5)."""
        self.advance(now)
        for attempt in self._queue:
            del self._attempts[attempt]
        self._dropped += len(self._queue)
        self._queue.clear()
        for entry in self._attempts.values():
            entry.live = False
        hosts = range(self.params.hosts)
        self._live = [None] * len(hosts)
        self._failures = [0] * len(hosts)
        self._retry_at = [math.inf] * len(hosts)
        self._timers = [t for t in self._timers if t[2] is _Timer.RENEW]
        heapq.heapify(self._timers)
        for host in hosts:
            if self._renew_at[host] <= now:
                self._new_work(host)
        self._dispatch()

    def throttle(self, per_s: float | None, now: float) -> None:
        """The operators throttle new work to `per_s` a second (None lifts the throttle)."""
        self.advance(now)
        if per_s is None:
            self._bucket = None
        else:
            if not per_s > 0:
                raise ValueError(f"throttle per_s={per_s!r} must be positive (None lifts it)")
            self._bucket = _Bucket(per_s, float(self.params.capacity), now)
        self._dispatch()

    # -- outputs --------------------------------------------------------------------------------

    def take_sends(self) -> list[Send]:
        """The attempts to start now, in order; each is handed out once."""
        sends, self._outbox = self._outbox, []
        return sends

    def next_wakeup(self) -> float | None:
        """When `advance` is next needed (None: never, unless a reply or a command comes)."""
        timers = self._timers
        while timers and not self._matters(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def counters(self) -> Counters:
        now = self._now
        return Counters(now=now, established=self._established, wasted=self._wasted,
                        timed_out=self._timed_out, failed=self._failed, refused=self._refused,
                        dropped=self._dropped, queue=len(self._queue),
                        in_flight=self._in_flight,
                        leases_held=sum(1 for t in self._expires if t > now))

    # -- transitions ----------------------------------------------------------------------------

    def _push(self, at: float, kind: _Timer, key: int) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (at, self._seq, kind, key))

    def _matters(self, timer: tuple[float, int, _Timer, int]) -> bool:
        at, _, kind, key = timer
        if kind is _Timer.DEADLINE:
            entry = self._attempts.get(key)
            return entry is not None and entry.live
        if kind is _Timer.RENEW:
            return self._renew_at[key] == at and self._live[key] is None
        return self._retry_at[key] == at

    def _new_work(self, host: int) -> None:
        """Rule 4: admission, then the tail of the queue."""
        now = self._now
        bucket, limit = self._bucket, self._queue_limit
        if (bucket is not None and not bucket.take(now)) or \
                (limit is not None and len(self._queue) >= limit):
            self._refused += 1
            self._retry_later(host)
            return
        attempt = self._next_id
        self._next_id += 1
        deadline = now + self.params.timeout_s
        self._attempts[attempt] = _Attempt(host, deadline)
        self._live[host] = attempt
        self._queue.append(attempt)
        self._push(deadline, _Timer.DEADLINE, attempt)

    def _deadline(self, attempt: int) -> None:
        entry = self._attempts.get(attempt)
        if entry is None or not entry.live:
            return
        entry.live = False  # rule 1: it stays in the queue or in flight, dead
        self._timed_out += 1
        self._live[entry.host] = None
        if self.policy.backoff is None:
            self._new_work(entry.host)  # "Additional work was queued to reattempt"
        else:
            self._retry_later(entry.host)

    def _retry_later(self, host: int) -> None:
        backoff = self.policy.backoff
        if backoff is None:
            delay = self.params.retry_delay_s * (0.5 + self._rng.random())
        else:
            ceiling = backoff.ceiling_s(self.params, self._failures[host])
            self._failures[host] += 1
            delay = max(self.params.rtt_s, ceiling * self._rng.random())
        at = self._now + delay
        self._retry_at[host] = at
        self._push(at, _Timer.RETRY, host)

    def _dispatch(self) -> None:
        """Rule 3: fill the free slots from the head of the queue, dead attempts included."""
        queue, capacity = self._queue, self.params.capacity
        while queue and self._in_flight < capacity:
            attempt = queue.popleft()
            entry = self._attempts[attempt]
            entry.sent = True
            self._in_flight += 1
            self._outbox.append(Send(attempt, entry.host))
