"""Injected faults for wild runs: the outage's "unusually high delays" (the AWS post-event
summary, aws.amazon.com/message/101925: one DNS Enactor "experienced unusually high delays
needing to retry its update on several of the DNS endpoints").

Two faults, both drawn from a seeded generator per enactor (`--seed`), so the faults an
enactor suffers are a function of the seed and of how many operations it has made — the
interleaving they cause still depends on real timing, which is the point of a wild run:
- latency: before each operation (a DNS message or a plan-store call) the enactor waits a delay
  drawn from an exponential distribution of mean `latency_ms`;
- stall: right after its freshness check (the first DNS query after it picked up a plan, the
  summary's one-time check) the enactor stalls `stall_s` seconds with probability `stall_prob`.
The Planner suffers neither: it is the enactors' delays the summary describes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["Faults", "WorkerFaults", "parse_stall"]


def parse_stall(text: str) -> tuple[float, float]:
    """'PROB:SECONDS' -> (probability, seconds); ValueError saying what is wrong."""
    prob_text, sep, seconds_text = text.partition(":")
    try:
        prob, seconds = float(prob_text), float(seconds_text)
    except ValueError:
        prob = seconds = math.nan
    if not sep or not 0 <= prob <= 1 or not 0 <= seconds <= 60:
        raise ValueError(f"--stall {text!r}: expected PROB:SECONDS with PROB in 0..1 and "
                         "SECONDS in 0..60, e.g. 0.2:1.5 (a stall of 1.5 s after one freshness "
                         "check in five)")
    return prob, seconds


@dataclass(frozen=True, slots=True)
class Faults:
    """The fault model of a wild run; `Faults()` injects nothing."""

    latency_ms: float = 0.0
    stall_prob: float = 0.0
    stall_s: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.latency_ms <= 10_000:
            raise ValueError(f"--latency {self.latency_ms}: need 0..10000 ms")

    @property
    def none(self) -> bool:
        return self.latency_ms == 0 and (self.stall_prob == 0 or self.stall_s == 0)

    def describe(self) -> str:
        if self.none:
            return "no injected fault"
        parts = []
        if self.latency_ms:
            parts.append(f"latency ~exp(mean {self.latency_ms:g} ms) per operation")
        if self.stall_prob and self.stall_s:
            parts.append(f"stall {self.stall_s:g} s after {self.stall_prob:.0%} of the "
                         "freshness checks")
        return ", ".join(parts) + f" (seed {self.seed})"

    def for_worker(self, name: str) -> WorkerFaults:
        return WorkerFaults(self, random.Random(f"{self.seed}/{name}"))

    def to_json(self) -> dict[str, float]:
        return {"latency_ms": self.latency_ms, "stall_prob": self.stall_prob,
                "stall_s": self.stall_s, "seed": self.seed}


class WorkerFaults:
    """One enactor's draws (its own generator: enactors do not shift each other's faults)."""

    def __init__(self, faults: Faults, rng: random.Random) -> None:
        self._faults = faults
        self._rng = rng

    def latency_s(self) -> float:
        mean = self._faults.latency_ms
        return self._rng.expovariate(1000.0 / mean) if mean > 0 else 0.0

    def stall_s(self) -> float:
        f = self._faults
        if f.stall_prob <= 0 or f.stall_s <= 0:
            return 0.0
        return f.stall_s if self._rng.random() < f.stall_prob else 0.0
