"""`python -m reproducer.metastable`: model, boundary, run and the manager's own process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reproducer.metastable import Restart, Throttle
from reproducer.metastable.command import main
from reproducer.metastable.live_manager import decode_command, encode_command
from tests.helpers.sockets import interrupt_a_real_run

PROG = "python -m reproducer.metastable"


def run_main(argv: list[str]) -> tuple[int, list[str]]:
    lines: list[str] = []
    return main(argv, lines.append), lines


@pytest.mark.parametrize(("argv", "message"), [
    (["model", "--hosts", "0"], "argument --hosts: expected a whole number >= 1, got '0' "
                                f"(see {PROG} model --help)"),
    (["model", "--policy", "retry-harder"],
     "argument --policy: unknown policy 'retry-harder'; choose one of collapsing, operators, "
     f"admission, backoff (see {PROG} model --help)"),
    (["boundary", "--outages", "1,two"], "argument --outages: expected seconds separated by "
                                         f"commas, got '1,two' (see {PROG} boundary --help)"),
    (["manager", "--duration-s", "1"], "the following arguments are required: --lb "
                                       f"(see {PROG} manager --help)"),
])
def test_a_bad_flag_is_one_line_and_status_2(argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"{PROG}: error: {message}\n"


def test_values_that_cannot_work_together_are_one_line_and_status_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = run_main(["model", "--timeout-s", "5"])

    assert (status, lines) == (2, [])
    assert capsys.readouterr().err == (
        f"{PROG}: error: timeout_s=5 must be shorter than half a lease (lease_s=8): a renewal "
        "starts with half the lease left and must be able to finish before the lease lapses\n")


def test_the_model_prints_the_series_and_exits_1_when_the_fleet_collapses() -> None:
    status, lines = run_main(["model", "--policy", "collapsing"])

    assert status == 1
    assert lines[0] == "collapsing, 200 hosts, outage 3 s (model)"
    assert lines[1].split()[:3] == ["t", "(s)", "DNS"]
    assert lines[-1].startswith("collapsed: goodput 0.0/s from 6.00 s to 10.00 s")


def test_the_model_exits_0_when_the_fleet_recovers_and_writes_the_chart(
        tmp_path: Path) -> None:
    status, lines = run_main(["model", "--policy", "admission", "--svg",
                              str(tmp_path / "run.svg")])

    assert status == 0
    assert lines[-1].startswith("recovered:")
    assert (tmp_path / "run.svg").read_text().startswith("<svg")


def test_the_model_in_json_is_a_line_per_sample_then_the_series_and_the_verdict() -> None:
    _, lines = run_main(["model", "--policy", "backoff", "--json", "--after-s", "3"])
    records = [json.loads(line) for line in lines]

    assert {r["event"] for r in records[:-2]} == {"sample"}
    assert records[-2]["event"] == "series" and records[-2]["hosts"] == 200
    assert records[-1] == {"event": "verdict", "recovered": False, "goodput_per_s": 0.0,
                           "floor_per_s": 25.0, "recovery_s": None}


def test_the_boundary_prints_a_grid_per_policy_and_writes_one_svg_each(tmp_path: Path) -> None:
    status, lines = run_main(["boundary", "--policies", "collapsing", "admission",
                              "--outages", "0,2", "--fleet", "80,200",
                              "--svg", str(tmp_path / "map.svg")])

    assert status == 0
    assert lines == [
        "collapsing: '#' collapsed, '.' recovered",
        " hosts |    0   2   <- outage (s)",
        "-------+---------",
        "   200 |    .   #",
        "    80 |    .   .",
        "",
        "admission: '#' collapsed, '.' recovered",
        " hosts |    0   2   <- outage (s)",
        "-------+---------",
        "   200 |    .   .",
        "    80 |    .   .",
        "",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map-admission.svg",
                                                          "map-collapsing.svg"]


def test_the_search_reports_the_shrunk_configuration_and_exits_1_when_it_finds_one() -> None:
    status, lines = run_main(["search", "--policy", "collapsing", "--shrink", "fleet"])

    assert status == 1
    assert lines[:2] == [
        "collapsing: outages of 0-6 s, fleets of 10-247 hosts (those the pool can keep without "
        "an outage)",
        "stuck after an outage of 6 s with 90 hosts, shrunk towards the smallest fleet (30 "
        "configurations run; the first stuck one was number 7)"]


def test_the_uniform_sampler_over_many_seeds_says_how_many_configurations_it_needed() -> None:
    status, lines = run_main(["search", "--sampler", "uniform", "--max-outage-s", "1",
                              "--seeds", "5", "--max-examples", "60"])

    assert status == 1
    assert lines[1:] == [
        "uniform samples, seeds 0-4: a stuck configuration within 60 with 5 of 5 seeds",
        "configurations run to the first stuck one: median 15, mean 18.6, fewest 4, most 33",
        "per seed: 13 28 4 33 15"]


def test_the_search_exits_0_when_the_policy_recovers_from_everything_explored() -> None:
    status, lines = run_main(["search", "--policy", "admission", "--max-examples", "20"])

    assert (status, lines[-1]) == (0, "recovered from every configuration explored (20)")


def test_the_manager_process_reports_ready_then_counters_then_stops_by_itself() -> None:
    # Nothing listens on port 1: every attempt fails fast, and the manager keeps going.
    proc = subprocess.run(
        [sys.executable, "-m", "reproducer.metastable", "manager", "--lb", "http://127.0.0.1:1",
         "--hosts", "5", "--lease-s", "1", "--timeout-s", "0.3", "--duration-s", "0.8",
         "--sample-s", "0.2"], capture_output=True, text=True, timeout=30, check=False)
    records = [json.loads(line) for line in proc.stdout.splitlines()]

    assert proc.returncode == 0, proc.stderr
    assert records[0]["event"] == "ready" and records[0]["params"]["hosts"] == 5
    assert records[-1] == {"event": "stopped"}
    counters = records[1:-1]
    assert {c["event"] for c in counters} == {"counters"}
    assert len(counters) >= 4
    assert counters[-1]["failed"] > 0 and counters[-1]["established"] == 0


def test_ctrl_c_during_a_real_run_stops_every_process_it_started() -> None:
    code, _ = interrupt_a_real_run(["-m", "reproducer.metastable", "run", "--json",
                                    "--hosts", "20"])

    assert code == 130


def test_the_help_ends_with_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])

    assert capsys.readouterr().out.rstrip().endswith(
        "130  interrupted (Ctrl-C)")


@pytest.mark.parametrize(("line", "command"), [
    ('{"command": "restart"}', Restart()),
    ('{"command": "throttle", "per_s": 40}', Throttle(40.0)),
    ('{"command": "throttle", "per_s": null}', Throttle(None)),
])
def test_the_operators_commands_cross_to_the_manager_as_json_lines(
        line: str, command: Restart | Throttle) -> None:
    assert decode_command(line) == command
    assert decode_command(encode_command(command)) == command


@pytest.mark.parametrize("line", ['{"command": "reboot"}', '{"command": "throttle", "per_s": 0}',
                                  "restart", "{}"])
def test_a_command_the_manager_cannot_obey_is_refused_with_what_it_expects(line: str) -> None:
    with pytest.raises(ValueError, match="expected a JSON command such as"):
        decode_command(line)
