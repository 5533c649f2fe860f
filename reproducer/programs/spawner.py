"""The client side of `forkserver.py`: a spawner process and the programs it starts, seen from
the host's loop.

Rules
-----
- Rule 1 (every program through a spawner): a spawner is a child of this process that forks
  each program, knows it before it runs, reports its exit (we are not its parent, so we cannot
  wait for it), kills a program's process group as it reaps it, and kills everything it
  started once its socket to us closes, however we end. `kill` asks it to kill one program;
  closing the socket asks it to stop.
- Rule 2 (a fork server): given a Python SCRIPT, the spawner has imported what SCRIPT imports
  and a start is a fork (`python_script` says which commands qualify); given none, it executes
  any command.
"""

from __future__ import annotations

import array
import asyncio
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Sequence
from typing import Protocol

__all__ = ["FORK_SERVER", "Forked", "Process", "Spawner", "kill_group", "python_script",
           "runnable"]


class Process(Protocol):
    """What the host needs of a process (a `Forked`)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def stdout(self) -> asyncio.StreamReader | None: ...

    @property
    def stderr(self) -> asyncio.StreamReader | None: ...

    async def wait(self) -> int: ...

    def kill(self) -> None: ...


_PYTHON = re.compile(r"python(\d+(\.\d+)?)?")
FORK_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forkserver.py")


def runnable(argv: Sequence[str], cwd: str) -> bool:
    """The command names an executable file: on PATH, or a path from its folder."""
    first = argv[0]
    if os.sep not in first:
        return shutil.which(first) is not None
    path = os.path.join(cwd, first)
    return os.path.isfile(path) and os.access(path, os.X_OK)


def python_script(argv: Sequence[str], cwd: str) -> str | None:
    """SCRIPT when the command is `python[X[.Y]] SCRIPT ...` with SCRIPT a file (Rule 2)."""
    if len(argv) < 2 or not _PYTHON.fullmatch(os.path.basename(argv[0])):
        return None
    script = argv[1]
    if script.startswith("-") or not os.path.isfile(os.path.join(cwd, script)):
        return None
    return script


class Forked:
    """A child of a spawner, seen from here (its exit comes from the spawner: Rule 3 of
    `forkserver.py`)."""

    def __init__(self, spawner: Spawner, pid: int, stdout: asyncio.StreamReader,
                 stderr: asyncio.StreamReader) -> None:
        self.spawner = spawner
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._exited = asyncio.get_running_loop().create_future()

    def exited(self, status: int) -> None:
        if self.returncode is None:
            self.returncode = status
            self._exited.set_result(status)

    async def wait(self) -> int:
        return int(await asyncio.shield(self._exited))

    def kill(self) -> None:
        """Kill it with its process group (its spawner does, unless it has exited)."""
        if self.returncode is None:
            self.spawner.kill(self.pid)


class Spawner:
    """One `forkserver.py` process: for one interpreter, script and folder (Rule 2), or, with
    no script, for any command (Rule 1)."""

    def __init__(self, python: str, script: str | None, cwd: str) -> None:
        self.python = python
        self.script = script
        self.cwd = cwd
        self.dead = False
        self._sock: socket.socket | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._ready: asyncio.Future[int] | None = None
        self._forks: collections.deque[asyncio.Future[int]] = collections.deque()
        self._children: dict[int, Forked] = {}
        self._buffer = b""

    @property
    def what(self) -> str:
        return f"the fork server for {self.script}" if self.script else "the spawner"

    async def start(self) -> Spawner:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "REPRODUCER_"))}
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.python, FORK_SERVER, self.script or "-", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),), env=env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._ready = loop.create_future()
        loop.add_reader(ours.fileno(), self._readable)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), 60)
        except (TimeoutError, ConnectionError) as exc:
            stderr = b""
            if self._process.stderr is not None:
                with contextlib.suppress(TimeoutError):
                    stderr = await asyncio.wait_for(self._process.stderr.read(4096), 1)
            await self.close()
            raise OSError(0, f"{self.what} did not start "
                             f"({stderr.decode(errors='replace').strip() or exc})") from None
        return self

    def _readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._gone()
            return
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            message = json.loads(line)
            if "ready" in message and self._ready is not None and not self._ready.done():
                self._ready.set_result(int(message["ready"]))
            elif "pid" in message and self._forks:
                self._forks.popleft().set_result(int(message["pid"]))
            elif "exit" in message:
                child = self._children.pop(int(message["exit"]), None)
                if child is not None:
                    child.exited(int(message["status"]))

    def _gone(self, *, expected: bool = False) -> None:
        """The server stopped (`expected`: we closed it, and it ends its children itself):
        nothing more comes from it."""
        self.dead = True
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        failure = ConnectionError(f"{self.what} stopped")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(failure)
        while self._forks:
            self._forks.popleft().set_exception(failure)
        for child in self._children.values():  # their exits cannot be known any more
            if not expected:  # it died: what it started is ours to end
                kill_group(child.pid)
            child.exited(-signal.SIGKILL)
        self._children.clear()

    async def fork(self, argv: Sequence[str], env: dict[str, str], cwd: str) -> Forked:
        """A child running `python SCRIPT ARGS` (argv is SCRIPT ARGS), or without a script,
        the command argv."""
        if self._sock is None:
            raise OSError(0, f"{self.what} has stopped")
        loop = asyncio.get_running_loop()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        future: asyncio.Future[int] = loop.create_future()
        try:
            request = json.dumps({"argv": list(argv), "env": env, "cwd": cwd}).encode() + b"\n"
            self._sock.setblocking(True)
            try:
                self._sock.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                array.array("i", [out_w, err_w]))])
            finally:
                self._sock.setblocking(False)
            self._forks.append(future)
        finally:
            os.close(out_w)
            os.close(err_w)
        pid = await future
        stdout, stderr = await _reader(out_r), await _reader(err_r)
        child = Forked(self, pid, stdout, stderr)
        self._children[pid] = child
        return child

    def kill(self, pid: int) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.send(json.dumps({"kill": pid}).encode() + b"\n")

    async def close(self) -> None:
        """Close its socket: it kills every process it started, and stops (Rule 4 of
        `forkserver.py`)."""
        if self._sock is not None:
            self._gone(expected=True)
        if self._process is not None and self._process.returncode is None:
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


async def _reader(fd: int) -> asyncio.StreamReader:
    """A StreamReader on the read end of a pipe."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(fd, "rb", buffering=0))
    return reader


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
