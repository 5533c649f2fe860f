"""The spawner of every program process, and for `python SCRIPT ARGS` programs a fork server:
an interpreter that has already imported what SCRIPT imports, forked for each start. Run as a
script by an interpreter (`python forkserver.py SCRIPT FD`, or `python forkserver.py - FD` to
spawn any command); it imports nothing of the reproducer, only the standard library.

Theory of operation
-------------------
- Rule 1 (preloading, SCRIPT given): at start it reads SCRIPT's top-level imports (its syntax
  tree, not its code) and imports each module that does not live in SCRIPT's own folder: the
  libraries (boto3, json, urllib ...), never the user's own modules, whose import runs their
  code. A module that fails to import is skipped (SCRIPT will fail on it, as it would anyway).
- Rule 2 (a start is a fork): on a request (one JSON line on its socket with argv, env and the
  working directory, and two file descriptors, the child's stdout and stderr) it forks and
  answers with the child's pid. The child takes a session of its own, stdin from /dev/null,
  the given stdout and stderr, working directory and environment, signal handlers back to
  their defaults; then, with SCRIPT, does what `python SCRIPT ARGS` does on its way to
  `__main__` (`sys.argv`, `sys.path[0]` the script's folder, the random generator reseeded,
  `runpy.run_path`, the exit status as the interpreter gives it: an uncaught exception prints
  its traceback and exits 1); without, it executes argv (status 127 when it cannot).
- Rule 3 (exits): the server reaps its children and reports each exit on the socket as
  {"exit": PID, "status": S} (S negative: killed by that signal), since the requester is not
  their parent and cannot wait for them itself. A child's process group is killed as the child
  is reaped (while its pid still names the group): what a program leaves running ends with it.
  {"kill": PID} kills a child that has not been reaped, with its group.
- Rule 4 (nothing outlives the requester): when its socket closes — the requester ended or
  was killed, however — the server kills every child it started, with its process group, and
  exits. It knows each child's pid before the child runs anything, so none escapes.

What differs from a fresh interpreter, by design: the preloaded modules were imported once, in
the server, so their import-time side effects happened there (with the server's environment),
not in each program; `PYTHONHASHSEED` is the server's, so sets of strings iterate in the same
order in every child.
"""

from __future__ import annotations

import array
import ast
import contextlib
import importlib
import importlib.util
import json
import os
import random
import runpy
import selectors
import signal
import socket
import sys
import traceback

_MAX_FDS = 2


def _preload(script: str) -> None:
    """Rule 1."""
    folder = os.path.dirname(os.path.abspath(script))
    try:
        with open(script, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=script)
    except (OSError, SyntaxError, ValueError):
        return
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    for name in names:
        try:
            spec = importlib.util.find_spec(name.partition(".")[0])
            origin = spec.origin if spec is not None else None
            if origin is None or os.path.abspath(origin).startswith(folder + os.sep):
                continue
            importlib.import_module(name)
        except Exception:
            continue


def _child(script: str | None, request: dict[str, object], fds: list[int]) -> None:
    """Rule 2, in the forked child: never returns."""
    code = 1
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in (null, *fds):
            os.close(fd)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT
                          else signal.default_int_handler)
        if script is None:
            _exec(request)
            return
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False,  # noqa: SIM115
                          errors="backslashreplace")
        os.chdir(str(request["cwd"]))
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        argv = request["argv"]
        assert isinstance(argv, list)
        sys.argv = [str(a) for a in argv]
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        random.seed()
        runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException as exc:  # as the interpreter does: the traceback, status 1
        _print_traceback(exc, script)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code & 0xFF)


def _print_traceback(exc: BaseException, script: str | None) -> None:
    """The traceback as `python SCRIPT` prints it: from the script's own frames on (the
    server's and runpy's frames above them are not the program's)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__)


def _exec(request: dict[str, object]) -> None:
    """Rule 2 without SCRIPT: the command itself, in place of this process."""
    argv = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
    env = {str(k): str(v) for k, v in request["env"].items()}  # type: ignore[attr-defined]
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.chdir(str(request["cwd"]))
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        os.write(2, f"cannot run {argv[0]}: {exc.strerror or exc}\n".encode())
    os._exit(127)


def _send(sock: socket.socket, message: dict[str, object]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def main() -> None:
    script: str | None = sys.argv[1] if sys.argv[1] != "-" else None
    sock = socket.socket(fileno=int(sys.argv[2]))
    if script is not None:
        # the script's folder, not this file's, is where its own modules are found
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        _preload(script)
    children: set[int] = set()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd is written
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the requester's to handle
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(read_end, selectors.EVENT_READ)
    try:
        _serve(script, sock, selector, read_end, write_end, children)
    except OSError:  # the socket broke: the requester is gone (Rule 4)
        _kill(children)


def _serve(script: str | None, sock: socket.socket, selector: selectors.BaseSelector,
           read_end: int, write_end: int, children: set[int]) -> None:
    _send(sock, {"ready": os.getpid()})
    buffered = b""
    pending_fds: list[int] = []
    while True:
        for key, _ in selector.select():
            if key.fileobj is read_end:
                os.read(read_end, 4096)
                _reap(sock, children)
                continue
            fds = array.array("i")
            data, ancillary, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(
                _MAX_FDS * fds.itemsize))
            if not data:
                _kill(children)  # Rule 4: the requester is gone
                return
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
            pending_fds += list(fds)
            buffered += data
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                request = json.loads(line)
                if "kill" in request:
                    if request["kill"] in children:
                        _kill({request["kill"]})
                    continue
                child_fds, pending_fds = pending_fds[:2], pending_fds[2:]
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    sock.close()
                    os.close(read_end)
                    os.close(write_end)
                    _child(script, request, child_fds)
                children.add(pid)
                for fd in child_fds:
                    os.close(fd)
                _send(sock, {"pid": pid})
        _reap(sock, children)


def _reap(sock: socket.socket, children: set[int]) -> None:
    """Rule 3."""
    while True:
        try:
            exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if exited is None:
            return
        pid = exited.si_pid
        with contextlib.suppress(OSError):  # its group, while the unreaped pid still names it
            os.killpg(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        children.discard(pid)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        _send(sock, {"exit": pid, "status": code})


def _kill(children: set[int]) -> None:
    """Rule 4: each child and its process group (a child that has not yet taken a session
    of its own is killed by its pid)."""
    for pid in children:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
