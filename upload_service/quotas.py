"""Storage quotas: how many bytes and images a user may hold, checked at presign time.

A user's quota is their own (``users.quota_bytes`` and ``quota_images``, set with
``glowworm user quota``) or else the deployment's (``GLOWWORM_QUOTA_BYTES`` and
``GLOWWORM_QUOTA_IMAGES``); None is unlimited, the default. What a user holds is every
image not deleted and not expired, at its stored size, or its announced size while the
upload has not landed: an upload URL reserves its bytes. Two uploads asked for at the
same moment may both fit the last free bytes; the quota is a limit on what a user may
ask for, not a lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from glowworm.models import Image, Status
from upload_service.settings import UploadSettings


@dataclass(frozen=True)
class Quota:
    bytes: int | None
    images: int | None

    @classmethod
    def of(cls, settings: UploadSettings, own_bytes: int | None, own_images: int | None) -> Quota:
        """The quota of a user whose own columns are ``own_bytes`` and ``own_images``."""
        return cls(
            settings.quota_bytes if own_bytes is None else own_bytes,
            settings.quota_images if own_images is None else own_images,
        )

    @property
    def unlimited(self) -> bool:
        return self.bytes is None and self.images is None


@dataclass(frozen=True)
class Usage:
    bytes: int
    images: int


def usage(session: Session, owner_id: int) -> Usage:
    """What ``owner_id`` holds now, in one query."""
    held = func.coalesce(Image.size_bytes, Image.declared_size, 0)
    images, size = session.execute(
        select(func.count(), func.coalesce(func.sum(held), 0)).where(
            Image.owner_id == owner_id,
            Image.deleted_at.is_(None),
            Image.processing_status != Status.EXPIRED,
        )
    ).one()
    return Usage(bytes=int(size), images=int(images))


def room_for(session: Session, owner_id: int, quota: Quota, size: int | None) -> int | None:
    """The bytes one more upload of ``owner_id`` may have (None: no byte limit).

    Raises 403 naming the quota when one more image, or ``size`` more bytes, would not fit.
    """
    if quota.unlimited:
        return None
    held = usage(session, owner_id)
    if quota.images is not None and held.images + 1 > quota.images:
        raise _over(f"you hold {held.images} images, the most your quota allows")
    if quota.bytes is None:
        return None
    room = quota.bytes - held.bytes
    if size is not None and size > room:
        raise _over(
            f"this file is {size} bytes and {max(room, 0)} of your {quota.bytes} bytes are free"
        )
    if room <= 0:
        raise _over(f"you hold {held.bytes} bytes, your quota is {quota.bytes}")
    return room


def _over(why: str) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        f"over your storage quota: {why}; delete images (DELETE /api/images/{{id}}) "
        "or ask an admin for a larger quota",
    )
