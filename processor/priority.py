"""Thumbnails before variants (docs/ARCHITECTURE.md rule 6): serve the urgent queues first.

A worker with one consumer per queue handles deliveries in the order they arrive, so
in a burst it serves the queues in turn: a ~700 ms variant job is taken as often as a
~200 ms thumbnail job, and a new upload's thumbnails wait behind the variant backlog
(measured: thumbnails p50 53 s in a burst of 200, the same as everything complete).
So before a worker starts a variant job it pulls (``basic.get``) from the more urgent
queues and handles what it finds, until they are empty; then it runs the variant.

The variant stays in hand meanwhile, neither requeued nor rejected: work queues are
quorum queues, which count every redelivery against ``x-delivery-limit``.

A delivery pushed to one of the worker's other consumers while it waits for the
broker's answer to a ``basic.get`` is handled there and then (py-amqp dispatches it
from inside the wait). That is safe because pulling happens between messages, never
inside one, and it is more urgent work anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kombu import Message, Queue

# Longest a variant job in hand waits while urgent work is served. RabbitMQ closes a
# channel that keeps a delivery unacknowledged past consumer_timeout (30 min by default),
# taking every message in hand with it; 30 s is far from that and still lets a burst
# of new uploads get their thumbnails first.
PULL_BUDGET_S = 30.0


@dataclass(frozen=True)
class Source:
    """A queue to pull from, bound to the channel whose consumer acknowledges its messages."""

    queue: Queue
    handle: Callable[[Message], None]


def serve_first(
    sources: Sequence[Source],
    may_go_on: Callable[[], bool],
    budget: float = PULL_BUDGET_S,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Handle messages pulled from ``sources`` until all are empty; return how many.

    Each message comes from the first source that has one, so more urgent work that
    arrives meanwhile still goes first. Stops early once ``may_go_on`` says no (paused,
    a dependency down, shutting down) or ``budget`` seconds have passed. Errors of the
    broker (a lost connection) propagate, as they do from the consumer's own loop.
    """
    deadline = clock() + budget
    served = 0
    while may_go_on() and clock() < deadline:
        if not _pull_one(sources):
            break
        served += 1
    return served


def _pull_one(sources: Sequence[Source]) -> bool:
    for source in sources:
        message = source.queue.get(no_ack=False)
        if message is not None:
            source.handle(message)
            return True
    return False
