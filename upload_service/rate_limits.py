"""Per-user rate limits: how often one user may ask for upload URLs and for retries.

A moving window per user and kind (``limits``' MovingWindowRateLimiter), in the storage
``rate_limit_storage`` names: in-process by default, so each API replica counts on its
own. Over a limit the route answers 429 with ``Retry-After``, the seconds until the
oldest counted call leaves the window, and says which limit it hit.
"""

from __future__ import annotations

import math
import time
from enum import StrEnum

from fastapi import HTTPException, status
from limits import RateLimitItem, parse_many, storage, strategies

from upload_service.settings import UploadSettings


class Limited(StrEnum):
    """What a user is counted for; also the wording of the 429."""

    PRESIGN = "upload URLs"
    RETRY = "retries"


class RateLimits:
    def __init__(self, settings: UploadSettings) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(settings.rate_limit_storage)
        )
        self._items: dict[Limited, list[RateLimitItem]] = {
            Limited.PRESIGN: _parsed(settings.presign_rate_limit),
            Limited.RETRY: _parsed(settings.retry_rate_limit),
        }

    def hit(self, kind: Limited, user_id: int) -> None:
        """Count one call of ``user_id``; raise 429 if it is over any of ``kind``'s limits.

        A refused call is not counted, so a client that waits ``Retry-After`` gets in.
        """
        who = str(user_id)
        for item in self._items[kind]:
            if not self._limiter.test(item, kind.name, who):
                reset = self._limiter.get_window_stats(item, kind.name, who).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise HTTPException(
                    status.HTTP_429_TOO_MANY_REQUESTS,
                    f"too many {kind} (at most {item}); try again in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
        for item in self._items[kind]:
            self._limiter.hit(item, kind.name, who)

    def limits_of(self, kind: Limited) -> list[str]:
        """The limits of ``kind`` as a person reads them ("600 per 1 minute")."""
        return [str(item) for item in self._items[kind]]


def _parsed(value: str) -> list[RateLimitItem]:
    return parse_many(value) if value.strip() else []
