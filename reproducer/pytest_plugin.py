"""pytest fixtures for writing your own tests over the world (registered as a pytest11 plugin).

    def test_my_enactor_never_empties_the_endpoint(race_world):
        sim = race_world()                       # a fresh Simulation of `race_config`
        sim.advance(ReplayChoices([0, 1, 0]))
        assert not sim.violations

    @pytest.mark.asyncio
    async def test_over_real_dns(fake_dns):
        result = await fake_dns.run(ReplayChoices([0, 1]))   # real UDP, TSIG-signed UPDATEs
        assert result.steps == run_memory(fake_dns.config, ReplayChoices([0, 1])).steps

Fixtures:
- `race_config`: the `Config` the others use (the default world); override it in your own
  conftest.py or test module to test another variant or size, your own enactor, or your own
  program (`Config(program="python my_enactor.py", enactors=2)`: each enactor is then a
  process of it, started by `race_world()`'s simulations and ended when the tests end).
- `race_world`: a factory of fresh `Simulation`s of `race_config`. A factory, not a world,
  so that it also serves `@given` tests: Hypothesis runs many examples per test function and a
  function-scoped fixture is not reset between them.
- `fake_dns` (async; needs pytest-asyncio): a running fake_dns server on 127.0.0.1 (an
  ephemeral port) holding the world's initial zone, with a TSIG key per worker. `await
  fake_dns.reset()` puts the zone back; `await fake_dns.run(choices)` resets and runs the world
  over real UDP. The server is closed when the test ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from fake_dns import DNSServer
from reproducer.running.choices import ChoiceSource
from reproducer.running.runtime import run_async
from reproducer.running.simulation import Simulation
from reproducer.running.trace import RunResult
from reproducer.running.transport import DnsTransport, TsigKey, reset_update
from reproducer.world.config import Config

__all__ = ["RunningDns", "fake_dns", "race_config", "race_world"]

_RESET_KEY = "reset"


@dataclass(slots=True)
class RunningDns:
    """A fake_dns server started for one test, serving `config`'s initial zone."""

    config: Config
    server: DNSServer
    keys: dict[str, TsigKey]

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def transport(self) -> DnsTransport:
        """A transport that signs each worker's UPDATEs with its own key (`async with` it)."""
        return DnsTransport(self.host, self.port, self.keys)

    async def reset(self) -> None:
        """Put the zone back to the world's initial state, with one UPDATE over the wire."""
        async with self.transport() as transport:
            rcode = await transport.update(reset_update(self.config), _RESET_KEY)
        if rcode != "NOERROR":
            raise RuntimeError(f"resetting the zone on {self.host}:{self.port} was refused "
                               f"with {rcode}; did something else change the zone's key?")

    async def run(self, choices: ChoiceSource, *, stop_at_violation: bool = True) -> RunResult:
        """Reset the zone, then run the world over real UDP with these choices."""
        await self.reset()
        async with self.transport() as transport:
            return await run_async(self.config, choices, transport,
                                   stop_at_violation=stop_at_violation)


@pytest.fixture
def race_config() -> Config:
    """The world the other fixtures use; override this fixture to change it."""
    return Config()


@pytest.fixture
def race_world(race_config: Config) -> Callable[[], Simulation]:
    """A factory of fresh in-process worlds (Simulations) of `race_config`."""
    return lambda: Simulation(race_config)


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixture needs pytest-asyncio; the rest does not
    pass
else:
    @pytest_asyncio.fixture
    async def fake_dns(race_config: Config) -> AsyncIterator[RunningDns]:
        """A running fake_dns server with the world's initial zone (see the module doc)."""
        keys = {w: TsigKey.for_worker(w) for w in (*race_config.worker_names, _RESET_KEY)}
        server = DNSServer(race_config.initial_dns(), "127.0.0.1", 0,
                           {k.name: k.secret for k in keys.values()})
        async with server:
            yield RunningDns(race_config, server, keys)
