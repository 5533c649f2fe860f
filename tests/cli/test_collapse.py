"""`reproducer collapse`: the second act inside `reproducer`. The map by default, the model and
the real run with their exit statuses, the pictures in a page, one-line errors in reproducer's
words, and Ctrl-C stopping every process of a real run."""

from __future__ import annotations

from pathlib import Path

import pytest

from reproducer.cli import COMMANDS
from tests.cli.test_errors import run
from tests.helpers.sockets import interrupt_a_real_run

SMALL_MAP = ["--outages", "0,2", "--fleet", "80,200"]


def test_with_no_action_the_command_draws_the_boundary_map(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(["collapse", *SMALL_MAP, "--policies", "collapsing"], capsys)

    assert (code, err) == (0, "")
    assert lines == ["collapsing: '#' collapsed, '.' recovered",
                     " hosts |    0   2   <- outage (s)",
                     "-------+---------",
                     "   200 |    .   #",
                     "    80 |    .   .",
                     ""]


def test_the_default_action_goes_in_only_where_the_line_gives_none() -> None:
    collapse = next(c for c in COMMANDS if c.name == "collapse")

    assert collapse.with_default_action(["collapse"]) == ["collapse", "boundary"]
    assert collapse.with_default_action(["collapse", "--times"]) == \
        ["collapse", "boundary", "--times"]
    assert collapse.with_default_action(["collapse", "model", "--hosts", "9"]) == \
        ["collapse", "model", "--hosts", "9"]
    assert collapse.with_default_action(["collapse", "--help"]) == ["collapse", "--help"]
    assert collapse.with_default_action(["story", "--out", "x"]) == ["story", "--out", "x"]


def test_the_boundary_writes_an_svg_per_policy_and_one_self_contained_page(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "maps.html"
    code, lines, _ = run(["collapse", "boundary", *SMALL_MAP, "--policies", "collapsing",
                          "backoff", "--svg", str(tmp_path / "map.svg"), "--html", str(page)],
                         capsys)

    assert code == 0 and lines[-1] == f"page: {page}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map-backoff.svg", "map-collapsing.svg",
                                                          "maps.html"]
    html = page.read_text()
    assert 'id="boundary-collapsing"' in html and 'id="boundary-backoff"' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_the_model_exits_1_when_the_fleet_collapses_and_0_when_it_recovers(
        capsys: pytest.CaptureFixture[str]) -> None:
    collapsed, lines, _ = run(["collapse", "model", "--policy", "collapsing", "--hosts", "200",
                               "--lease-s", "8", "--timeout-s", "0.5", "--capacity", "4"],
                              capsys)
    assert collapsed == 1 and lines[-1].startswith("collapsed: goodput 0.0/s")

    recovered, lines, _ = run(["collapse", "model", "--policy", "admission"], capsys)
    assert recovered == 0 and lines[-1].startswith("recovered:")


@pytest.mark.parametrize(("argv", "message"), [
    (["collapse", "--fleet", "8x"], "argument --fleet: expected fleet sizes separated by commas, "
                                    "got '8x' (see reproducer collapse boundary --help)"),
    (["collapse", "model", "--capacity", "0"],
     "argument --capacity: expected a whole number >= 1, got '0' (see reproducer collapse model "
     "--help)"),
    (["collapse", "run", "--policy", "harder"],
     "argument --policy: unknown policy 'harder'; choose one of collapsing, operators, "
     "admission, backoff (see reproducer collapse run --help)"),
    (["collapse", "model", "--timeout-s", "5"],
     "timeout_s=5 must be shorter than half a lease (lease_s=8): a renewal starts with half the "
     "lease left and must be able to finish before the lease lapses"),
    (["collapse", "run", "--capacity", "3"],
     "capacity=3 must split evenly between backends=2 (each backend gets the same slots)"),
    (["collapse", "manager"], "argument ACTION: invalid choice: 'manager' (choose from 'run', "
                              "'model', 'boundary', 'search') (see reproducer collapse --help)"),
])
def test_a_bad_line_is_one_line_in_reproducers_words_and_status_2(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(argv, capsys)

    assert (code, lines) == (2, [])
    assert err == f"reproducer: error: {message}\n"


def test_a_page_that_cannot_be_written_is_refused_before_anything_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(["collapse", "run", "--html", str(tmp_path)], capsys)

    assert (code, lines) == (2, [])
    assert err.startswith(f"reproducer: error: argument --html: {tmp_path} is a folder")


def test_ctrl_c_during_a_real_run_stops_every_process_and_exits_130() -> None:
    code, err = interrupt_a_real_run(["-m", "reproducer", "collapse", "run", "--json",
                                      "--hosts", "20"])

    assert (code, err) == (130, "reproducer: interrupted\n")
