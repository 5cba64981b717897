from __future__ import annotations

from processor.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_probes_with_growing_intervals_and_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    assert not breaker.is_open
    assert breaker.trip("database unreachable")
    assert not breaker.trip("database unreachable"), "a second trip while open is not news"
    assert not breaker.probe_due()
    waits = []
    for _ in range(6):
        start = clock.now
        while not breaker.probe_due():
            clock.now += 0.5
        waits.append(clock.now - start)
        breaker.probe_failed()
    assert waits == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    clock.now += 15
    assert breaker.close() == clock.now - 100.0
    assert not breaker.is_open and breaker.reason is None
