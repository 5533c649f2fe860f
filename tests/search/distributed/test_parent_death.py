"""A worker never outlives its parent: `explore --workers 2` killed outright (SIGKILL, as the OOM
killer or a cancelled CI job does) leaves no worker behind, for the samplers, Hypothesis and the
split breadth-first search alike."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.processes import cpu_ticks, descendants, wait_until_gone

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")

# Searches of correct variants that would go on for minutes.
LONG = {
    "random": ["--strategy", "random", "--variant", "cas-flip", "--max-runs", "100000000"],
    "hypothesis": ["--strategy", "hypothesis", "--variant", "cas-flip", "--max-runs",
                   "100000000", "--no-database"],
    "bfs": ["--strategy", "bfs", "--variant", "cas-flip", "--enactors", "3", "--plans", "3"],
}


@pytest.mark.parametrize("kind", sorted(LONG))
def test_killing_the_parent_of_a_search_leaves_no_worker_behind(kind: str) -> None:
    parent = subprocess.Popen([sys.executable, "-m", "reproducer", "explore", "--workers", "2",
                               *LONG[kind]], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ})
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until both workers run and have worked a little
            workers = descendants(parent.pid)
            if sum(cpu_ticks(w) > 10 for w in workers) >= 2:
                break
            time.sleep(0.05)
        assert len(workers) >= 2, f"the {kind} search never started its workers"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert wait_until_gone(workers, bound_s=20) == set(), \
            f"workers of a killed {kind} search live on"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
