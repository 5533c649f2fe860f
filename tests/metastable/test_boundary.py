"""The boundary map (outage x fleet -> recovered or collapsed) and its text and SVG renderings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from reproducer.metastable import (
    POLICIES,
    BoundaryMap,
    Cell,
    Recovery,
    Scenario,
    boundary_grid,
    boundary_svg,
    map_boundary,
    simulate,
)
from reproducer.metastable.boundary import scenario_at

PROP = Recovery()
OUTAGES = (0.0, 1.0, 2.0, 4.0)
FLEETS = (40, 80, 160, 240)


@pytest.fixture(scope="module")
def collapsing() -> BoundaryMap:
    return map_boundary(Scenario(policy=POLICIES["collapsing"]), PROP, OUTAGES, FLEETS)


def test_every_cell_is_the_property_judged_on_that_run(collapsing: BoundaryMap) -> None:
    base = Scenario(policy=POLICIES["collapsing"])
    for cell in collapsing.cells:
        verdict = PROP.judge(simulate(scenario_at(base, PROP, cell.outage_s, cell.hosts)))
        assert (cell.recovered, cell.recovery_s) == (verdict.recovered, verdict.recovery_s)


def test_the_collapsing_map_needs_both_a_large_fleet_and_a_long_enough_outage(
        collapsing: BoundaryMap) -> None:
    collapsed = {(c.outage_s, c.hosts) for c in collapsing.collapsed()}

    assert collapsed == {(2.0, 160), (4.0, 160), (1.0, 240), (2.0, 240), (4.0, 240)}
    assert collapsing.smallest_collapsed_fleet(2.0) == 160
    assert collapsing.smallest_collapsed_fleet(0.0) is None


def test_the_fix_recovers_in_every_cell() -> None:
    fixed = map_boundary(Scenario(policy=POLICIES["admission"]), PROP, OUTAGES, FLEETS)

    assert fixed.collapsed() == ()


def test_the_text_grid_puts_large_fleets_on_top_and_short_outages_on_the_left() -> None:
    cells = (Cell(0.0, 10, True, 5.0, 0.0), Cell(2.5, 10, True, 5.0, 1.0),
             Cell(0.0, 20, True, 9.0, 0.0), Cell(2.5, 20, False, 0.0, None))
    grid = boundary_grid(BoundaryMap("collapsing", (0.0, 2.5), (10, 20), cells))

    assert grid == [
        "collapsing: '#' collapsed, '.' recovered",
        " hosts |    0 2.5   <- outage (s)",
        "-------+---------",
        "    20 |    .   #",
        "    10 |    .   .",
    ]


def test_the_text_grid_can_show_how_long_each_recovered_cell_took() -> None:
    cells = (Cell(0.0, 10, True, 5.0, 0.0), Cell(2.5, 10, True, 5.0, 1.25),
             Cell(0.0, 20, True, 9.0, 0.0), Cell(2.5, 20, False, 0.0, None))
    grid = boundary_grid(BoundaryMap("admission", (0.0, 2.5), (10, 20), cells), times=True)

    assert grid[3:] == ["    20 |   0.0    #", "    10 |   0.0  1.2"]


def test_the_svg_is_one_cell_per_configuration_with_its_verdict_and_escaped_text(
        collapsing: BoundaryMap) -> None:
    odd = BoundaryMap("<b>&", collapsing.outages_s, collapsing.hosts, collapsing.cells)
    root = ET.fromstring(boundary_svg(odd))
    ns = "{http://www.w3.org/2000/svg}"
    cells = [r for r in root.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]

    assert len(cells) == len(OUTAGES) * len(FLEETS)
    titles = [r.find(f"{ns}title").text or "" for r in cells]  # type: ignore[union-attr]
    assert sum("collapsed" in t for t in titles) == len(collapsing.collapsed())
    assert "240 hosts, outage 1 s: collapsed, goodput 0.0/s" in titles
    assert any(t.text == "<b>&" for t in root.iter(f"{ns}text"))


def test_a_map_survives_json_both_ways(collapsing: BoundaryMap) -> None:
    assert BoundaryMap.from_json(json.loads(json.dumps(collapsing.to_json()))) == collapsing


def test_asking_for_a_cell_outside_the_map_names_what_the_map_has(
        collapsing: BoundaryMap) -> None:
    with pytest.raises(KeyError, match=r"no cell for outage 3\.0 s and 40 hosts"):
        collapsing.cell(3.0, 40)
