"""A user's own account: quota and limits, and erasing every image in one call
(``glowworm.erasure``)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import groupby

import structlog
from fastapi import APIRouter, HTTPException, status

from glowworm.erasure import ErasureReceipt, mark_erased
from glowworm.quotas import Quota, usage
from upload_service import store
from upload_service.broker import BrokerUnavailable
from upload_service.deps import ResourcesDep, SessionDep, UserDep
from upload_service.rate_limits import Limited
from upload_service.schemas import LimitsOut, MeOut, QuotaOut, refusals

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/users", tags=["users"], responses=refusals(401))


@router.get("/me", response_model=MeOut)
def about_me(user: UserDep, session: SessionDep, resources: ResourcesDep) -> MeOut:
    """Who you are, your storage quota and what you hold, and the rate limits you are under."""
    settings = resources.settings
    quota = Quota.of(settings, user.quota_bytes, user.quota_images)
    held = usage(session, user.id)
    limits = resources.rate_limits
    return MeOut(
        id=user.id,
        user=user.name,
        admin=user.is_admin,
        quota=QuotaOut(
            bytes=quota.bytes, images=quota.images, bytes_used=held.bytes, images_used=held.images
        ),
        limits=LimitsOut(
            upload_urls=limits.limits_of(Limited.PRESIGN),
            retries=limits.limits_of(Limited.RETRY),
            sockets_per_process=settings.max_sockets_per_user,
        ),
    )


@router.delete(
    "/me/images",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ErasureReceipt,
    responses={
        **refusals(_503="the store is down: the erasure is recorded and ends later"),
    },
)
def erase_my_images(user: UserDep, session: SessionDep, resources: ResourcesDep) -> ErasureReceipt:
    """Erase every image you own: originals, derivatives, manifests and rows.

    Every image leaves every route at once; the originals are removed now, the rest by
    the processors (as ``DELETE /api/images/{id}`` does for one). The receipt lists each
    image and each object being removed. The call may be repeated: it lists again the
    images whose removal has not finished (an upload never PUT stays, with no objects,
    as a tombstone until its URL can no longer be used). An upload announced while this
    runs is not in it; call again.
    """
    now = datetime.now(UTC)
    erased = mark_erased(session, user, resources.settings.derivatives_bucket, now)
    session.commit()  # from here the erasure is recorded, and the reconciler ends it
    uploaded = [(image.bucket, image.key) for image in erased if image.objects]
    try:
        for bucket, keys in groupby(sorted(uploaded), lambda place: place[0]):
            store.delete_many(resources.s3, bucket, [key for _, key in keys])
    except store.StoreUnavailable as e:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"your {len(erased)} images are deleted, but their files could not be removed"
            f" yet ({e}); they are removed once the store is back, and this call may be"
            " repeated",
            headers={"Retry-After": "30"},
        ) from e
    try:
        for image in erased:
            resources.broker.publish_removal(image.bucket, image.key)
    except BrokerUnavailable:
        # The store's own removal events, or the reconciler, purge them.
        log.warning("erase.removals_not_queued", user=user.name, images=len(erased))
    log.info("erase.accepted", user=user.name, images=len(erased))
    return ErasureReceipt(user=user.name, requested_at=now, status="erasing", images=erased)
