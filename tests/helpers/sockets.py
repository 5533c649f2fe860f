"""Whether something still listens: how a test sees that the processes it started are gone."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time


def refuses(address: str, port: int) -> bool:
    """True if a TCP connection to (address, port) is refused: nothing listens there."""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((address, port)) != 0


def interrupt_a_real_run(argv: list[str]) -> tuple[int, str]:
    """Start a second-act real run (`argv` after the interpreter, with --json), send it SIGINT
    once its manager reports, and wait until every process its stage started stops listening.
    Returns the exit status and what it wrote on stderr."""
    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        stage = json.loads(proc.stdout.readline())
        assert stage["event"] == "stage"
        assert json.loads(proc.stdout.readline())["event"] == "sample"  # the manager runs
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    host, _, port = stage["dns"].rpartition(":")
    nodes = [(host, int(port))] + [(n["address"], n["port"])
                                   for n in stage["backends"] + stage["lbs"]]
    deadline = time.monotonic() + 10
    while [n for n in nodes if not refuses(*n)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [n for n in nodes if not refuses(*n)] == [], "a process of the run still listens"
    return code, err
