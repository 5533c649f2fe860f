"""One share of a breadth-first search split across processes: plain code over values, no I/O.

Theory of operation
-------------------
Rule 1: a state belongs to the share `Identity.place(state) % count`, and only its owner keeps
it: the owner's part of the visited set, and its part of each level's frontier. The place is a
function of the state's identity (so a state reached twice goes to one owner) that a step
changes only when it commits an UPDATE or changes the plan store: most children stay with
their parent, and only the others cross processes. The identity and the successor rule are
the ones the search in one process uses (`reproducer.search.exhaustive.expansion`), the
identity made the same in every process (`Identity.stable`).

Rule 2: the order of one process is kept by a key. The search in one process expands a level
in the order its states were first reached, and each state's children in the rule's order;
so a state's key is its parent's key plus the rank of the worker that moved (one byte), and
comparing keys as bytes is comparing first-reached order. A state reached several times in a
level is kept under its least key, the one the single process reaches first. The least
violating key is the violation the single process returns; the states it had counted by
then are those first reached under a smaller key (`settle`), and the steps it had taken are
the children whose key is at most that one. So verdict, state count, steps and the shortest
story are those of one process, for any count of shares.

Rule 3: states cross processes as references to their parts (`shipping`): a part is sent
once per pair of shares, then by number.

A share is driven by `levels` (its processes and the level loop), and the same share runs on a
Dask worker as an actor (`cluster`).
"""

from __future__ import annotations

import bisect
from array import array

from reproducer.running.engine import State
from reproducer.search.distributed.shipping import Incoming, Outgoing, Shipped
from reproducer.search.exhaustive.expansion import Expansion
from reproducer.world.config import Config

__all__ = ["LevelReport", "Partition", "Violating"]

Violating = tuple[bytes, bytes]  # (key, path: who moved at each step, one byte each)
LevelReport = tuple[list[bytes], Violating | None, int]  # (a message per share, least, steps)


class Partition:
    """Share `index` of `count` (module docstring). Each level: `expand`, then `receive` the
    messages of every share, then `settle` (on a violation); the next `expand` commits it."""

    def __init__(self, config: Config, index: int, count: int, reductions: list[str]) -> None:
        self.index = index
        self.count = count
        self.expansion = Expansion(config, reductions, stable=True)
        self.engine, self.identity = self.expansion.engine, self.expansion.identity
        self.used = self.expansion.used
        if not self.identity.stable:
            raise ValueError("these workers' states differ in every process (async enactors "
                             "hold live coroutines): search them with one worker")
        self.seen: set[int] = set()
        # every state this share has offered to an owner (itself too): an owner that has had a
        # state offered at an earlier level keeps it, or the bound on states was reached and
        # nothing is kept any more, so offering it again would change nothing
        self.sent: set[int] = set()
        # the frontier, sorted by key: keys, paths, states, their identities, and how many
        # children each had
        self.keys: list[bytes] = []
        self.paths: list[bytes] = []
        self.states: list[State] = []
        self.fps: list[int] = []
        self.children = array("q")
        self.arrivals: dict[int, tuple[bytes, bytes, State]] = {}
        self._open = False  # a level expanded and not yet committed
        self._out = [Outgoing(self.engine) for _ in range(count)]
        self._in = [Incoming(self.engine) for _ in range(count)]
        root = self.engine.root
        h = self.identity.fingerprint(root)
        if self.identity.place(root) % count == index:
            self.seen.add(h)
            self.keys, self.paths, self.states, self.fps = [b""], [b""], [root], [h]

    # -- one level -----------------------------------------------------------------------------

    def expand(self, cut: bytes | None = None, cut_all: bool = False) -> LevelReport:
        """End the level before, if one is open (`commit(cut, cut_all)`: one round trip per
        level fewer), then expand the frontier in key order: a message for each share (for
        this one, empty: its own children are offered directly), the least violating child
        and the steps taken. Expansion stops at the first violation: every later child has a
        larger key."""
        if self._open:
            self.commit(cut, cut_all)
        self._open = True
        place = self.identity.place
        expand = self.expansion.expand
        count, me = self.count, self.index
        outbox: list[list[Shipped]] = [[] for _ in range(count)]
        sent = self.sent
        children = array("q")
        steps = 0
        violating: Violating | None = None
        for key, path, state, fp in zip(self.keys, self.paths, self.states, self.fps,
                                        strict=True):
            # (a child sent already, at an earlier level or under a smaller key, is not new)
            made, new, broke, _ = expand(state, fp, sent)
            for rank, w, h, child in new:
                owner = place(child) % count
                if owner == me:
                    self._offer(h, key + bytes((rank,)), path + bytes((w,)), child)
                else:
                    outbox[owner].append((h, key + bytes((rank,)), path + bytes((w,)), child))
            children.append(made)
            steps += made
            if broke is not None:
                violating = (key + bytes((broke[0],)), path + bytes((broke[1],)))
                break
        self.children = children
        messages = [b"" if j == me else self._out[j].message(outbox[j]) for j in range(count)]
        return messages, violating, steps

    def receive(self, messages: list[bytes]) -> int:
        """Take every share's message for this one (in share order); the states new to this
        share so far this level."""
        for source, message in enumerate(messages):
            if not message:
                continue
            for h, key, path, state in self._in[source].read(message):
                self._offer(h, key, path, state)
        return len(self.arrivals)

    def arrival_keys(self) -> list[bytes]:
        """The keys of this level's new states, sorted (to cut at the bound on states)."""
        return sorted(key for key, _, _ in self.arrivals.values())

    def commit(self, cut: bytes | None, cut_all: bool = False) -> tuple[int, int]:
        """End the level: keep the new states (those with keys at most `cut`, if given; none
        if `cut_all`) as the next frontier. Returns (states kept, states dropped)."""
        arrivals = sorted(self.arrivals.items(), key=lambda item: item[1][0])
        self.arrivals = {}
        self._open = False
        if cut_all:
            kept = []
        elif cut is not None:
            kept = [a for a in arrivals if a[1][0] <= cut]
        else:
            kept = arrivals
        self.seen.update(h for h, _ in kept)
        self.keys = [k for _, (k, _, _) in kept]
        self.paths = [p for _, (_, p, _) in kept]
        self.states = [s for _, (_, _, s) in kept]
        self.fps = [h for h, _ in kept]
        return len(kept), len(arrivals) - len(kept)

    def settle(self, violating: bytes) -> tuple[int, int]:
        """On the level that violates at key `violating`: (the new states first reached
        under a smaller key, the children expanded up to and including it)."""
        below = sum(1 for key, _, _ in self.arrivals.values() if key < violating)
        parent, rank = violating[:-1], violating[-1]
        at = bisect.bisect_left(self.keys, parent)
        steps = sum(self.children[:at])
        if at < len(self.keys) and self.keys[at] == parent and at < len(self.children):
            steps += min(rank + 1, self.children[at])
        return below, steps

    def frontier(self) -> int:
        return len(self.states)

    def movable(self, cut: bytes | None, cut_all: bool = False) -> int:
        """After the last level (`commit(cut, cut_all)` ends it): the frontier's states that
        could still move, which the step bound keeps from being expanded."""
        if self._open:
            self.commit(cut, cut_all)
        engine = self.engine
        return sum(1 for s in self.states if not engine.finished(s) and engine.ready(s))

    def _offer(self, h: int, key: bytes, path: bytes, state: State) -> None:
        if h in self.seen:
            return
        known = self.arrivals.get(h)
        if known is None or key < known[0]:
            self.arrivals[h] = (key, path, state)
