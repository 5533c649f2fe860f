"""The race itself, as hand-written schedules over real DNS."""

from __future__ import annotations

import asyncio

import pytest

from fake_dns import DNSServer
from fake_dns.testing import require_tool
from reproducer import (
    ChoiceSource,
    Config,
    ReplayChoices,
    RunResult,
    Simulation,
    Step,
    run_async,
    run_memory,
)
from reproducer.running.choices import FollowWorkers
from reproducer.running.transport import DnsTransport, TsigKey
from reproducer.telling.narrate import flip_generation

# AWS's summary and the DynamoDB talk (DAT453): enactor-1 checks its plan g2 once and is slow;
# the planner writes g3, g4; enactor-2 applies g4 quickly and starts cleaning up; enactor-1
# then flips the regional endpoint to its stale g2; enactor-2's clean-up deletes g2, now the
# active plan.
AWS_STORY = (
    ["planner"]  # writes g2
    + ["enactor-1"] * 2  # picks up g2 and checks it, once, against the applied g1
    + ["planner"] * 2  # writes g3, g4
    + ["enactor-2"] * 7  # picks up g4 ... applies it, lists the plans to clean up
    + ["enactor-1"] * 4  # reads the lock (free), creates g2's trees, reads the alias (g4),
    #                      flips it to its stale g2: the check made at step 3 is long stale
    + ["enactor-2"] * 2  # reads the lock, and its clean-up deletes g1 and g2, now active
)
EMPTYING_STEP = len(AWS_STORY)


def script_choices(config: Config, workers: list[str]) -> tuple[int, ...]:
    """The choices that make workers[i] take step i+1 (a hand-written schedule by name)."""
    sim = Simulation(config, stop_at_violation=False)
    return tuple(sim.follow(workers, strict=True).choices)


def story_config(variant: str = "aws-2025") -> Config:
    # plans=4: after the outage the planner writes g5, which no enactor can apply.
    return Config(variant=variant, plans=4, invariants=(1, 2, 3, 4))


async def run_on_real_dns(config: Config, source: ChoiceSource) -> tuple[RunResult, str]:
    """Run to the end over TSIG-signed UDP; return the result and dig's view of the endpoint."""
    keys = {w: TsigKey.for_worker(w) for w in config.worker_names}
    dig = require_tool("dig", "bind9-dnsutils")
    async with DNSServer(config.initial_dns(), "127.0.0.1", 0,
                         {k.name: k.secret for k in keys.values()}) as server:
        async with DnsTransport(server.host, server.port, keys) as transport:
            result = await run_async(config, source, transport,
                                     stop_at_violation=False)
        proc = await asyncio.create_subprocess_exec(
            dig, "@127.0.0.1", "-p", str(server.port), "+norecurse", "+tries=1", "+time=2",
            config.layout.endpoint_name("dynamodb"), "A",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
    return result, out.decode()


def answer_records(dig_output: str, rtype: str) -> list[str]:
    """The rdata of the `rtype` records in dig's answer section (comment lines skipped)."""
    out = []
    for line in dig_output.splitlines():
        fields = line.split()
        if line and not line.startswith(";") and len(fields) >= 5 and fields[3] == rtype:
            out.append(fields[4])
    return out


def flips_to(result: RunResult, generation: int) -> list[Step]:
    """The UPDATEs that point the regional alias at `generation` (read from their changes)."""
    return [s for s in result.steps if flip_generation(s, result.config.layout) == generation]


def flips_refused(result: RunResult, worker: str, generation: int) -> list[str | None]:
    return [s.rcode for s in flips_to(result, generation)
            if s.worker == worker and not s.committed]


@pytest.mark.asyncio
async def test_the_aws_story_empties_the_regional_endpoint_and_leaves_every_enactor_stuck() -> None:
    config = story_config()
    result, dig_output = await run_on_real_dns(
        config, ReplayChoices(script_choices(config, AWS_STORY)))

    first = [v for v in result.violations if v.step == EMPTYING_STEP]
    assert [(v.invariant, v.endpoint) for v in first] == [(1, "dynamodb"), (3, "dynamodb")]
    emptied = result.steps[EMPTYING_STEP - 1]
    assert emptied.worker == "enactor-2" and emptied.action.startswith("UPDATE clean-up")
    assert emptied.endpoints[0].rcode == "NOERROR" and emptied.endpoints[0].addresses == ()
    # Before it, the stale flip: the generation went backwards, g4 -> g2 (invariant 2).
    [stale] = flips_to(result, 2)
    assert stale.worker == "enactor-1" and stale.committed
    assert [v.invariant for v in stale.violations] == [2]

    # dig agrees: NOERROR, the alias in the answer, no address.
    assert "status: NOERROR" in dig_output
    assert answer_records(dig_output, "CNAME") == ["g0002.dynamodb.plans.us-east-1.amazonaws.com."]
    assert answer_records(dig_output, "A") == []

    # Stuck: the planner's later g5 is refused to every enactor that tries it, and the run
    # ends with the endpoint still empty, reported as invariant 4.
    tried = [w for w in ("enactor-1", "enactor-2", "enactor-3") if flips_refused(result, w, 5)]
    assert tried == ["enactor-1", "enactor-2", "enactor-3"]
    assert all(set(flips_refused(result, w, 5)) == {"NXRRSET"} for w in tried)
    assert not any(s.committed for s in flips_to(result, 5))
    assert result.completed
    assert result.violations[-1].invariant == 4
    assert result.steps[-1].endpoints[0].addresses == ()


@pytest.mark.asyncio
@pytest.mark.parametrize("variant", ["cas-flip", "cas-guarded"])
async def test_the_same_schedule_under_a_correct_fix_breaks_nothing_and_ends_on_the_newest_plan(
        variant: str) -> None:
    # the same interleaving, worker by worker (the fix's workers take other steps)
    result, dig_output = await run_on_real_dns(story_config(variant), FollowWorkers(AWS_STORY))

    assert result.violations == ()
    assert result.completed
    assert [e.generation for e in result.steps[-1].endpoints] == [5]
    assert "status: NOERROR" in dig_output
    assert answer_records(dig_output, "CNAME") == ["g0005.dynamodb.plans.us-east-1.amazonaws.com."]
    assert len(answer_records(dig_output, "A")) == 3


def test_a_script_naming_a_worker_that_cannot_move_is_refused_with_the_step() -> None:
    # The planner has written its last plan after four steps; a fifth is impossible.
    config = Config(plans=4)
    with pytest.raises(ValueError, match=r"planner is not ready at step 5"):
        script_choices(config, ["planner"] * 5)


def test_in_memory_the_stale_flip_to_g2_commits_and_every_later_flip_to_g5_is_refused() -> None:
    config = story_config()
    result = run_memory(config, ReplayChoices(script_choices(config, AWS_STORY)),
                        stop_at_violation=False)
    flips = [(s.worker, g, s.rcode) for g in (2, 4, 5) for s in flips_to(result, g)]
    assert flips == [("enactor-1", 2, "NOERROR"),  # the stale flip, after enactor-2's g4
                     ("enactor-2", 4, "NOERROR"),
                     *[("enactor-3", 4, "NXRRSET")] * 2,  # after the outage, nothing flips
                     *[("enactor-1", 5, "NXRRSET")] * 2,
                     *[("enactor-2", 5, "NXRRSET")] * 2,
                     *[("enactor-3", 5, "NXRRSET")] * 2]
    # a clean-up UPDATE flips nothing
    assert flip_generation(result.steps[EMPTYING_STEP - 1], config.layout) is None


def test_the_story_run_in_memory_stops_at_the_empty_record_when_asked_to() -> None:
    config = Config(variant="aws-2025", plans=4, invariants=(1,))
    result = run_memory(config, ReplayChoices(script_choices(config, AWS_STORY)))
    assert result.length == EMPTYING_STEP
    assert result.violation is not None and result.violation.invariant == 1
    assert not result.completed


@pytest.mark.parametrize(("variant", "shortest"), [
    ("aws-2025", 18), ("recheck-before-write", 18), ("cleanup-checks-active", 19)])
def test_the_outage_and_each_tempting_fix_can_still_empty_the_record(
        variant: str, shortest: int) -> None:
    from reproducer import explore

    found = explore("bfs", Config(variant=variant, enactors=2, invariants=(1, 3)))
    assert found.result is not None and found.result.violation is not None
    assert found.result.violation.invariant == 1
    assert found.steps == shortest
    last = found.result.steps[-1]
    assert last.action.startswith("UPDATE clean-up") and last.endpoints[0].addresses == ()


@pytest.mark.parametrize("variant", ["cas-flip", "cas-guarded"])
def test_no_schedule_empties_the_record_under_a_correct_fix_within_the_bounds(
        variant: str) -> None:
    from reproducer import explore

    proof = explore("bfs", Config(variant=variant, enactors=2, plans=2, max_steps=26,
                                  invariants=(1, 3)))
    assert not proof.found and proof.exhausted
