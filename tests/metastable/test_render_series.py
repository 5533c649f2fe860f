"""A run's series for people: the terminal table and the SVG chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reproducer.metastable import (
    POLICIES,
    FleetParams,
    RowsSoFar,
    Scenario,
    series_rows,
    series_svg,
    simulate,
)

NS = "{http://www.w3.org/2000/svg}"


def collapse() -> Scenario:
    return Scenario(params=FleetParams(hosts=200), policy=POLICIES["operators"], outage_s=2.0,
                    after_s=6.0)


def test_the_table_has_a_row_a_second_with_dns_marked_empty_during_the_outage() -> None:
    series = simulate(collapse())
    rows = series_rows(series)

    assert rows[0].split() == ["t", "(s)", "DNS", "goodput/s", "wasted/s", "failed/s", "queue",
                               "in", "flight", "leases", "held"]
    assert len(rows) == 1 + round(series.end_s)
    dns = [row.split()[1] for row in rows[1:]]
    assert dns == ["ok"] + ["EMPTY"] * 2 + ["ok"] * (len(dns) - 3)
    assert rows[-1].split()[-1] == "200/200"


def test_rows_printed_as_the_samples_arrive_are_the_whole_table() -> None:
    series = simulate(collapse())
    table = RowsSoFar(series.hosts)
    printed = [row for sample in series.samples for row in table.add(sample)]

    assert printed == series_rows(series)[:-1]  # the last row may still have grown
    assert printed + table.rest(series) == series_rows(series)
    assert table.rest(series) == []


def test_the_table_averages_rates_over_its_rows() -> None:
    series = simulate(collapse())
    row = series_rows(series, every_s=series.end_s)[1]

    total = sum(s.goodput_per_s * s.interval_s for s in series.samples)
    assert float(row.split()[2]) == round(total / series.end_s, 1)


def test_the_chart_shades_the_outage_in_each_panel_and_marks_every_event() -> None:
    series = simulate(collapse())
    root = ET.fromstring(series_svg(series))

    shaded = [r for r in root.iter(f"{NS}rect")
              if (t := r.find(f"{NS}title")) is not None and (t.text or "").startswith("DNS")]
    assert len(shaded) == 3
    marks = [t.text for t in root.iter(f"{NS}text")]
    for event in series.events:
        assert event.label in marks
    lines = [p.find(f"{NS}title").text for p in root.iter(f"{NS}polyline")]  # type: ignore[union-attr]
    assert lines == ["goodput (leases established)",
                     "wasted (work for attempts already given up)",
                     "attempts waiting in the manager's queue", "leases held (of 200)"]


def test_a_run_without_an_outage_has_nothing_shaded() -> None:
    series = simulate(collapse().evolve(outage_s=0.0))

    assert "DNS outage" not in series_svg(series)
    assert series.events == ()
