"""Same choices, same trace; the in-process and the real transport agree."""

from __future__ import annotations

import pytest

from fake_dns import Change, ChangeKind, DNSServer, Update
from reproducer import (
    VARIANTS,
    AsyncRun,
    Config,
    MemoryTransport,
    RandomChoices,
    ReplayChoices,
    ReplayDiverged,
    RunResult,
    Simulation,
    run_async,
    run_memory,
)
from reproducer.running.transport import DnsTransport, TsigKey, reset_update, run_real


def test_the_same_choices_give_the_identical_trace_across_fifty_replays() -> None:
    config = Config(variant="aws-2025", enactors=3, endpoints=2, plans=4)
    first = run_memory(config, RandomChoices(7))
    assert first.length > 20
    for _ in range(50):
        again = run_memory(config, ReplayChoices(first.choices))
        assert again.steps == first.steps
        assert again.choices == first.choices


def test_different_seeds_explore_different_interleavings() -> None:
    config = Config(variant="aws-2025")
    traces = {tuple((s.worker, s.action) for s in run_memory(config, RandomChoices(seed)).steps)
              for seed in range(20)}
    assert len(traces) > 15


def test_a_replay_whose_choice_does_not_fit_says_so() -> None:
    config = Config(enactors=2)
    with pytest.raises(ReplayDiverged, match="only 3 workers are ready"):
        run_memory(config, ReplayChoices([7]))


def _seeded_configs() -> list[tuple[Config, int]]:
    out = []
    for i, name in enumerate(VARIANTS):
        out.append((Config(variant=name, enactors=3, endpoints=2, plans=3), i))
        out.append((Config(variant=name, enactors=2, endpoints=1, plans=4), 100 + i))
    return out


@pytest.mark.asyncio
@pytest.mark.parametrize(("config", "seed"), _seeded_configs(),
                         ids=lambda v: v.variant if isinstance(v, Config) else str(v))
async def test_the_synchronous_asyncio_and_real_udp_runtimes_give_identical_traces(
        config: Config, seed: int) -> None:
    memory = run_memory(config, RandomChoices(seed), stop_at_violation=False)
    in_process = await run_async(config, ReplayChoices(memory.choices),
                                 MemoryTransport(config.initial_dns()), stop_at_violation=False)
    real = await run_real(config, ReplayChoices(memory.choices), stop_at_violation=False)
    assert in_process.steps == memory.steps
    assert real.steps == memory.steps
    assert real.completed == memory.completed


@pytest.mark.asyncio
async def test_a_run_against_a_running_server_resets_its_zone_first() -> None:
    key = TsigKey.for_worker("operator")
    config = Config(variant="aws-2025", enactors=2)
    store = config.initial_dns()
    async with DNSServer(store, "127.0.0.1", 0, {key.name: key.secret}) as server:
        from reproducer.running.transport import run_against

        results: list[RunResult] = []
        for _ in range(2):  # the second run starts from the mess the first one left
            results.append(await run_against(server.host, server.port, key, config,
                                             RandomChoices(3), stop_at_violation=False))
        assert results[0].steps == results[1].steps
        # and the reset is one UPDATE the server accepts as is
        async with DnsTransport(server.host, server.port, key) as transport:
            assert await transport.update(reset_update(config), "operator") == "NOERROR"
        assert store.zones[config.layout.zone].rrset(
            config.layout.endpoint_name("dynamodb"), "CNAME")[0].rdata == \
            config.layout.tree_name("dynamodb", 1)


@pytest.mark.asyncio
async def test_an_update_signed_with_an_unknown_key_is_refused_and_changes_nothing() -> None:
    config = Config(enactors=1, plans=1)
    good = TsigKey.for_worker("operator")
    bad = TsigKey("intruder.", b"x" * 32)
    store = config.initial_dns()
    zone = store.zones[config.layout.zone]
    before = (zone.serial, sorted(zone.records(), key=str))
    wipe = Update(config.layout.zone, (), (
        Change(ChangeKind.DELETE_NAME, config.layout.endpoint_name("dynamodb")),))
    async with DNSServer(store, "127.0.0.1", 0, {good.name: good.secret}) \
            as server, DnsTransport(server.host, server.port, bad) as transport:
        rcode = await transport.update(wipe, "intruder")
    assert rcode == "NOTAUTH"
    assert (zone.serial, sorted(zone.records(), key=str)) == before
    assert store.change_log == []


@pytest.mark.asyncio
async def test_a_run_moved_by_hand_over_real_udp_tells_the_same_story_as_the_simulation() -> None:
    config = Config(variant="aws-2025", enactors=2, plans=3)
    sim = Simulation(config, stop_at_violation=False)
    sim.advance(RandomChoices(11))
    schedule = sim.schedule()
    keys = {w: TsigKey.for_worker(w) for w in config.worker_names}
    async with DNSServer(config.initial_dns(), "127.0.0.1", 0,
                         {k.name: k.secret for k in keys.values()}) as server, \
            DnsTransport(server.host, server.port, keys) as transport:
        run = await AsyncRun.start(config, transport, stop_at_violation=False)
        for name in schedule:
            await run.move(name)
        with pytest.raises(ValueError, match="is not ready"):
            await run.move("planner")  # every worker has finished
    assert run.steps == sim.steps
    assert run.choices == sim.choices
