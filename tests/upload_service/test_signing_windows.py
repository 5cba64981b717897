"""Signing windows: one URL per window, valid long enough, cached no longer than valid."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from upload_service.settings import UploadSettings
from upload_service.signing_windows import MARGIN_SECONDS, window_at

LENGTH = 900
EXPIRY = 300
# A window start: 2026-12-07 10:45:00 UTC.
START = 1_796_640_300


def test_every_moment_of_a_window_signs_at_its_start() -> None:
    assert START % LENGTH == 0
    windows = {window_at(START + s, LENGTH, EXPIRY) for s in (0, 0.5, 1, 450, 899, 899.999)}
    assert len(windows) == 1
    (window,) = windows
    assert window.signed_at == datetime(2026, 12, 7, 10, 45, tzinfo=UTC)
    assert window.expires == LENGTH + EXPIRY


def test_the_next_window_signs_at_its_own_start() -> None:
    assert window_at(START + LENGTH, LENGTH, EXPIRY).start == START + LENGTH
    assert window_at(START - 0.001, LENGTH, EXPIRY).start == START - LENGTH


@pytest.mark.parametrize("offset", [0, 1, 299.5, 450, 898.2, 899.999])
def test_a_url_handed_out_stays_valid_at_least_the_expiry(offset: float) -> None:
    now = START + offset
    window = window_at(now, LENGTH, EXPIRY)
    assert window.start + window.expires - now >= EXPIRY


@pytest.mark.parametrize("offset", [0, 1, 299.5, 450, 898.2, 899.999, 1150, 1199.5, 1300])
def test_max_age_never_reaches_past_the_url_expiry(offset: float) -> None:
    window = window_at(START, LENGTH, EXPIRY)
    now = START + offset
    left = window.start + window.expires - now
    assert 0 <= window.max_age(now) <= max(0, left - MARGIN_SECONDS)


def test_max_age_is_what_is_left_less_the_margin() -> None:
    window = window_at(START, LENGTH, EXPIRY)
    assert window.max_age(START) == LENGTH + EXPIRY - MARGIN_SECONDS
    assert window.max_age(START + 899.5) == EXPIRY - MARGIN_SECONDS
    assert window_at(START, 1, 30).max_age(START) == 0


def test_settings_refuse_urls_longer_than_sigv4_allows() -> None:
    with pytest.raises(ValueError, match="at most 604800"):
        UploadSettings(download_window_seconds=7 * 24 * 3600, download_expiry_seconds=1)
    assert UploadSettings().download_window_seconds == LENGTH
