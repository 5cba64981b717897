"""How long to wait before the next attempt: a pure function, tested on its own."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

# Defaults: about 5 s, 30 s and 2 min before the 1st, 2nd and 3rd retry.
DEFAULT_DELAYS: tuple[float, ...] = (5.0, 30.0, 120.0)
# Spread of each delay, as a fraction either way, so retries of a burst do not line up.
DEFAULT_JITTER = 0.2


def compute_backoff(
    retry_number: int,
    delays: Sequence[float] = DEFAULT_DELAYS,
    jitter: float = DEFAULT_JITTER,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry ``retry_number`` (1-based); past the table, its last entry."""
    if retry_number < 1:
        raise ValueError("retry_number starts at 1")
    base = delays[min(retry_number, len(delays)) - 1]
    return base * (1.0 + jitter * (2.0 * rand() - 1.0))
