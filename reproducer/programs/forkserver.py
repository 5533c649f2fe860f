"""A fork server for Python programs: `python SCRIPT ARGS` started by forking an interpreter that
has already imported what SCRIPT imports. Run by the program's own interpreter, as a script
(`python forkserver.py SCRIPT`); it imports nothing of the reproducer, only the standard
library, so any Python 3.8+ runs it.

Theory of operation
-------------------
- Rule 1 (preloading): at start it reads SCRIPT's top-level imports (its syntax tree, not its
  code) and imports each module that does not live in SCRIPT's own folder: the libraries
  (boto3, json, urllib ...), never the user's own modules, whose import runs their code.
  A module that fails to import is skipped (SCRIPT will fail on it, as it would anyway).
- Rule 2 (a start is a fork): on a request (one JSON line on its socket with argv, env and the
  working directory, and two file descriptors, the child's stdout and stderr) it forks. The
  child does what `python SCRIPT ARGS` does on its way to `__main__` — a session of its own,
  stdin from /dev/null, the given stdout and stderr, working directory, environment,
  `sys.argv`, `sys.path[0]` the script's folder, signal handlers back to their defaults, the
  random generator reseeded — then runs SCRIPT as `__main__` (`runpy.run_path`) and exits
  with its status, as the interpreter would (an uncaught exception: its traceback on stderr,
  status 1). The server answers with the child's pid.
- Rule 3 (exits): the server reaps its children and reports each exit on the socket as
  {"exit": PID, "status": S} (S negative: killed by that signal), since the requester is not
  their parent and cannot wait for them itself.
- Rule 4 (lifetime): the server stops when its socket closes (its requester is gone); its
  children are in sessions of their own, which the requester ends.

What differs from a fresh interpreter, by design: the preloaded modules were imported once, in
the server, so their import-time side effects happened there (with the server's environment),
not in each program; `PYTHONHASHSEED` is the server's, so sets of strings iterate in the same
order in every child.
"""

from __future__ import annotations

import array
import ast
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


def _child(script: str, request: dict[str, object], fds: list[int]) -> None:
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
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code & 0xFF)


def _send(sock: socket.socket, message: dict[str, object]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def main() -> None:
    script = sys.argv[1]
    sock = socket.socket(fileno=int(sys.argv[2]))
    # the script's folder, not this file's, is where its own modules are found
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    _preload(script)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd is written
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the requester's to handle
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(read_end, selectors.EVENT_READ)
    _send(sock, {"ready": os.getpid()})
    buffered = b""
    pending_fds: list[int] = []
    while True:
        for key, _ in selector.select():
            if key.fileobj is read_end:
                os.read(read_end, 4096)
                _reap(sock)
                continue
            fds = array.array("i")
            data, ancillary, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(
                _MAX_FDS * fds.itemsize))
            if not data:
                return  # Rule 4: the requester is gone
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
            pending_fds += list(fds)
            buffered += data
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                request = json.loads(line)
                child_fds, pending_fds = pending_fds[:2], pending_fds[2:]
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    sock.close()
                    os.close(read_end)
                    os.close(write_end)
                    _child(script, request, child_fds)
                for fd in child_fds:
                    os.close(fd)
                _send(sock, {"pid": pid, "id": request.get("id")})
        _reap(sock)


def _reap(sock: socket.socket) -> None:
    """Rule 3."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        _send(sock, {"exit": pid, "status": code})


if __name__ == "__main__":
    main()
