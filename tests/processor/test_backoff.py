from __future__ import annotations

import pytest

from processor.backoff import compute_backoff


def test_delays_grow_and_stay_at_the_last_step() -> None:
    middle = [compute_backoff(n, rand=lambda: 0.5) for n in range(1, 6)]
    assert middle == [5.0, 30.0, 120.0, 120.0, 120.0]


def test_jitter_stays_within_its_fraction() -> None:
    assert compute_backoff(2, rand=lambda: 0.0) == pytest.approx(24.0)
    assert compute_backoff(2, rand=lambda: 1.0) == pytest.approx(36.0)


def test_retry_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        compute_backoff(0)
