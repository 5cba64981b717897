"""The storage quota at presign time: 403 when one more upload would not fit
(glowworm/quotas.py counts and compares)."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from glowworm.quotas import Quota, over_quota_message, overrun, usage


def room_for(session: Session, owner_id: int, quota: Quota, size: int | None) -> int | None:
    """The bytes one more upload of ``owner_id`` may have (None: no byte limit).

    Raises 403 naming the quota when one more image, or ``size`` more bytes, would not fit.
    """
    if quota.unlimited:
        return None
    held = usage(session, owner_id)
    why = overrun(quota, held, size)
    if why is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, over_quota_message(why))
    return None if quota.bytes is None else quota.bytes - held.bytes
