"""The benchmarks stop on Ctrl-C with one line and exit status 130, not a traceback, and stop
what they started."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.processes import cpu_ticks, descendants, wait_until_gone


@pytest.mark.parametrize("module", ["reproducer.bench", "fake_dns.bench", "fake_lb.bench"])
def test_ctrl_c_stops_a_benchmark_in_one_line(module: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", module], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not descendants(proc.pid) and \
                cpu_ticks(proc.pid) < 80:
            time.sleep(0.05)  # until it measures: a server or a tool started, or CPU spent
        started = descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert err.strip().endswith("interrupted")
        assert wait_until_gone(started, bound_s=10) == set()  # its servers and tools too
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
