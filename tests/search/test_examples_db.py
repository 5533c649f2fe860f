"""Shared counterexamples: Hypothesis's example database in a real Redis server, so a
counterexample one process found is the first thing every other process replays.

Each test that needs a server starts its own `redis-server` on a free port (Redis cannot bind
port 0, so a socket picks the port first), persisting nothing, and stops it before it returns.
Without redis-server those tests skip on a workstation and fail under CI (`require_tool`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from fake_dns.testing import require_tool
from reproducer.search import explore_hypothesis
from reproducer.search.database import DatabaseUnavailable, shared_database
from reproducer.search.sampling.hypothesis_search import database_key
from reproducer.world.config import Config

REPRODUCER = Path(sys.executable).with_name("reproducer")  # .venv/bin/reproducer
PREFIX = b"hypothesis-example:"  # RedisExampleDatabase's default key prefix
START_BOUND_S = 30.0  # generous: a loaded CI machine, not an expectation


@dataclass(frozen=True)
class RedisServer:
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port)


def free_port() -> int:
    """A TCP port nothing listens on now (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = require_tool("redis-server", "redis-server")
    server = RedisServer(free_port())
    process = subprocess.Popen(
        [binary, "--port", str(server.port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    client = server.client()
    try:
        deadline = time.monotonic() + START_BOUND_S
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                pass
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"redis-server exited with {process.returncode}:\n{output}")
            if time.monotonic() > deadline:
                pytest.fail(f"redis-server did not answer PING within {START_BOUND_S:.0f} s")
            time.sleep(0.02)
        yield server
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process, without the outer pytest's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(extra)
    return env


def test_a_counterexample_found_in_one_process_is_replayed_first_by_another(
        redis_server: RedisServer, tmp_path: Path) -> None:
    config = Config(variant="aws-2025", enactors=2, plans=2)
    first = explore_hypothesis(config, seed=1, database=redis_server.url)
    assert first.found and first.result is not None
    assert first.first_at is not None and first.first_at > 1  # it had to search
    story_key = PREFIX + database_key(config) + b".minimised-story"
    saved = redis_server.client().smembers(story_key)
    assert saved == {json.dumps(list(first.result.choices)).encode()}

    again = subprocess.run(
        [str(REPRODUCER), "explore", "--variant", "aws-2025", "--enactors", "2", "--plans", "2",
         "--seed", "2", "--database", redis_server.url, "--json",
         "--out", str(tmp_path / "counterexample.json")],
        capture_output=True, text=True, cwd=tmp_path, env=clean_env(), timeout=120)
    assert again.returncode == 1, again.stderr  # found
    data = json.loads(again.stdout)
    assert data["executions"] == 1 and data["first_found_at"] == 1  # the shared one, first
    assert data["choices"] == list(first.result.choices)
    assert not (tmp_path / ".hypothesis" / "examples").exists()  # nothing went to a directory


CONFTEST = '''\
import os

from hypothesis import Phase, settings

from reproducer.search.database import shared_database

# As the README shows: every worker's examples in one Redis server.
settings.register_profile("shared", database=shared_database(os.environ["HYPOTHESIS_REDIS_URL"]),
                          deadline=None)
# Only what the database holds: a failure here can only be a replayed example.
settings.register_profile("replay-only", parent=settings.get_profile("shared"),
                          phases=[Phase.explicit, Phase.reuse])
settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
'''

PROPERTIES = '''\
from hypothesis import given, strategies as st


@given(st.integers(0, 100_000))
def test_a_number_is_below_a_thousand(n):
    assert n < 1000


@given(st.lists(st.integers(0, 100)))
def test_a_list_sums_below_three_hundred(xs):
    assert sum(xs) < 300
'''


def run_pytest_n2(tmp_path: Path, url: str, profile: str, *flags: str,
                  ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # Not this project's plugins: the generated file needs Hypothesis and xdist alone.
        [sys.executable, "-m", "pytest", "-n", "2", "-v", "-p", "no:cacheprovider",
         "-p", "no:dns_race_reproducer", "-p", "no:asyncio", *flags, "test_properties.py"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env=clean_env(HYPOTHESIS_REDIS_URL=url, HYPOTHESIS_PROFILE=profile))


def test_pytest_xdist_workers_replay_the_counterexamples_another_run_saved_in_redis(
        redis_server: RedisServer, tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_properties.py").write_text(textwrap.dedent(PROPERTIES))

    found = run_pytest_n2(tmp_path, redis_server.url, "shared")
    assert found.returncode == 1 and "2 failed" in found.stdout, found.stdout + found.stderr
    assert "n=1000" in found.stdout  # Hypothesis's minimal example
    assert redis_server.client().keys(PREFIX + b"*")  # saved in Redis, by whichever worker
    assert not (tmp_path / ".hypothesis" / "examples").exists()

    # Every worker runs every test (--dist each) and generates nothing: each of the two fails
    # on the examples the other run saved.
    replayed = run_pytest_n2(tmp_path, redis_server.url, "replay-only", "--dist", "each")
    out = replayed.stdout
    assert replayed.returncode == 1 and "4 failed" in out, out + replayed.stderr
    assert "[gw0]" in out and "[gw1]" in out
    assert out.count("n=1000") >= 2  # both workers, the same minimal example


def test_a_redis_url_with_nothing_listening_is_one_line_and_exit_2(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}"
    out = subprocess.run([str(REPRODUCER), "explore", "--database", url],
                         capture_output=True, text=True, cwd=tmp_path, env=clean_env(),
                         timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith(f"reproducer: error: argument --database: no Redis server "
                                 f"answering at {url} ")
    assert f"start one with redis-server --port {port} or use --database DIR" in out.stderr
    assert not (tmp_path / "reports").exists()  # nothing was explored


@pytest.mark.parametrize(("url", "why"), [
    ("redis://127.0.0.1:notaport/0", "Port could not be cast"),
    ("redis://127.0.0.1:6379/zero", "database 'zero' is not a number"),
    ("redis:///0", "no host"),
])
def test_a_malformed_redis_url_is_refused_naming_the_form(url: str, why: str) -> None:
    with pytest.raises(DatabaseUnavailable, match=why) as caught:
        shared_database(url)
    assert "the form is redis://HOST:PORT[/DB]" in str(caught.value)


def test_the_library_refuses_a_redis_url_with_nothing_listening_before_exploring() -> None:
    config = Config(variant="aws-2025", enactors=2, plans=2)
    url = f"redis://127.0.0.1:{free_port()}"
    with pytest.raises(DatabaseUnavailable, match="no Redis server answering at"):
        explore_hypothesis(config, database=url)


def test_an_error_about_a_redis_url_does_not_echo_its_password() -> None:
    for url in (f"redis://:s3cret@127.0.0.1:{free_port()}/0", "redis://bob:s3cret@127.0.0.1:x"):
        with pytest.raises(DatabaseUnavailable) as caught:
            shared_database(url)
        assert "s3cret" not in str(caught.value) and ":***@127.0.0.1" in str(caught.value)
