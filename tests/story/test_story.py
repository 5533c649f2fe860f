"""`make reproduce` end to end: it tells what it promised, the race and its second act, and
leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Real processes in real time: one xdist worker runs these and the live metastable runs, so
# they never compete with each other for the cores.
pytestmark = pytest.mark.xdist_group("live-processes")


def processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


def dns_port(output: str) -> str:
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", output)
    assert match, output
    return match.group(1)


def test_the_story_shows_the_outage_the_repair_and_the_fix_and_exits_0(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "reproducer", "story", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    text = out.stdout
    assert out.returncode == 0, text + out.stderr
    # 1. the baseline
    baseline = text.split("== 2.")[0]
    assert "status: NOERROR" in baseline and baseline.count(" IN A 127.0.0.1") == 3
    assert re.search(r"load balancers: (\d+)/\1 succeeded", baseline)
    # 2. Hypothesis's story, shrunk to the breadth-first minimum of this configuration
    assert "after the schedule-aware pass: 18 steps" in text
    assert "clean-up deleted the trees of g1, g2" in text
    # 3. live: the empty answer, every request failing, the enactors stuck
    assert "(no A record in the answer)" in text
    assert re.search(r"traffic: (\d+)/\1 requests failed \(100%\): dns-empty-answer", text)
    assert "!!! invariant 4 broken" in text and "stuck:" in text
    # 4. the repair, 5. the fix, and the table
    assert "traffic recovered" in text
    assert re.search(r"cas-guarded \(the fix\)\s+0/\d+\s+0\.0\s+none", text)
    # 6. the second act: DNS healthy, goodput near zero, the queue growing; the operators
    second = text.split("== 6. The second act")[1]
    stuck = re.search(r"stuck: from \S+ s to \S+ s DNS was healthy, yet goodput was (\S+) "
                      r"leases/s .* the queue grew from (\d+) to (\d+)", second)
    assert stuck is not None, second
    assert float(stuck[1]) <= 5.0 and int(stuck[2]) < int(stuck[3])
    assert re.search(r"restarted the manager at \S+ s, which dropped its queue: every lease held "
                     r"again \S+ s later", second)
    assert "left alone (the model, no operators)" in second
    # 7. the fix recovers by itself; the summary compares them
    assert "recovered by itself: every lease held" in second.split("== 7.")[1]
    assert re.search(r"admission by queue size \(the fix\)\s+3\.0 s\s+none", text)
    assert re.search(r"Here: the operators acted \S+ s after the repair,\nevery lease was back "
                     r"\S+ s after it; under the fix, \S+ s, and nobody had to act", text)
    assert "STORY FAILED" not in text
    # what it leaves: a report, a replay file that replays, and no process
    report = (tmp_path / "story.html").read_text()
    assert len(report) > 10_000
    for chart in ("second-act-operators", "second-act-fix"):  # goodput, queue, leases
        svg = report[report.index(f'id="{chart}"'):]
        svg = svg[:svg.index("</svg>")]
        assert "goodput (leases established)" in svg and "attempts waiting" in svg
        assert "leases held (of 200)" in svg and "<title>DNS outage:" in svg
    replay = json.loads((tmp_path / "story.replay.json").read_text())
    assert replay["expected"]["violation"]["invariant"] == 1
    assert processes_mentioning(f"127.0.0.1:{dns_port(text)}") == []
    stage = re.search(r"fake-dns on (127\.0\.0\.1:\d+) serving .* load balancers (\S+),", second)
    assert stage is not None
    assert processes_mentioning(stage[1]) == []  # fake-dns and the fleet
    assert processes_mentioning(f"--lb {stage[2]}") == []  # the lease manager
    assert processes_mentioning(str(tmp_path)) == []


def test_the_story_stopped_with_ctrl_c_stops_every_process_it_started(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "reproducer", "story", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "== 2." not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    port = dns_port(seen)
    assert processes_mentioning(f"127.0.0.1:{port}"), "the fleet should be running by now"
    proc.send_signal(signal.SIGINT)
    try:
        rest, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the story did not stop on SIGINT")
    assert proc.returncode != 0
    assert processes_mentioning(f"127.0.0.1:{port}") == [], seen + rest
    assert processes_mentioning(str(tmp_path)) == []
