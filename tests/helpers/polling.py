"""Waiting for a condition in a test: poll it, with a generous bound, never a bare sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], bool], what: str, *, timeout_s: float = 10.0,
                step_s: float = 0.01) -> None:
    """Return as soon as `condition()` holds; fail saying `what` was awaited after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout_s:g} s for {what}")
        await asyncio.sleep(step_s)
