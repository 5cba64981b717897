"""The circuit breaker: stop taking work while a dependency is down, probe, resume.

Pure state and timing; the consumer decides what "stop" and "probe" mean.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Seconds between probes: the first quickly, then doubling up to the ceiling.
FIRST_PROBE_AFTER = 1.0
MAX_PROBE_INTERVAL = 15.0


@dataclass
class CircuitBreaker:
    clock: Callable[[], float] = time.monotonic
    reason: str | None = None
    opened_at: float | None = None
    _interval: float = FIRST_PROBE_AFTER
    _next_probe: float = field(default=0.0)

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def trip(self, reason: str) -> bool:
        """Open on a dependency failure; True when it was closed until now."""
        self.reason = reason
        if self.is_open:
            return False
        self.opened_at = self.clock()
        self._interval = FIRST_PROBE_AFTER
        self._next_probe = self.opened_at + self._interval
        return True

    def probe_due(self) -> bool:
        return self.is_open and self.clock() >= self._next_probe

    def probe_failed(self) -> None:
        self._interval = min(self._interval * 2, MAX_PROBE_INTERVAL)
        self._next_probe = self.clock() + self._interval

    def close(self) -> float:
        """Close after a successful probe; returns how long it was open, in seconds."""
        opened = self.opened_at or self.clock()
        self.opened_at = None
        self.reason = None
        return self.clock() - opened
