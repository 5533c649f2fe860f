"""Breadth-first search on a Dask cluster, for many machines: a real `LocalCluster` of two
worker processes on 127.0.0.1, one share of the visited set on each as an actor. The result is
one process's (verdict, states, steps, shortest story), also when a worker is killed
mid-search: the search starts again on the workers left. Skipped where Dask distributed is not
installed (`.ci/run` installs it, through the test extra)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reproducer import Config
from reproducer.cli import main
from reproducer.search import explore_bfs
from reproducer.search.distributed.levels import search_partitioned
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS
from reproducer.search.outcome import Exploration

distributed = pytest.importorskip("distributed")

from reproducer.search.distributed.cluster import DaskShares, explore_bfs_on_cluster  # noqa: E402

BROKEN = Config(variant="aws-2025", enactors=2, plans=3)
SOUND = Config(variant="cas-flip", enactors=2, plans=2)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=True) as local:
        yield local


def same_search(got: Exploration, want: Exploration) -> None:
    assert (got.found, got.states, got.steps_expanded, got.exhausted) == (
        want.found, want.states, want.steps_expanded, want.exhausted)
    assert got.reductions == want.reductions
    if want.result is None:
        assert got.result is None
    else:
        assert got.result is not None
        assert got.result.choices == want.result.choices
        assert got.result.length == want.result.length


@pytest.mark.parametrize("config", [BROKEN, SOUND], ids=["aws-2025", "cas-flip"])
def test_a_search_on_the_cluster_gives_the_verdict_states_steps_and_story_of_one_process(
        cluster: Any, config: Config) -> None:
    lines: list[str] = []
    got = explore_bfs_on_cluster(config, cluster.scheduler_address, progress=lines.append)
    same_search(got, explore_bfs(config, workers=1))
    assert got.workers == 2
    assert lines[0].startswith("bfs: 2 shares, one on each worker of the cluster at tcp://")


class KillsAWorker:
    """Real shares on the cluster that, once `method` has been answered `times` times, kill the
    process of the worker holding the last share (SIGKILL: its actor and its states are gone at
    once): the next call reaches an actor whose worker is gone."""

    def __init__(self, shares: DaskShares, method: str, times: int,
                 pids: dict[str, int], noticed: bool) -> None:
        self.shares = shares
        self.noticed = noticed  # wait until the scheduler knows: Dask refuses the next call
        self.count = shares.count
        self.method = method
        self.times = times
        self.pids = pids
        self.calls = 0
        self.killed: int | None = None

    def __enter__(self) -> KillsAWorker:
        self.shares.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shares.__exit__(*exc)

    def alive(self) -> int:
        return self.shares.alive()

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        answers = self.shares.call(method, args)
        if method == self.method:
            self.calls += 1
            if self.calls == self.times:
                place = self.shares.places[-1]
                self.killed = self.pids[place]
                os.kill(self.killed, signal.SIGKILL)
                deadline = time.monotonic() + 30
                while self.noticed and time.monotonic() < deadline and \
                        place in self.shares.client.scheduler_info()["workers"]:
                    time.sleep(0.05)
        return answers


@pytest.mark.parametrize(("method", "times", "noticed"), [
    ("expand", 5, False), ("receive", 2, False), ("expand", 9, True), ("frontier", 1, True),
    ("receive", 4, True)])
def test_a_killed_worker_loses_its_share_and_the_search_starts_again_with_the_same_result(
        cluster: Any, method: str, times: int, noticed: bool) -> None:
    reductions = tuple(sorted(DEFAULT_REDUCTIONS))
    lines: list[str] = []
    opened: list[Any] = []
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client, \
            client.as_current():
        pids: dict[str, int] = client.run(os.getpid)
        assert len(pids) == 2

        def open_shares(n: int) -> Any:
            shares = DaskShares(client, BROKEN, n, reductions)
            opened.append(KillsAWorker(shares, method, times, pids, noticed) if not opened
                          else shares)
            return opened[-1]

        got = search_partitioned(BROKEN, open_shares, 2, max_states=3_000_000,
                                 reductions=reductions, progress=lines.append)
        # the nanny restarts the killed worker; the module's other tests want two again
        client.wait_for_workers(2, timeout=60)
    assert opened[0].killed is not None
    same_search(got, explore_bfs(BROKEN, workers=1))
    assert len(opened) >= 2, lines
    lost = [line for line in lines if "starting again from the beginning" in line]
    assert lost and lost[0].startswith("bfs: share 2 of 2: its worker tcp://127.0.0.1:"), lines


def test_a_cluster_address_where_nothing_listens_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a free port, closed again: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reported: list[str] = []
    code = main(["explore", "--strategy", "bfs", "--cluster", f"tcp://127.0.0.1:{port}",
                 "--variant", "aws-2025", "--enactors", "2"], report=reported.append)
    err = capsys.readouterr().err
    assert code == 2
    assert all(line.startswith("bfs: every schedule of") for line in reported)  # its bounds
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"reproducer: error: --cluster: nothing answers at "
                          f"tcp://127.0.0.1:{port}")


def test_an_address_where_something_else_listens_is_one_line_that_it_is_no_scheduler(
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as silent:  # listens, and never says a word (as an HTTP server)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        code = main(["explore", "--strategy", "bfs", "--cluster", f"tcp://127.0.0.1:{port}"],
                    report=lambda line: None)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"what listens at tcp://127.0.0.1:{port} is not a Dask scheduler" in err


def test_workers_that_identify_states_otherwise_are_named_before_anything_is_searched() -> None:
    from reproducer.search.distributed.cluster import ClusterError, _check_same_code

    reductions = tuple(sorted(DEFAULT_REDUCTIONS))
    with pytest.raises(ClusterError, match=r"the workers at tcp://10\.0\.0\.2:1 identify"):
        _check_same_code(BROKEN, reductions, ["tcp://10.0.0.2:1"], [(0, 0)])


@pytest.mark.parametrize(("argv", "says"), [
    (["--strategy", "random", "--cluster", "tcp://127.0.0.1:8786"],
     "--cluster runs --strategy bfs only, not random"),
    (["--strategy", "bfs", "--workers", "2", "--cluster", "tcp://127.0.0.1:8786"],
     "drop --workers"),
    (["--strategy", "bfs", "--cluster", "127.0.0.1"], "expected a scheduler address"),
])
def test_cluster_flags_that_cannot_work_are_one_line_and_exit_2(
        argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explore", *argv], report=lambda line: None)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and says in err, err


def test_without_cluster_nothing_of_dask_is_imported(tmp_path: Path) -> None:
    script = ("import sys\n"
              "from reproducer.cli import main\n"
              "import reproducer.search.distributed.cluster\n"
              "main(['explore', '--strategy', 'bfs', '--variant', 'aws-2025', '--enactors',"
              " '2', '--workers', '1', '--json', '--out', sys.argv[1]], report=lambda l: None)\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('dask', 'distributed')))\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "found.json")],
                         capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_cluster_without_dask_installed_says_how_to_install_it_in_one_line() -> None:
    script = ("import sys\n"
              "sys.modules['distributed'] = None  # what `import distributed` finds uninstalled\n"
              "from reproducer.cli import main\n"
              "sys.exit(main(['explore', '--strategy', 'bfs', '--cluster',"
              " 'tcp://127.0.0.1:8786']))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "pip install 'dns-race-reproducer[cluster]'" in out.stderr
