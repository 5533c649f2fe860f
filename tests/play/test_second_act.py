"""The second act's page's API (`reproducer play`, /second-act), over a real HTTP server on
127.0.0.1:0: a run is the model's run of what was asked, the map agrees with the runs, and a
body that cannot be run is a 400 with a sentence, nothing run."""

from __future__ import annotations

import random
from typing import Any

import pytest

from reproducer.metastable import POLICIES, FleetParams, Scenario, Series, simulate
from reproducer.play.second_act import AFTER_S, WARM_S
from tests.play.test_api import call, play_client

RUN = "/api/second-act/run"


def model(policy: str, hosts: int, outage_s: float) -> Series:
    return simulate(Scenario(params=FleetParams(hosts=hosts), policy=POLICIES[policy],
                             outage_s=outage_s, warm_s=WARM_S, after_s=AFTER_S))


@pytest.mark.asyncio
async def test_the_page_and_its_setup_are_served() -> None:
    async with play_client() as client:
        page = await client.get("/second-act")
        assert page.status == 200 and "The second act" in await page.text()
        for name in ("/second-act.js", "/second-act.css"):
            assert (await client.get(name)).status == 200
        setup = await call(client, "GET", "/api/second-act")
        assert [p["name"] for p in setup["policies"]] == list(POLICIES)
        assert setup["bounds"] == {"hosts": [10, 300], "outage_s": [0.0, 10.0]}
        assert setup["viable_hosts"] == 290


@pytest.mark.asyncio
async def test_a_run_is_the_models_series_with_its_chart_table_and_verdict() -> None:
    async with play_client() as client:
        run = await call(client, "POST", RUN, {"policy": "collapsing", "hosts": 200,
                                               "outage_s": 3})
    series = model("collapsing", 200, 3.0)
    assert [s["queue"] for s in run["samples"]] == [s.queue for s in series.samples]
    assert run["verdict"]["recovered"] is False and run["verdict"]["recovery_s"] is None
    assert run["verdict"]["text"].startswith("collapsed: goodput 0.0/s from 6.00 s to 10.00 s")
    assert run["numbers"]["queue_at_end"] == series.samples[-1].queue > 3000
    assert run["svg"].startswith("<svg") and 'id="second-act-chart"' in run["svg"]
    assert run["rows"][0].split()[:3] == ["t", "(s)", "DNS"]
    assert [e["label"] for e in run["events"]] == ["record emptied", "DNS repaired"]


@pytest.mark.asyncio
async def test_the_fix_recovers_and_the_outage_is_rounded_to_the_sliders_tenth() -> None:
    async with play_client() as client:
        run = await call(client, "POST", RUN, {"policy": "admission", "hosts": 200,
                                               "outage_s": 3.04})
    assert run["scenario"]["outage_s"] == 3.0
    assert run["verdict"]["recovered"] is True and run["verdict"]["recovery_s"] == 3.0
    assert run["numbers"]["peak_queue"] <= 25


@pytest.mark.asyncio
async def test_the_map_agrees_with_the_run_the_page_shows_for_each_cell() -> None:
    async with play_client() as client:
        for policy in ("collapsing", "backoff"):
            found = await call(client, "GET", f"/api/second-act/boundary/{policy}")
            cells = random.Random(0).sample(found["cells"], 6)
            assert {c[2] for c in found["cells"]} == {True, False}
            for outage_s, hosts, recovered, _, _ in cells:
                run = await call(client, "POST", RUN, {"policy": policy, "hosts": hosts,
                                                       "outage_s": outage_s})
                assert run["verdict"]["recovered"] is recovered, (policy, outage_s, hosts)


@pytest.mark.asyncio
@pytest.mark.parametrize(("body", "message"), [
    ({}, '"policy" must be one of collapsing, operators, admission, backoff, got None'),
    ({"policy": "retry-harder", "hosts": 200, "outage_s": 3},
     '"policy" must be one of collapsing, operators, admission, backoff, got \'retry-harder\''),
    ({"policy": "collapsing", "hosts": 200.5, "outage_s": 3},
     '"hosts" must be a whole number of hosts, got 200.5'),
    ({"policy": "collapsing", "hosts": 5000, "outage_s": 3}, '"hosts" must be from 10 to 300, '
                                                             "got 5000"),
    ({"policy": "collapsing", "hosts": True, "outage_s": 3},
     '"hosts" must be a number from 10 to 300, got True'),
    ({"policy": "collapsing", "hosts": 200, "outage_s": "3"},
     '"outage_s" must be a number from 0 to 10, got \'3\''),
    ({"policy": "collapsing", "hosts": 200, "outage_s": -1}, '"outage_s" must be from 0 to 10, '
                                                             "got -1"),
    ({"policy": "collapsing", "hosts": 200, "outage_s": 3, "seed": 4},
     "unknown field 'seed'; a run takes policy, hosts, outage_s"),
])
async def test_a_run_that_cannot_be_run_is_a_400_with_a_sentence(body: dict[str, Any],
                                                                message: str) -> None:
    async with play_client() as client:
        answer = await call(client, "POST", RUN, body, status=400)
    assert answer == {"error": message}


@pytest.mark.asyncio
async def test_bodies_that_are_not_json_objects_and_other_sites_are_refused_here_too() -> None:
    async with play_client() as client:
        not_json = await client.post(RUN, data=b"[1, 2]",
                                     headers={"Content-Type": "application/json"})
        assert not_json.status == 400
        assert (await not_json.json())["error"].startswith("the request body must be a JSON "
                                                           "object")
        form = await client.post(RUN, data=b'{"policy": "collapsing"}',
                                 headers={"Content-Type": "text/plain"})
        assert form.status == 415
        other = await client.post(RUN, json={"policy": "collapsing", "hosts": 200,
                                             "outage_s": 3},
                                  headers={"Origin": "http://evil.example"})
        assert other.status == 403
        missing = await call(client, "GET", "/api/second-act/boundary/nope", status=404)
        assert missing["error"].startswith("no policy 'nope'; the policies are collapsing")
