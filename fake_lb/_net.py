"""Listening sockets on loopback addresses.

Every 127.0.0.x address binds on Linux with no setup, so each node can have its own address,
as real hosts would. Backends share one port across their addresses because A records carry only
addresses: the LB reaches every backend at http://<address>:<backend_port>.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from collections.abc import Sequence

__all__ = ["ListenError", "bind_shared_port", "bind_tcp", "loopback_addresses"]

_ATTEMPTS = 20


class ListenError(OSError):
    """A port asked for cannot be had; `address` is HOST:PORT, `role` what was to listen."""

    def __init__(self, errno_: int, strerror: str, address: str, role: str) -> None:
        super().__init__(errno_, strerror)
        self.address = address
        self.role = role

    def __str__(self) -> str:
        return f"cannot listen on {self.address} ({self.role}): {self.strerror}"


def loopback_addresses(first: str, count: int) -> tuple[str, ...]:
    """`count` consecutive addresses from `first`, all inside 127.0.0.0/8."""
    start = ipaddress.IPv4Address(first)
    out = tuple(str(start + i) for i in range(count))
    net = ipaddress.IPv4Network("127.0.0.0/8")
    bad = [a for a in out if ipaddress.IPv4Address(a) not in net]
    if bad:
        raise ValueError(f"addresses {bad} (from {first!r}, count {count}) leave 127.0.0.0/8; "
                         "choose a lower first address")
    return out


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 lets the kernel choose."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_shared_port(hosts: Sequence[str], port: int = 0, *, role: str = "listeners"
                     ) -> list[socket.socket]:
    """Listening sockets on every host, all on one port.

    With `port` 0 the kernel chooses it for the first host; when another host already has that
    port taken, all sockets are closed and another port is tried (a bounded number of times).
    """
    if not hosts:
        return []
    for _ in range(_ATTEMPTS if port == 0 else 1):
        socks: list[socket.socket] = []
        host, chosen = hosts[0], port
        try:
            socks.append(bind_tcp(host, port))
            chosen = socks[0].getsockname()[1]
            for host in hosts[1:]:
                socks.append(bind_tcp(host, chosen))
            return socks
        except OSError as exc:
            for sock in socks:
                sock.close()
            if port != 0 or exc.errno != errno.EADDRINUSE:
                raise ListenError(exc.errno or 0, exc.strerror or str(exc),
                                  f"{host}:{chosen}", role) from None
    raise OSError(errno.EADDRINUSE,
                  f"no port was free on all of {list(hosts)} after {_ATTEMPTS} attempts")


def close_all(socks: Sequence[socket.socket]) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.close()
