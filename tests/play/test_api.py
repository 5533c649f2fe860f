"""The play server's JSON API (`reproducer play`), over a real HTTP server on 127.0.0.1:0 whose
worlds each run their own fake_dns server: moves, refusals that change nothing, stale pages,
positions from another world, undo over real DNS, the guide, replay files, many worlds at once,
the bound on worlds and idle expiry (on an injected clock)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from fake_dns import DNSClient, DNSClientError
from reproducer.cli import main
from reproducer.play.server import make_app, serve
from reproducer.play.view import CHALLENGES, FREE, worker_key
from reproducer.play.worlds import Worlds
from reproducer.world.config import Config

# The outage's shortest story under aws-2025 with "empty the record" as the only invariant
# (breadth-first search's 18 moves), one letter per move: p = planner, N = enactor-N.
STORY = "p111pp222222211122"


def names(keys: str) -> list[str]:
    return ["planner" if k == "p" else f"enactor-{k}" for k in keys]


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


DEFAULT = Config()


def worlds_for(free: Config = DEFAULT, **kwargs: Any) -> Worlds:
    return Worlds({FREE: free, **{c.id: c.config for c in CHALLENGES}}, **kwargs)


@asynccontextmanager
async def play_client(worlds: Worlds | None = None, free: Config = DEFAULT
                      ) -> AsyncIterator[TestClient[Any, Any]]:
    app = make_app(free, worlds=worlds)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        yield client


async def call(client: TestClient[Any, Any], method: str, path: str, body: Any = None,
               status: int = 200) -> dict[str, Any]:
    response = await client.request(method, path, json=body)
    data: dict[str, Any] = await response.json()
    assert response.status == status, data
    return data


async def new_world(client: TestClient[Any, Any], challenge: str = "empty-the-record",
                    moves: str = "") -> dict[str, Any]:
    return await call(client, "POST", "/api/worlds",
                      {"challenge": challenge, "position": names(moves)})


@pytest.mark.asyncio
async def test_moving_a_ready_worker_takes_one_step_over_real_dns() -> None:
    async with play_client() as client:
        world = await new_world(client)
        assert world["at"] == 0 and [w["key"] for w in world["workers"]] == list("p123")
        assert world["lock"]["answer"] == 'NOERROR "holder=none expires_ms=0 stamp=initial"'
        after = await call(client, "POST", f"/api/worlds/{world['world']}/move",
                           {"worker": "planner", "at": 0})
        assert after["position"] == ["planner"] and after["steps"][0]["outcome"] == "ok"
        assert [p["generation"] for p in after["plans"]] == [1, 2]


@pytest.mark.asyncio
async def test_the_outage_story_empties_the_record_and_the_answer_comes_from_dns() -> None:
    async with play_client() as client:
        world = await new_world(client, moves=STORY)
        endpoint = world["endpoints"][0]
        assert endpoint["rcode"] == "NOERROR" and endpoint["addresses"] == []
        assert endpoint["alias"].startswith("g0002.dynamodb.plans.")
        [violation] = world["violations"]
        assert violation["invariant"] == 1 and violation["step"] == 18
        assert "every endpoint resolves to at least one address" in violation["sentence"]


@pytest.mark.asyncio
async def test_a_refused_move_says_why_and_changes_nothing() -> None:
    async with play_client() as client:
        world = await new_world(client, moves="ppp")  # the planner wrote its last plan
        path = f"/api/worlds/{world['world']}"
        for worker, why in (("planner", "planner has finished"),
                            ("enactor-7", "no worker 'enactor-7' in this world"),
                            ("", "no worker ''")):
            refused = await call(client, "POST", path + "/move", {"worker": worker, "at": 3},
                                 status=400)
            assert why in refused["error"] and "Nothing was changed" in refused["error"]
        assert (await call(client, "GET", path))["position"] == names("ppp")


@pytest.mark.asyncio
async def test_a_move_from_a_stale_page_is_refused_with_409_and_changes_nothing() -> None:
    async with play_client() as client:
        world = await new_world(client, moves="p1")
        path = f"/api/worlds/{world['world']}"
        stale = await call(client, "POST", path + "/move", {"worker": "enactor-2", "at": 1},
                           status=409)
        assert "stale position: this world is at move 2, your page was at move 1" in stale["error"]
        stale = await call(client, "POST", path + "/undo", {"at": 5}, status=409)
        assert (await call(client, "GET", path))["position"] == names("p1")


@pytest.mark.asyncio
async def test_a_position_that_cannot_be_played_here_is_refused_by_move() -> None:
    worlds = worlds_for()
    async with play_client(worlds) as client:
        refused = await call(client, "POST", "/api/worlds",
                             {"challenge": "cas-flip", "position": names("p3")}, status=400)
        assert refused["error"].startswith("move 2 of the position (enactor-3) cannot be made: "
                                           "there is no worker 'enactor-3' in this world")
        refused = await call(client, "POST", "/api/worlds",
                             {"challenge": "empty-the-record", "position": names("pppp")},
                             status=400)
        assert "move 4 of the position (planner)" in refused["error"]
        assert len(worlds) == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(("body", "message"), [
    ({"challenge": "no-such", "position": []}, "no challenge 'no-such'"),
    ({"challenge": FREE, "position": "p1"}, "\"position\" must be a list of worker names"),
    ({"challenge": 3}, "\"challenge\" must be a challenge id"),
])
async def test_a_malformed_request_gets_a_sentence_and_a_4xx(body: Any, message: str) -> None:
    async with play_client() as client:
        response = await client.post("/api/worlds", json=body)
        assert 400 <= response.status < 500 and message in (await response.json())["error"]
        response = await client.post("/api/worlds", data=b"{not json",
                                     headers={"Content-Type": "application/json"})
        assert response.status == 400
        assert "not JSON" in (await response.json())["error"]
        world = await new_world(client)
        response = await client.post(f"/api/worlds/{world['world']}/move",
                                     json={"worker": "planner", "at": "zero"})
        assert response.status == 400 and "\"at\" must be" in (await response.json())["error"]


@pytest.mark.asyncio
async def test_undo_and_reset_rebuild_the_world_over_real_dns() -> None:
    async with play_client() as client:
        world = await new_world(client, moves=STORY)
        path = f"/api/worlds/{world['world']}"
        back = await call(client, "POST", path + "/undo", {"at": 18})
        assert back["position"] == names(STORY[:-1]) and back["violations"] == []
        assert back["endpoints"][0]["addresses"] == ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
        again = await call(client, "POST", path + "/move", {"worker": "enactor-2", "at": 17})
        assert again["endpoints"][0]["addresses"] == []
        fresh = await call(client, "POST", path + "/reset")
        assert fresh["at"] == 0 and fresh["endpoints"][0]["generation"] == 1
        assert fresh["lock"]["answer"] == 'NOERROR "holder=none expires_ms=0 stamp=initial"'
        nothing = await call(client, "POST", path + "/undo", {"at": 0}, status=400)
        assert "nothing to undo" in nothing["error"]
        there = await call(client, "POST", path + "/goto", {"position": names(STORY)})
        assert there["violations"] == again["violations"]


@pytest.mark.asyncio
async def test_the_guide_counts_the_moves_left_and_its_hints_lead_to_the_violation() -> None:
    free = Config(enactors=2, invariants=(1,))  # a smaller world: every question is quick
    async with play_client(worlds_for(free), free) as client:
        world = await new_world(client, FREE)
        path = f"/api/worlds/{world['world']}"
        first = await call(client, "GET", path + "/guide")
        assert first["status"] == "reachable" and first["distance"] == 18
        assert first["text"] == "From here the record can be emptied in 18 more moves."
        at = 0
        while (guide := await call(client, "GET", path + "/guide"))["status"] == "reachable":
            assert guide["distance"] == 18 - at
            world = await call(client, "POST", path + "/move", {"worker": guide["next"], "at": at})
            at += 1
        assert guide["status"] == "broken" and at == 18
        assert world["violations"][0]["invariant"] == 1


@pytest.mark.asyncio
async def test_the_guide_and_the_proof_say_cas_flip_can_never_be_broken() -> None:
    async with play_client() as client:
        world = await new_world(client, "cas-flip", moves="p1")
        guide = await call(client, "GET", f"/api/worlds/{world['world']}/guide")
        assert guide["status"] == "never" and guide["exhausted"] is True
        assert guide["text"].startswith("From here it can never be done")
        proof = await call(client, "GET", "/api/challenges/cas-flip/proof")
        assert proof["found"] is False and proof["exhausted"] is True
        assert proof["states"] > 100 and proof["enactors"] == 2
        fewest = await call(client, "GET", "/api/challenges/fewest-moves/proof")
        assert fewest["minimum"] == 18


def test_the_exported_replay_file_is_one_reproducer_replay_accepts(tmp_path: Path) -> None:
    async def export() -> str:
        async with play_client() as client:
            world = await new_world(client, moves=STORY)
            response = await client.get(f"/api/worlds/{world['world']}/replay")
            assert response.status == 200
            assert "attachment" in response.headers["Content-Disposition"]
            return await response.text()

    replay = tmp_path / "play.json"
    replay.write_text(asyncio.run(export()))
    lines: list[str] = []
    code = main(["replay", str(replay), "--transport", "memory", "--json",
                 "--trace", str(tmp_path / "t.json"), "--report", str(tmp_path / "r.html")],
                lines.append)
    summary = json.loads(lines[-1])
    assert code == 1 and summary["matches_expected"] is True
    assert summary["invariant"] == 1 and summary["steps"] == 18


@pytest.mark.asyncio
async def test_many_learners_each_get_their_own_world_and_dns_server() -> None:
    async with play_client(worlds_for(max_worlds=12)) as client:
        cuts = range(6, 18)  # twelve learners, each a move further into the story
        made = await asyncio.gather(*(new_world(client, moves=STORY[:n]) for n in cuts))
        assert len({w["world"] for w in made}) == len({w["dns"] for w in made}) == 12
        moved = await asyncio.gather(*(
            call(client, "POST", f"/api/worlds/{w['world']}/move",
                 {"worker": names(STORY[n])[0], "at": n}) for n, w in zip(cuts, made, strict=True)))
        for n, world in zip(cuts, moved, strict=True):
            assert world["position"] == names(STORY[: n + 1])
        assert moved[-1]["endpoints"][0]["addresses"] == []  # only the last emptied it
        assert all(w["endpoints"][0]["addresses"] for w in moved[:-1])


@pytest.mark.asyncio
async def test_worlds_are_bounded_and_the_least_recently_used_idle_one_makes_room() -> None:
    clock = FakeClock()
    async with play_client(worlds_for(max_worlds=2, evict_idle_s=60, clock=clock)) as client:
        first, second = await new_world(client), await new_world(client)
        full = await new_world_status(client, 503)
        assert "2 worlds are in play" in full["error"]
        clock.now_s += 30
        await call(client, "GET", f"/api/worlds/{first['world']}")  # first is used again
        clock.now_s += 45  # second has been idle 75 s, first 45 s
        third = await new_world(client)
        gone = await call(client, "GET", f"/api/worlds/{second['world']}", status=404)
        assert "Reload the page: your moves are in its link" in gone["error"]
        await call(client, "GET", f"/api/worlds/{first['world']}")
        await call(client, "GET", f"/api/worlds/{third['world']}")


async def new_world_status(client: TestClient[Any, Any], status: int) -> dict[str, Any]:
    return await call(client, "POST", "/api/worlds", {"challenge": FREE, "position": []},
                      status=status)


@pytest.mark.asyncio
async def test_idle_worlds_expire_and_their_dns_servers_stop_answering() -> None:
    clock = FakeClock()
    worlds = worlds_for(idle_s=600, clock=clock)
    async with play_client(worlds) as client:
        world = await new_world(client)
        host, port = worlds.get(world["world"]).dns_address.rsplit(":", 1)
        clock.now_s += 599
        assert await worlds.expire() == 0
        clock.now_s += 1
        assert await worlds.expire() == 1 and len(worlds) == 0
        await call(client, "GET", f"/api/worlds/{world['world']}", status=404)
    async with DNSClient(host, int(port), timeout_s=0.5) as dns:
        with pytest.raises((DNSClientError, OSError)):
            await dns.query("dynamodb.us-east-1.amazonaws.com.", "A")


@pytest.mark.asyncio
async def test_a_user_enactor_can_be_played() -> None:
    free = Config(enactor="tests.helpers.example_enactor:OneShotEnactor", enactors=2)
    async with play_client(worlds_for(free), free) as client:
        world = await new_world(client, FREE, moves="p1")
        assert world["label"] == "tests.helpers.example_enactor:OneShotEnactor"
        assert world["summary"] == "your enactor tests.helpers.example_enactor:OneShotEnactor"


@pytest.mark.asyncio
async def test_serve_prints_the_url_and_serves_the_page_until_cancelled() -> None:
    urls: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(serve(make_app(Config()), 0, urls.put_nowait))
    try:
        url = await asyncio.wait_for(urls.get(), timeout=30)
        assert url.startswith("http://127.0.0.1:")
        reader, writer = await asyncio.open_connection(*url[7:-1].split(":"))
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        page = (await reader.read()).decode()
        writer.close()
        await writer.wait_closed()
        assert "You are the scheduler" in page and "<script src=\"/play.js\">" in page
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_play_refuses_a_bad_flag_or_enactor_in_one_line(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["play", "--port", "99999"])
    assert exit_.value.code == 2
    assert main(["play", "--enactor", "no_such_module:Nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("reproducer: error: ") for line in err)


def test_every_worker_has_a_key_and_the_keys_round_trip() -> None:
    assert [worker_key(n) for n in names("p123456789")] == list("p123456789")
