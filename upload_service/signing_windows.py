"""Download URLs signed per time window, so a browser, a proxy or a CDN can cache them.

A URL signed "now" is new on every request, and nothing caches a URL it never sees
twice. So time is cut into windows of ``GLOWWORM_DOWNLOAD_WINDOW_SECONDS``, counted from
the Unix epoch, and every download URL is signed as of the start of its window, valid
for the window plus ``GLOWWORM_DOWNLOAD_EXPIRY_SECONDS``. It follows that:

- within one window an object has one URL, byte for byte, on every replica (they share
  the clock and the credentials); the next window gives it a new one;
- a URL handed out at any moment stays valid at least ``download_expiry`` seconds (when
  handed out at the end of its window) and at most window + expiry (at its start);
- a redirect to it may be cached for the seconds the URL has left, less
  ``MARGIN_SECONDS`` to follow it and download, and never less than 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

# Time a client is left, after a cached redirect's max-age, to follow it and download.
MARGIN_SECONDS = 60


@dataclass(frozen=True)
class Window:
    """One signing window: every URL signed in it is signed as of ``start``."""

    # Unix seconds the window starts at, and its URLs are signed at.
    start: int
    # Seconds a URL signed at ``start`` is valid (X-Amz-Expires).
    expires: int

    @property
    def signed_at(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC)

    def max_age(self, now: float) -> int:
        """Seconds a redirect to this window's URL may be cached at ``now``: what the URL
        has left, less the margin, rounded down; 0 once that is spent."""
        return max(0, math.floor(self.start + self.expires - now) - MARGIN_SECONDS)


def window_at(now: float, length: int, expiry: int) -> Window:
    """The window of ``length`` seconds that ``now`` (Unix seconds) falls in, whose URLs
    stay valid ``expiry`` seconds after it ends."""
    start = math.floor(now) // length * length
    return Window(start=start, expires=length + expiry)
