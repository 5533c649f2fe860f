"""`python -m fake_lb` as real processes: where it listens, how it stops, that it never outlives
its parent, and what a bad flag says."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

import fake_dns
from fake_lb import FleetInfo, FleetProcess
from fake_lb.__main__ import main
from reproducer import HttpHealthSource
from reproducer.world.health import BackendHealth
from tests.helpers.lb import KEY_NAME, SECRET, new_store, publish


@pytest_asyncio.fixture
async def dns_port() -> AsyncIterator[int]:
    async with fake_dns.DNSServer(new_store(), host="127.0.0.1", port=0,
                                  tsig_keys={KEY_NAME: SECRET}) as server:
        yield server.port


async def statuses(urls: tuple[str, ...], count: int) -> list[tuple[int, str]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        out = []
        for i in range(count):
            async with http.get(f"{urls[i % len(urls)]}/items/k{i}") as reply:
                out.append((reply.status, reply.headers.get("X-Backend", "")))
        return out


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def wait_gone(pid: int) -> bool:
    """True once process `pid` no longer runs (bounded polling, never asserted on time)."""
    for _ in range(500):
        if not alive(pid):
            return True
        await asyncio.sleep(0.01)
    return False


async def start_cli(*args: str) -> tuple[asyncio.subprocess.Process, FleetInfo]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fake_lb", "--json", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    lines: list[bytes] = []
    while not lines or json.loads(lines[-1])["event"] != "ready":
        lines.append(await asyncio.wait_for(proc.stdout.readline(), 10))
    assert [json.loads(line)["event"] for line in lines[:-1]] == ["listening"] * (len(lines) - 1)
    return proc, FleetInfo.from_json(json.loads(lines[-1])["fleet"])


@pytest.mark.asyncio
async def test_the_fleet_process_says_where_each_node_listens_and_serves_through_every_lb(
        dns_port: int) -> None:
    async with FleetProcess(("127.0.0.1", dns_port), backends=2, lbs=2) as fleet:
        info = fleet.info
        await publish(dns_port, 1, list(info.backend_addresses))
        replies = await statuses(info.lb_urls, 4)

    assert [n.address for n in info.backends] == ["127.0.0.11", "127.0.0.12"]
    assert [n.address for n in info.lbs] == ["127.0.0.101", "127.0.0.102"]
    assert len({n.port for n in info.backends}) == 1 == len({n.port for n in info.lbs})
    assert {n.pid for n in info.backends + info.lbs} == {fleet_pid(info)}
    assert sorted(replies) == [(404, "127.0.0.11")] * 2 + [(404, "127.0.0.12")] * 2
    assert await wait_gone(fleet_pid(info))


def fleet_pid(info: FleetInfo) -> int:
    return info.backends[0].pid


@pytest.mark.asyncio
async def test_a_backend_stopped_in_the_fleet_process_is_reported_unhealthy(
        dns_port: int) -> None:
    async with FleetProcess(("127.0.0.1", dns_port), backends=3, lbs=0) as fleet:
        first, second, third = fleet.info.backend_addresses
        source = HttpHealthSource(fleet.info.backend_addresses, fleet.info.backend_port)
        await fleet.stop_backend(second)
        stopped = await source.read()
        await fleet.start_backend(second)
        restarted = await source.read()

    assert stopped == (BackendHealth(first, True, 1), BackendHealth(second, False, 0),
                       BackendHealth(third, True, 1))
    assert restarted == (BackendHealth(first, True, 1), BackendHealth(second, True, 1),
                         BackendHealth(third, True, 1))


@pytest.mark.asyncio
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_the_fleet_stops_cleanly_on_a_signal_and_frees_its_ports(
        dns_port: int, sig: signal.Signals) -> None:
    proc, info = await start_cli("--dns", f"127.0.0.1:{dns_port}", "--backends", "1")
    proc.send_signal(sig)
    _, stderr = await asyncio.wait_for(proc.communicate(), 10)

    assert (proc.returncode, stderr) == (0, b"")
    with pytest.raises(OSError):
        await asyncio.open_connection(info.lbs[0].address, info.lbs[0].port)


@pytest.mark.asyncio
async def test_the_fleet_goes_away_when_the_program_that_started_it_is_killed(
        dns_port: int) -> None:
    parent_code = (
        "import asyncio, sys\n"
        "from fake_lb import FleetProcess\n"
        "async def run():\n"
        f"    async with FleetProcess(('127.0.0.1', {dns_port}), backends=1, lbs=1) as f:\n"
        "        print(f.pid, flush=True)\n"
        "        await asyncio.sleep(60)\n"
        "asyncio.run(run())\n")
    parent = await asyncio.create_subprocess_exec(sys.executable, "-c", parent_code,
                                                  stdout=asyncio.subprocess.PIPE)
    assert parent.stdout is not None
    fleet_pid = int(await asyncio.wait_for(parent.stdout.readline(), 10))

    parent.kill()  # SIGKILL: no clean-up code runs in the parent
    await parent.wait()

    assert await wait_gone(fleet_pid)


@pytest.mark.asyncio
async def test_the_ready_file_holds_the_fleet_as_json(dns_port: int, tmp_path: Path) -> None:
    ready = tmp_path / "fleet.json"
    proc, info = await start_cli("--dns", f"127.0.0.1:{dns_port}", "--backends", "2",
                                 "--lbs", "1", "--ready-file", str(ready), "--duration", "20")
    try:
        from_file = FleetInfo.from_json(json.loads(ready.read_text()))
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()

    assert from_file == info
    assert from_file.dns_server == ("127.0.0.1", dns_port)
    assert os.listdir(tmp_path) == ["fleet.json"]


@pytest.mark.asyncio
async def test_the_traffic_command_prints_a_line_per_interval_and_writes_json(
        dns_port: int, tmp_path: Path) -> None:
    out = tmp_path / "traffic.json"
    async with FleetProcess(("127.0.0.1", dns_port), backends=2, lbs=1) as fleet:
        await publish(dns_port, 1, list(fleet.info.backend_addresses))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fake_lb", "traffic", "--lb", fleet.info.lb_urls[0],
            "--rate", "40", "--duration", "0.5", "--interval", "0.25", "--json-out", str(out),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 10)

    lines = stdout.decode().splitlines()
    assert (proc.returncode, stderr) == (0, b"")
    assert lines == ["t=  0.0-  0.2s sent    10 ok    10 fail     0",
                     "t=  0.2-  0.5s sent    10 ok    10 fail     0",
                     "total: sent 20, ok 20, failures: none"]
    data = json.loads(out.read_text())
    assert [i["succeeded"] for i in data["intervals"]] == [10, 10]


@pytest.mark.parametrize(("argv", "message"), [
    (["--dns", "localhost"], "argument --dns: expected HOST:PORT with an IP address and a port "
                             "1-65535, got 'localhost'"),
    (["--dns", "127.0.0.1:53", "--backends", "many"], "argument --backends: expected a count "
                                                      "0-100, got 'many'"),
    (["--dns", "127.0.0.1:53", "--bogus"], "unrecognized arguments: --bogus"),
    (["--dns", "127.0.0.1:53", "--work-slots", "2", "--service-ms", "-5"],
     "argument --service-ms: expected milliseconds 0-60000, got '-5'"),
    (["--backends", "2"], "the following arguments are required: --dns"),
])
def test_a_bad_flag_gives_one_clear_line_and_a_non_zero_exit(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"fake-lb: error: {message} (see fake-lb --help)\n"


@pytest.mark.parametrize(("argv", "message"), [
    (["traffic", "--lb", "127.0.0.101:8080"],
     "argument --lb: expected an LB base URL such as http://127.0.0.101:8080, got "
     "'127.0.0.101:8080'; write http://127.0.0.101:8080 (see fake-lb traffic --help)"),
    (["traffic", "--lb", "http://127.0.0.101:99999"],
     "argument --lb: expected an LB base URL such as http://127.0.0.101:8080, got "
     "'http://127.0.0.101:99999' (bad port) (see fake-lb traffic --help)"),
    (["traffic", "--lb", "http://127.0.0.101:8080", "--rate", "0"],
     "argument --rate: expected a positive number, got '0' (see fake-lb traffic --help)"),
])
def test_a_traffic_flag_that_cannot_work_gives_one_line_naming_the_traffic_help(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"fake-lb: error: {message}\n"


def test_traffic_that_fails_exits_1_and_says_why_in_the_total_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    with socket.socket() as closed:  # bound, never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        code = main(["traffic", "--lb", url, "--rate", "20", "--duration", "0.1"], out=out)

    assert code == 1
    assert out.getvalue().splitlines()[-1] == "total: sent 2, ok 0, failures: lb-unreachable 2"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv", [["--help"], ["traffic", "--help"]])
def test_both_helps_end_with_the_exit_statuses(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    epilog = text[text.index("exit status:"):]
    assert [line.split()[0] for line in epilog.splitlines()[1:] if line[:3].strip()] == \
        ["0", "1", "2", "130"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--dns", "127.0.0.1:53", "--backends", "0", "--lbs", "1"],
     "LBs without backends need an explicit backend_port to forward to"),
    (["--dns", "127.0.0.1:53", "--first-backend", "127.255.255.255", "--backends", "2"],
     "addresses ['128.0.0.0'] (from '127.255.255.255', count 2) leave 127.0.0.0/8; "
     "choose a lower first address"),
])
def test_flags_that_cannot_work_together_give_one_clear_line_and_exit_2(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == f"fake-lb: error: {message}\n"


@pytest.mark.parametrize(("flag", "address", "role"), [
    ("--lb-port", "127.0.0.101", "the load balancers"),
    ("--backend-port", "127.0.0.11", "the backends"),
])
def test_a_port_in_use_is_one_line_naming_the_address_and_the_flag(
        flag: str, address: str, role: str) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind((address, 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "fake_lb", "--dns", "127.0.0.1:9", flag,
                               str(port), "--duration", "1"], capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 2
    assert done.stderr == (f"fake-lb: error: cannot listen on {address}:{port} ({role}): "
                           f"Address already in use; choose another {flag} (0: any free "
                           "port)\n")


def test_a_dns_server_that_does_not_answer_is_said_at_start() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # takes queries, never
        silent.bind(("127.0.0.1", 0))                                 # answers
        port = silent.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "fake_lb", "--dns", f"127.0.0.1:{port}",
                               "--duration", "1.5"], capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 0
    assert done.stderr == (f"fake-lb: warning: nothing answers DNS at 127.0.0.1:{port} (no "
                           "reply within 1 s); until it does, every request fails with 503 "
                           "(dns-no-answer)\n")


@pytest.mark.asyncio
async def test_a_dns_server_that_answers_gets_no_warning(dns_port: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fake_lb", "--dns", f"127.0.0.1:{dns_port}", "--duration", "1.5",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and err == b""
