"""Enactors written as ordinary asyncio code run under the scheduler like the state machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fake_dns import DNSServer
from reproducer import (
    AsyncRun,
    Config,
    RandomChoices,
    ReplayChoices,
    Simulation,
    run_memory,
    run_real,
)
from reproducer.running.transport import DnsTransport, TsigKey
from reproducer.search import explore_bfs, explore_hypothesis, explore_pct, explore_random
from reproducer.world.values import EnactorError

PORT = "examples.aws_2025:enactor"
FIX_PORT = "examples.cas_flip:enactor"
EMPTY_RECORD: dict[str, Any] = {"enactors": 2, "invariants": (1,)}


def test_the_async_port_of_aws_2025_has_the_same_shortest_story_as_its_state_machine() -> None:
    twin = explore_bfs(Config(variant="aws-2025", **EMPTY_RECORD))
    port = explore_bfs(Config(enactor=PORT, **EMPTY_RECORD))
    assert twin.found and port.found
    assert port.steps == twin.steps == 18
    assert port.result is not None and port.result.violation is not None
    assert port.result.violation.invariant == 1


def test_the_async_port_of_cas_flip_breaks_nothing_within_the_bound() -> None:
    proof = explore_bfs(Config(enactor=FIX_PORT, enactors=2, plans=1, max_steps=40))
    assert not proof.found and proof.exhausted
    assert proof.states is not None and proof.states > 1_000


def test_the_same_choices_give_the_same_trace_for_an_async_enactor() -> None:
    config = Config(enactor=PORT, endpoints=2)
    first = run_memory(config, RandomChoices(4), stop_at_violation=False)
    assert first.length > 20
    again = run_memory(config, ReplayChoices(first.choices), stop_at_violation=False)
    assert again.steps == first.steps


@pytest.mark.asyncio
async def test_an_async_enactor_tells_the_same_story_over_real_udp_as_in_process() -> None:
    config = Config(enactor=PORT, enactors=3)
    memory = run_memory(config, RandomChoices(8), stop_at_violation=False)
    real = await run_real(config, ReplayChoices(memory.choices), stop_at_violation=False)
    assert real.steps == memory.steps


@pytest.mark.parametrize("explore", [explore_random, explore_pct, explore_hypothesis])
def test_every_sampling_strategy_finds_and_shrinks_the_race_in_the_async_port(explore) -> None:  # type: ignore[no-untyped-def]
    config = Config(enactor=PORT, **EMPTY_RECORD)
    kwargs: dict[str, Any] = {"depth": 4} if explore is explore_pct else {}
    if explore is explore_hypothesis:
        kwargs["database"] = None
    found = explore(config, max_runs=3_000, seed=1, **kwargs)
    assert found.found and found.steps == 18


def test_an_exception_in_an_async_enactor_names_the_worker_the_step_and_the_traceback(
        ) -> None:
    sim = Simulation(Config(enactor="tests.helpers.async_enactors:raises_after_reading",
                            enactors=1))
    with pytest.raises(EnactorError) as caught:
        sim.follow(["enactor-1", "enactor-1"])
    message = str(caught.value)
    assert message.startswith("step 2: enactor enactor-1 raised ValueError: cannot handle 1 ")
    assert "helpers/async_enactors.py" in message and "raise ValueError" in message


def test_an_async_enactor_that_awaits_asyncio_itself_is_named_as_blocked_outside() -> None:
    sim = Simulation(Config(enactor="tests.helpers.async_enactors:sleeps_on_its_own", enactors=1))
    with pytest.raises(EnactorError, match="step 1: worker enactor-1 is blocked outside the "
                                           "scheduler, awaiting"):
        sim.follow(["enactor-1"])


@pytest.mark.asyncio
async def test_over_real_udp_an_await_outside_the_handle_is_named_too() -> None:
    config = Config(enactor="tests.helpers.async_enactors:sleeps_on_its_own", enactors=1)
    keys = {w: TsigKey.for_worker(w) for w in config.worker_names}
    async with DNSServer(config.initial_dns(), "127.0.0.1", 0,
                         {k.name: k.secret for k in keys.values()}) as server, \
            DnsTransport(server.host, server.port, keys) as transport:
        run = await AsyncRun.start(config, transport)
        with pytest.raises(EnactorError, match="enactor-1 is blocked outside the scheduler, "
                                               "awaiting <Future"):
            await run.move("enactor-1")


def test_production_style_dnspython_messages_go_through_the_handle() -> None:
    config = Config(enactor="tests.helpers.async_enactors:flips_with_dnspython", enactors=1,
                    plans=1)
    result = run_memory(config, ReplayChoices([]))
    assert result.completed and result.violation is None
    updates = [s for s in result.steps if s.kind == "update"]
    assert updates and all(s.rcode == "NOERROR" for s in updates)
    assert result.steps[-1].endpoints[0].generation == 2
    assert any(s.note == "UPDATE NOERROR; the alias now answers "
               "g0002.dynamodb.plans.us-east-1.amazonaws.com." for s in result.steps)


def test_a_class_with_an_async_run_method_is_an_enactor_with_a_fresh_instance_per_run() -> None:
    config = Config(enactor="tests.helpers.async_enactors:CountingEnactor", enactors=2, plans=2)
    first = run_memory(config, RandomChoices(1))
    second = run_memory(config, RandomChoices(1))
    assert first.completed and first.steps == second.steps
    assert any(s.note == "read g3" for s in first.steps)


def test_the_cli_reports_an_async_enactor_that_raised_with_its_step_and_its_own_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reproducer.cli import main

    code = main(["run", "--enactor", "tests.helpers.async_enactors:raises_after_reading",
                 "--enactors", "1", "--transport", "memory", "--trace",
                 str(tmp_path / "t.json"), "--report", str(tmp_path / "r.html")])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err[0].startswith("reproducer: error: enactor tests.helpers.async_enactors:"
                             "raises_after_reading (--enactor) failed at step ")
    assert "enactor enactor-1 raised ValueError: cannot handle 1 records" in err[0]
    assert err[1] == "Traceback (most recent call last):"
    assert "async_enactor.py" not in "\n".join(err)  # only the enactor's own frames
    assert err[-1] == "ValueError: cannot handle 1 records"
