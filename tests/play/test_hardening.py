"""The play server under load and bad input: the bound on worlds holds under a burst, a body
that is not a JSON object is a 400 with a sentence whatever it holds, only this machine's pages
may use it (Host and Origin), and the guide's searches are bounded, given up when their page
leaves, and never keep Ctrl-C waiting."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from reproducer.play.worlds import Guide, PlayError
from reproducer.world.config import Config
from tests.helpers.processes import cpu_ticks
from tests.play.test_api import names, play_client, worlds_for


@pytest.mark.asyncio
async def test_a_burst_of_creations_never_opens_more_worlds_than_the_bound() -> None:
    worlds = worlds_for(max_worlds=8)
    async with play_client(worlds) as client:
        async def create() -> int:
            response = await client.post("/api/worlds", json={"challenge": "empty-the-record",
                                                              "position": []})
            await response.read()
            return response.status

        statuses = await asyncio.gather(*(create() for _ in range(64)))
        assert statuses.count(200) == 8 and set(statuses) == {200, 503}
        assert len(worlds) == 8


@pytest.mark.asyncio
@pytest.mark.parametrize(("body", "message"), [
    (b"\xff\xfe{}", "the request body is not UTF-8 (byte 0)"),
    (b"[" * 50_000 + b"]" * 50_000, "the request body is JSON nested too deeply"),
    (b'{"at": ' + b"9" * 5000 + b"}", "the request body is not usable JSON"),
    (b"[1, 2]", "the request body must be a JSON object, got [1, 2]"),
])
async def test_a_body_that_is_not_a_json_object_is_a_400_with_a_sentence(
        body: bytes, message: str) -> None:
    async with play_client() as client:
        response = await client.post("/api/worlds", data=body,
                                     headers={"Content-Type": "application/json"})
        assert response.status == 400
        assert (await response.json())["error"].startswith(message)


@pytest.mark.asyncio
async def test_a_cross_site_form_post_creates_no_world() -> None:
    worlds = worlds_for()
    async with play_client(worlds) as client:
        plain = await client.post("/api/worlds", data=b'{"challenge": "free"}',
                                  headers={"Content-Type": "text/plain"})
        assert plain.status == 415
        port = client.port
        other = await client.post("/api/worlds", json={"challenge": "free"},
                                  headers={"Origin": "http://evil.example"})
        assert other.status == 403 and "other sites" in (await other.json())["error"]
        rebound = await client.get("/api/challenges", headers={"Host": f"evil.example:{port}"})
        assert rebound.status == 403 and "answers to http://127.0.0.1" in (
            await rebound.json())["error"]
        same = await client.post("/api/worlds", json={"challenge": "free"},
                                 headers={"Origin": f"http://127.0.0.1:{port}"})
        assert same.status == 200
        assert len(worlds) == 1


BIG = Config(variant="cas-flip", enactors=3, plans=3)  # minutes to exhaust


@pytest.mark.asyncio
async def test_a_guide_search_whose_page_left_is_given_up_and_the_queue_is_bounded() -> None:
    guide = Guide(max_states=10_000_000, max_waiting=1)
    left = asyncio.Event()
    running = asyncio.create_task(guide.search(BIG, [], abandoned=left.is_set))
    await asyncio.sleep(0)  # it holds the one search slot
    waiting = asyncio.create_task(guide.search(BIG, names("p")))
    for _ in range(200):  # until the second one waits its turn
        if guide.waiting == 1:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(PlayError) as busy:
        await guide.search(BIG, names("pp"))
    assert busy.value.status == 503 and "busy" in str(busy.value)
    left.set()  # the first page leaves
    with pytest.raises(PlayError) as given_up:
        await asyncio.wait_for(running, timeout=60)
    assert given_up.value.status == 503 and "given up" in str(given_up.value)
    guide.close()  # the server stops: the second is given up too
    with pytest.raises(PlayError):
        await asyncio.wait_for(waiting, timeout=60)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="signals a child process")
def test_ctrl_c_stops_the_server_while_guide_searches_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reproducer", "play", "--variant", "cas-flip", "--enactors", "3",
         "--guide-states", "10000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" at ")[1].split()[0]

        def ask_the_proof() -> None:  # a search of minutes; the page waits for it
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url + "api/challenges/free/proof", timeout=120)

        asker = threading.Thread(target=ask_the_proof, daemon=True)
        asker.start()
        busy_from = cpu_ticks(proc.pid)
        deadline = time.monotonic() + 30
        while cpu_ticks(proc.pid) < busy_from + 100 and time.monotonic() < deadline:
            time.sleep(0.05)  # until the search has run for about a second of CPU
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30  # a generous bound; minutes before the fix
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is not None, "play kept running after Ctrl-C"
        assert proc.returncode == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
