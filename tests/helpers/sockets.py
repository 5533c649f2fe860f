"""Whether something still listens: how a test sees that the processes it started are gone."""

from __future__ import annotations

import socket


def refuses(address: str, port: int) -> bool:
    """True if a TCP connection to (address, port) is refused: nothing listens there."""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((address, port)) != 0
