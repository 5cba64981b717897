"""serve_first: urgent work pulled before a variant runs, within its bounds."""

from __future__ import annotations

from collections import deque
from typing import Any

from processor.priority import PULL_BUDGET_S, Source, serve_first


class FakeQueue:
    """Answers basic.get like a broker queue: the next message, or None when empty."""

    def __init__(self, name: str, count: int) -> None:
        self.messages = deque(f"{name}-{n}" for n in range(count))

    def get(self, no_ack: bool) -> str | None:
        assert no_ack is False, "a pulled message is acknowledged after its commit"
        return self.messages.popleft() if self.messages else None


def sources(handled: list[Any], **counts: int) -> tuple[dict[str, FakeQueue], list[Source]]:
    queues = {name: FakeQueue(name, count) for name, count in counts.items()}
    return queues, [Source(queue, handled.append) for queue in queues.values()]


def test_pulls_most_urgent_first_until_every_queue_is_empty() -> None:
    handled: list[Any] = []
    queues, pull_from = sources(handled, urgent=1, ingest=2, thumbnails=2)

    def ingest_then_thumbnail(message: Any) -> None:
        # An ingested event publishes its thumbnail job; it is pulled in the same pass.
        handled.append(message)
        queues["thumbnails"].messages.append(f"thumbnail-of-{message}")

    pull_from[1] = Source(queues["ingest"], ingest_then_thumbnail)
    assert serve_first(pull_from, lambda: True) == 7
    assert handled == [
        "urgent-0",
        "ingest-0",
        "ingest-1",
        "thumbnails-0",
        "thumbnails-1",
        "thumbnail-of-ingest-0",
        "thumbnail-of-ingest-1",
    ]


def test_nothing_waiting_means_nothing_pulled() -> None:
    handled: list[Any] = []
    _, pull_from = sources(handled, urgent=0, ingest=0, thumbnails=0)
    assert serve_first(pull_from, lambda: True) == 0
    assert handled == []


def test_stops_pulling_when_work_must_stop() -> None:
    handled: list[Any] = []
    _, pull_from = sources(handled, thumbnails=5)
    assert serve_first(pull_from, lambda: len(handled) < 2) == 2
    assert handled == ["thumbnails-0", "thumbnails-1"]


def test_stops_pulling_when_the_budget_is_spent() -> None:
    handled: list[Any] = []
    _, pull_from = sources(handled, thumbnails=100)
    now = [0.0]

    def clock() -> float:
        now[0] += PULL_BUDGET_S / 4  # each pulled message takes a quarter of the budget
        return now[0]

    assert serve_first(pull_from, lambda: True, clock=clock) == 3
