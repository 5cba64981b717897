"""What a handler tells the consumer to do with the message it handled."""

from __future__ import annotations

from dataclasses import dataclass

from glowworm.job_messages import JobMessage
from glowworm.status_events import StatusEvent


@dataclass(frozen=True)
class Finished:
    """Publish ``events`` (what was committed), then ``follow_up``; then acknowledge
    the message, or dead-letter it when ``dead``."""

    follow_up: JobMessage | None = None
    events: tuple[StatusEvent, ...] = ()
    dead: bool = False


@dataclass(frozen=True)
class RetryLater:
    """Publish ``events``, then send the message back through a delay queue, ``delay``
    seconds from now."""

    delay: float
    events: tuple[StatusEvent, ...] = ()


Outcome = Finished | RetryLater
