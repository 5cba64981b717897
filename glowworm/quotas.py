"""Storage quotas: how many bytes and images a user may hold, checked when an upload URL
is asked for (upload_service/quotas.py), and again by the processor that registers an
upload from a POST policy, which reserves nothing beforehand (processor/ingest.py).

A user's quota is their own (``users.quota_bytes`` and ``quota_images``, set with
``glowworm user quota``) or else the deployment's (``GLOWWORM_QUOTA_BYTES`` and
``GLOWWORM_QUOTA_IMAGES``); None is unlimited, the default. What a user holds is every
image not deleted and not expired, at its stored size, or its announced size while the
upload has not landed: an upload URL reserves its bytes. Two uploads asked for at the
same moment may both fit the last free bytes; the quota is a limit on what a user may
ask for, not a lock. A POST policy makes no row, so the processor checks its upload
when it lands: one that does not fit is removed, and its image fails saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from glowworm.models import Image, Status
from glowworm.settings import Settings


@dataclass(frozen=True)
class Quota:
    bytes: int | None
    images: int | None

    @classmethod
    def of(cls, settings: Settings, own_bytes: int | None, own_images: int | None) -> Quota:
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


def usage(session: Session, owner_id: int, *, besides: int | None = None) -> Usage:
    """What ``owner_id`` holds now (besides image ``besides``), in one query."""
    held = func.coalesce(Image.size_bytes, Image.declared_size, 0)
    query = select(func.count(), func.coalesce(func.sum(held), 0)).where(
        Image.owner_id == owner_id,
        Image.deleted_at.is_(None),
        Image.processing_status != Status.EXPIRED,
        # An upload refused when it landed (over quota) holds nothing.
        ~(Image.etag.is_(None) & (Image.processing_status == Status.FAILED)),
    )
    if besides is not None:
        query = query.where(Image.id != besides)
    images, size = session.execute(query).one()
    return Usage(bytes=int(size), images=int(images))


def overrun(quota: Quota, held: Usage, size: int | None) -> str | None:
    """Why one more image of ``size`` bytes (unknown: None) does not fit ``quota`` next to
    what is ``held``; None when it fits."""
    if quota.images is not None and held.images + 1 > quota.images:
        return f"you hold {held.images} images, the most your quota allows"
    if quota.bytes is None:
        return None
    room = quota.bytes - held.bytes
    if size is not None and size > room:
        return f"this file is {size} bytes and {max(room, 0)} of your {quota.bytes} bytes are free"
    if room <= 0:
        return f"you hold {held.bytes} bytes, your quota is {quota.bytes}"
    return None


def over_quota_message(why: str) -> str:
    return (
        f"over your storage quota: {why}; delete images (DELETE /api/images/{{id}}) "
        "or ask an admin for a larger quota"
    )
