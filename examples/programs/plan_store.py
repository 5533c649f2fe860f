#!/usr/bin/env python3
"""A plan store of its own, to run the example enactors free against a real `fake-dns`: the
same HTTP API the reproducer gives each program, serving a fixed list of plans and a planner
that has stopped.

    GET /plans                          every plan, oldest first (JSON list)
    GET /plans/newest?newer_than=N      the newest plan if it is newer than N, else 204
    DELETE /plans/G                     forget plan G (204)

A plan is {"generation": G, "endpoints": [{"name": ALIAS, "tree": TREE, "addresses": [...]}]},
as under the scheduler. Standard library only:

    python examples/programs/plan_store.py --listen 127.0.0.1:8080 \\
        --zone us-east-1.amazonaws.com --generations 4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def plans_of(zone: str, generations: int, addresses: list[str]) -> list[dict[str, Any]]:
    zone = zone.rstrip(".") + "."
    return [{"generation": g, "endpoints": [{
        "name": f"dynamodb.{zone}", "tree": f"g{g:04d}.dynamodb.plans.{zone}",
        "addresses": addresses}]} for g in range(1, generations + 1)]


def serve(host: str, port: int, plans: list[dict[str, Any]]) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: object = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            with lock:
                if url.path == "/plans":
                    return self._send(200, plans)
                if url.path == "/plans/newest":
                    newer_than = int(parse_qs(url.query).get("newer_than", ["0"])[0])
                    newest = plans[-1] if plans else None
                    if newest is None or newest["generation"] <= newer_than:
                        return self._send(204)  # the planner has stopped: nothing newer
                    return self._send(200, newest)
            return self._send(404, {"error": f"no such resource {url.path!r}"})

        def do_DELETE(self) -> None:
            generation = self.path.rpartition("/")[2]
            with lock:
                plans[:] = [p for p in plans if str(p["generation"]) != generation]
            self._send(204)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    parser.add_argument("--zone", default="us-east-1.amazonaws.com")
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--addresses", default="127.0.0.11,127.0.0.12,127.0.0.13")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    server = serve(host, int(port), plans_of(args.zone, args.generations,
                                             args.addresses.split(",")))
    print(f"plan store on http://{host}:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
