"""Rate-limited log lines: a flood of one kind of event writes a few lines, not one per event.

Rules
-----
- Rule 1: each kind of event (its `kind`, a plural noun phrase such as "refused UPDATEs") may
  write `burst` lines per window of `window_s`; beyond that, its events are counted instead.
- Rule 2: no count is lost. The next line written for that kind ends with how many were not
  written before it, and `flush()` writes one line for each kind that has such a count; the
  server calls it every window and when it stops. So a burst of 10,000 refused UPDATEs
  writes `burst` lines and one count, whatever its rate.
- Rule 3: the clock is injected; nothing here sleeps or schedules.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LogLimiter"]


@dataclass(slots=True)
class _Kind:
    window_start: float
    written: int = 0
    unwritten: int = 0
    level: int = logging.INFO


class LogLimiter:
    """Writes through `logger` at most `burst` lines per kind per `window_s` (rule 1)."""

    def __init__(self, logger: logging.Logger, clock: Callable[[], float] = time.monotonic, *,
                 burst: int = 5, window_s: float = 10.0) -> None:
        self._logger = logger
        self._clock = clock
        self.burst = burst
        self.window_s = window_s
        self._kinds: dict[str, _Kind] = {}

    def log(self, kind: str, level: int, msg: str, *args: object) -> None:
        if not self._logger.isEnabledFor(level):
            return
        now = self._clock()
        state = self._kinds.get(kind)
        if state is None:
            state = self._kinds[kind] = _Kind(now)
        if now - state.window_start >= self.window_s:
            state.window_start, state.written = now, 0
        if state.written >= self.burst:
            state.unwritten += 1
            state.level = max(state.level, level)
            return
        state.written += 1
        if state.unwritten:
            msg += " (after %d more %s not logged)"
            args = (*args, state.unwritten, kind)
            state.unwritten = 0
        self._logger.log(level, msg, *args)

    def flush(self) -> None:
        """Write the count of every kind's events that were not written (rule 2)."""
        for kind, state in self._kinds.items():
            if state.unwritten:
                self._logger.log(state.level, "%d more %s not logged (at most %d %s per "
                                 "%.0f s)", state.unwritten, kind, self.burst,
                                 "line" if self.burst == 1 else "lines", self.window_s)
                state.unwritten = 0
                state.level = logging.INFO
