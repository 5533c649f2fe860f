"""The second act in virtual time: the manager, the backend pool and the DNS outage, no sockets.

Theory of operation
-------------------
A discrete-event loop around one `LeaseManager`. The clock jumps from event to event: the
pool's replies, the manager's own timers (`next_wakeup`), and the sampling instants. At equal
times replies come first (each `replied` fires the deadlines due at that instant before it
judges the reply), then timers, then the sample, then the operators' commands.

The world the manager talks to:
- the backend pool answers an attempt `service_s + rtt_s` after it was sent, ok, if the
  endpoint's record was there when it was sent (the load balancer resolved it); the manager
  never has more than `capacity` attempts in flight, so the pool never queues (`manager.py`,
  rule 3);
- while the record is empty an attempt fails `rtt_s` after it was sent: the load balancer
  could not resolve the name and answered at once, as every new connection to DynamoDB failed
  while its name was empty (AWS's summary, aws.amazon.com/message/101925).

Everything random comes from `random.Random(scenario.seed)`, handed to the manager: the same
scenario gives the same series, sample for sample.
"""

from __future__ import annotations

import heapq
import random

from reproducer.metastable.manager import LeaseManager
from reproducer.metastable.operators import Console, apply_command
from reproducer.metastable.scenario import Scenario
from reproducer.metastable.series import Event, Sample, Sampler, Series, record_present

__all__ = ["simulate"]


def simulate(scenario: Scenario) -> Series:
    """Run `scenario` in virtual time and return its time series."""
    params = scenario.params
    manager = LeaseManager(params, scenario.policy, now=0.0,
                           rng=random.Random(scenario.seed))
    console = Console(params, scenario.policy, scenario.repair_s)
    sampler = Sampler(manager.counters(), t0=0.0)
    replies: list[tuple[float, int, bool]] = []  # (when, attempt, ok); attempt ids are unique
    samples: list[Sample] = []
    end_s = scenario.end_s
    sample_count = max(1, round(end_s / scenario.sample_s))
    k = 1
    next_sample = end_s * k / sample_count

    def send_all(now: float) -> None:
        ok = scenario.dns_ok_at(now)
        delay = params.attempt_s if ok else params.rtt_s
        for send in manager.take_sends():
            heapq.heappush(replies, (now + delay, send.attempt, ok))

    while k <= sample_count:
        wake = manager.next_wakeup()
        now = next_sample
        if replies and replies[0][0] < now:
            now = replies[0][0]
        if wake is not None and wake < now:
            now = wake
        while replies and replies[0][0] <= now:
            _, attempt, ok = heapq.heappop(replies)
            manager.replied(attempt, ok, now)
            send_all(now)
        manager.advance(now)
        send_all(now)
        if now >= next_sample:
            start = samples[-1].t_s if samples else 0.0
            sample = sampler.sample(manager.counters(),
                                    record_present(start, now, scenario.outage))
            samples.append(sample)
            for command in console.on_sample(sample):
                apply_command(manager, command, now)
            send_all(now)
            k += 1
            next_sample = end_s * k / sample_count
    events = [Event(scenario.warm_s, "record emptied"), Event(scenario.repair_s, "DNS repaired"),
              *console.events] if scenario.outage_s > 0 else list(console.events)
    return Series(hosts=params.hosts, steady_rate_per_s=params.steady_rate_per_s,
                  outage_start_s=scenario.warm_s, outage_end_s=scenario.repair_s,
                  samples=tuple(samples), events=tuple(events),
                  label=f"{scenario.policy.name}, {params.hosts} hosts, "
                        f"outage {scenario.outage_s:g} s (model)")
