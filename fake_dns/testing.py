"""Helpers for tests and benchmarks that need the server as a separate process.

`ServerProcess` starts `python -m fake_dns` on 127.0.0.1 port 0, waits for its "listening" line
and reads the port from it (and, when its flags include --route53, the Route 53 API's URL from
the next line); leaving the `with` block stops it (SIGTERM, then SIGKILL).
`kill()` sends SIGKILL at once, for crash tests. Programs other than tests use it too (the
reproducer's story runs its DNS server through it), so a server that does not start says why.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["ServerProcess", "require_tool"]

_LISTENING = re.compile(r"^fake-dns listening on (?P<host>\S+):(?P<port>\d+) ")
_ROUTE53 = re.compile(r"^fake-dns Route 53 API on (?P<url>\S+)$")
_START_TIMEOUT_S = 20.0


class ServerProcess:
    """A `fake-dns` subprocess; `args` are its flags (a --listen is added unless given).

    `journal`: the server records every committed update there (`--journal`; read it back with
    `fake_dns.read_journal`). `stderr_path`: where its log goes (appended); when it does not
    start, the end of that log is in the error. `env` is added to the environment; `cwd` is
    the server's working directory (`python -m` looks for the package there first).
    """

    def __init__(self, args: Sequence[str], *, journal: Path | None = None,
                 stderr_path: Path | None = None, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.args = list(args)
        if not any(a == "--listen" or a.startswith("--listen=") for a in self.args):
            self.args += ["--listen", "127.0.0.1:0"]
        if journal is not None:
            self.args += ["--journal", str(journal)]
        self.journal = journal
        self._stderr_path = stderr_path
        self._env = env
        self._cwd = cwd
        self.process: subprocess.Popen[str] | None = None
        self.host = ""
        self.port = 0
        self.route53_url = ""  # AWS_ENDPOINT_URL_ROUTE_53 for its --route53 API, if any

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with contextlib.ExitStack() as stack:  # the child keeps its own copy of the descriptor
            stderr: IO[bytes] | int = subprocess.DEVNULL
            if self._stderr_path:
                stderr = stack.enter_context(open(self._stderr_path, "ab"))
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fake_dns", *self.args], stdout=subprocess.PIPE,
                stderr=stderr, text=True, env={**os.environ, **(self._env or {})},
                cwd=self._cwd)
        assert self.process.stdout is not None
        # The server prints its line once bound, or exits; readline returns either way.
        line = self.process.stdout.readline()
        match = _LISTENING.match(line)
        if match is None:
            code = self.process.wait(timeout=_START_TIMEOUT_S)
            raise RuntimeError(f"fake-dns {' '.join(self.args)} did not start (exit {code}, "
                               f"stdout {line!r}); {self._stderr_tail()}")
        self.host, self.port = match["host"], int(match["port"])
        if any(a == "--route53" or a.startswith("--route53=") for a in self.args):
            line = self.process.stdout.readline()
            api = _ROUTE53.match(line.strip())
            if api is None:
                self.stop()
                raise RuntimeError(f"fake-dns {' '.join(self.args)} printed no Route 53 line "
                                   f"(got {line!r}); {self._stderr_tail()}")
            self.route53_url = api["url"]

    def _stderr_tail(self, lines: int = 5) -> str:
        if self._stderr_path is None:
            return "its stderr went to /dev/null (pass stderr_path= to keep it)"
        try:
            tail = self._stderr_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError as exc:
            return f"its stderr {self._stderr_path} cannot be read: {exc}"
        return f"its stderr ({self._stderr_path}) ends: " + (" | ".join(tail) or "(empty)")

    def kill(self) -> None:
        """SIGKILL, no chance to clean up: what a crash looks like to the journal."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=_START_TIMEOUT_S)

    def stop(self) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def require_tool(name: str, package: str) -> str:
    """The path of command `name`, for a test that drives it. A missing tool skips the test on a
    workstation and fails it under CI (env CI set), where `.ci/run` installs Debian `package`."""
    import pytest  # only tests call this; the package itself does not depend on pytest

    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must have it (.ci/run installs it)")
        pytest.skip(message)
    return path
