"""Programs under the one scheduling core, in process: the same choices give the same trace from
the simulation, the asyncio runner and fresh interpreters; a worker value whose process moved on
elsewhere is re-executed; retransmissions are one request; GetChange answers from the sender's
own history; and a program's world comes from the pytest plugin as any other."""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import Callable, Iterator

import pytest

from reproducer.programs import host, settings, shutdown
from reproducer.running.choices import RandomChoices, ReplayChoices
from reproducer.running.engine import Walk, engine_for
from reproducer.running.runtime import MemoryTransport, run_async
from reproducer.running.simulation import Simulation, clear_cache, run_memory
from reproducer.world.config import Config
from tests.helpers import ROOT

PYTHON = shlex.quote(sys.executable)
OUTAGE = f"{PYTHON} examples/programs/route53_enactor.py"
HELPERS = f"{PYTHON} tests/helpers/programs"


@pytest.fixture(autouse=True)
def in_the_project(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Programs are named relative to the project; the fork server is restored after."""
    monkeypatch.chdir(ROOT)
    was = settings.fork_server
    yield
    settings.fork_server = was


def test_the_same_choices_give_the_same_trace_in_process_over_asyncio_and_from_fresh_processes(
        ) -> None:
    config = Config(program=OUTAGE, enactors=2)
    first = run_memory(config, RandomChoices(7))
    assert first.length > 10
    assert run_memory(config, RandomChoices(7)).steps == first.steps
    over_asyncio = asyncio.run(run_async(config, RandomChoices(7),
                                         MemoryTransport(config.initial_dns())))
    assert over_asyncio.steps == first.steps
    settings.fork_server = False  # every program a fresh interpreter: the same requests
    clear_cache()
    assert run_memory(config, RandomChoices(7)).steps == first.steps


def test_a_worker_whose_process_moved_on_in_another_run_is_re_executed_to_the_same_answer(
        ) -> None:
    config = Config(program=OUTAGE, enactors=2)
    sim = Simulation(config).follow(["planner", "enactor-1", "enactor-2", "enactor-1"])
    other = sim.clone()
    started = host().started
    sim.move("enactor-2")  # takes enactor-2's live process
    other.move("enactor-2")  # the same value: its process is spent, so a new one replays it
    assert other.steps[-1] == sim.steps[-1]
    assert host().started > started


def test_a_retransmitted_datagram_is_one_request_and_one_after_its_answer_is_answered_again(
        ) -> None:
    config = Config(program=f"{HELPERS}/retransmit.py", enactors=1, invariants=(1,))
    result = run_memory(config, ReplayChoices(()))
    mine = [s.action for s in result.steps if s.worker == "enactor-1"]
    assert mine == ["query dynamodb.us-east-1.amazonaws.com. CNAME",
                    "query dynamodb.us-east-1.amazonaws.com. A"]
    assert result.completed  # the program's own checks held: it exited 0


def test_get_change_answers_insync_for_a_change_the_program_was_given_and_no_such_change_else(
        ) -> None:
    config = Config(program=f"{HELPERS}/get_change.py", enactors=1, invariants=(1,))
    result = run_memory(config, ReplayChoices(()))
    outcomes = [(s.action.split(":")[1].split()[0], s.outcome)
                for s in result.steps if s.worker == "enactor-1"]
    assert [o[0] for o in outcomes] == ["ListHostedZonesByName", "ChangeResourceRecordSets",
                                        "GetChange", "GetChange"]
    assert outcomes[2][1] == "200" and outcomes[3][1].startswith("404 NoSuchChange")
    assert result.completed


@pytest.fixture
def race_config() -> Config:
    """The pytest plugin's world, overridden: the enactors are programs."""
    return Config(program=OUTAGE, enactors=2)


def test_a_world_of_programs_comes_from_the_pytest_plugin_like_any_other(
        race_world: Callable[[], Simulation]) -> None:
    sim = race_world()
    sim.advance(RandomChoices(28))
    assert [v.invariant for v in sim.violations] == [2]



def test_a_worker_value_kept_after_its_host_was_shut_down_is_re_executed_on_a_new_host(
        ) -> None:
    config = Config(program=OUTAGE, enactors=2)
    engine = engine_for(config)
    cut = Walk(engine, RandomChoices(5), max_steps=6)  # its last parts hold live processes
    shutdown()  # every process ended; the shared engine still holds those values
    whole = Walk(engine_for(config), RandomChoices(5), max_steps=config.max_steps)
    assert whole.choices[:6] == cut.choices
    assert len(whole.choices) > 6
    assert whole.choices == Walk(engine_for(config), RandomChoices(5),
                                 max_steps=config.max_steps).choices
