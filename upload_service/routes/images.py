"""Images: list, detail, processing status, a redirect to any size, retry, and delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from glowworm import lifecycle
from glowworm.models import Image, JobAttempt, Status, User
from upload_service import store
from upload_service.broker import BrokerUnavailable
from upload_service.deps import (
    KEY_MAX,
    PLAIN_TEXT,
    ImageId,
    Offset,
    ResourcesDep,
    SessionDep,
    UserDep,
)
from upload_service.etags import json_or_not_modified
from upload_service.files import file_redirect, visible_image
from upload_service.rate_limits import Limited
from upload_service.schemas import (
    NOT_MODIFIED,
    DeleteAccepted,
    ImageOut,
    ImagePage,
    ProcessingStatus,
    RetryResponse,
    refusals,
)
from upload_service.views import image_out, processing_status

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/images", tags=["images"], responses=refusals(401, 404, 422))


def _owner_name(session: SessionDep, image: Image) -> str:
    return session.scalars(select(User.name).where(User.id == image.owner_id)).one()


@router.get("", response_model=ImagePage, responses=NOT_MODIFIED)
def list_images(
    request: Request,
    user: UserDep,
    session: SessionDep,
    key: Annotated[
        str | None,
        Query(
            max_length=KEY_MAX + 1,
            pattern=PLAIN_TEXT,
            description="exact object key, or a prefix ending in '*'",
        ),
    ] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Response:
    query = (
        select(Image, User.name)
        .join(User, User.id == Image.owner_id)
        .where(Image.deleted_at.is_(None))
    )
    if not user.is_admin:
        query = query.where(Image.owner_id == user.id)
    if key is not None:
        if key.endswith("*"):
            prefix = key[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Image.key.like(prefix + "%", escape="\\"))
        else:
            query = query.where(Image.key == key)
    if status_ is not None:
        query = query.where(Image.processing_status == status_)
    else:  # an upload that stored nothing is listed only when asked for
        query = query.where(Image.processing_status != Status.EXPIRED)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Image.id.desc()).limit(limit).offset(offset)).all()
    page = ImagePage(
        items=[image_out(image, owner) for image, owner in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
    return json_or_not_modified(request, page)


@router.get("/{image_id}", response_model=ImageOut, responses=NOT_MODIFIED)
def get_image(request: Request, image_id: ImageId, user: UserDep, session: SessionDep) -> Response:
    image = visible_image(session, user, image_id)
    return json_or_not_modified(request, image_out(image, _owner_name(session, image)))


@router.get(
    "/{image_id}/processing-status", response_model=ProcessingStatus, responses=NOT_MODIFIED
)
def get_processing_status(
    request: Request, image_id: ImageId, user: UserDep, session: SessionDep
) -> Response:
    """Statuses, attempts and each job's attempt history (when, how it ended, why); an
    ETag, and 304 to an If-None-Match that names it (``etags``)."""
    image = visible_image(session, user, image_id)
    history = session.scalars(
        select(JobAttempt).where(JobAttempt.image_id == image.id).order_by(JobAttempt.id)
    ).all()
    return json_or_not_modified(request, processing_status(image, list(history)))


@router.get("/{image_id}/file", status_code=status.HTTP_302_FOUND, response_class=RedirectResponse)
def get_file(
    image_id: ImageId,
    user: UserDep,
    session: SessionDep,
    resources: ResourcesDep,
    size: Annotated[
        str, Query(description="small, medium, large, fhd, uhd or original")
    ] = "original",
) -> RedirectResponse:
    """302 to a short-lived URL of the size asked for; the original while it is not ready."""
    return file_redirect(session, user, resources, image_id, size)


@router.post(
    "/{image_id}/retry-processing",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetryResponse,
    responses=refusals(
        _409="nothing to retry: processed, still in progress, or not uploaded",
        _429="too many retries asked for; wait Retry-After seconds",
    ),
)
def retry_processing(
    image_id: ImageId, user: UserDep, session: SessionDep, resources: ResourcesDep
) -> RetryResponse:
    """Queue a failed image's unfinished jobs again, ahead of the backlog, attempts reset.

    Only a failed image may be retried: one still pending or processing is on its way
    (a job whose worker died is taken over when its lease ends, and the reconciler
    requeues one whose message was lost), so a retry would only queue it twice.
    """
    resources.rate_limits.hit(Limited.RETRY, user.id)
    image = session.get(Image, image_id, with_for_update=True)
    if image is None or image.deleted_at or (image.owner_id != user.id and not user.is_admin):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"image {image_id} not found")
    if image.processing_status is Status.COMPLETE:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"image {image_id} is already processed; nothing to retry"
        )
    if image.etag is not None and image.processing_status in (Status.PENDING, Status.PROCESSING):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"image {image_id} is still {image.processing_status}; retry it if it fails",
        )
    if image.etag is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"image {image_id} has not been uploaded yet; nothing to retry",
        )
    retried = lifecycle.reset(image, datetime.now(UTC))
    session.flush()
    resources.broker.publish_urgent([retried.message] if retried.message else [])
    return RetryResponse(
        image_id=image.id, retried_jobs=list(retried.job_ids), status=processing_status(image)
    )


@router.delete(
    "/{image_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeleteAccepted,
    responses=refusals(
        _404="no such image of yours, or it is deleted and purged",
        _503="the store is down: the deletion is recorded and ends later",
    ),
)
def delete_image(
    image_id: ImageId, user: UserDep, session: SessionDep, resources: ResourcesDep
) -> DeleteAccepted:
    """Delete the image: its original, every derivative and its row.

    The image disappears from every route at once (it is soft-deleted); the original
    is removed now, and a processor removes the derivatives and purges the row
    (``processor/removal.py``). Until then, the same call answers 202 again; after, 404.
    """
    image = session.get(Image, image_id, with_for_update=True)
    if image is None or (image.owner_id != user.id and not user.is_admin):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"image {image_id} not found")
    image.deleted_at = image.deleted_at or datetime.now(UTC)
    bucket, key = image.bucket, image.key
    session.commit()  # from here the deletion is recorded, and the reconciler ends it
    try:
        store.delete(resources.s3, bucket, key)
    except store.StoreUnavailable as e:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"image {image_id} is deleted, but its files could not be removed yet ({e}); "
            "they are removed once the store is back, and this call may be repeated",
            headers={"Retry-After": "30"},
        ) from e
    try:
        resources.broker.publish_removal(bucket, key)
    except BrokerUnavailable:
        # The store's own removal event, or the reconciler, purges it.
        log.warning("delete.removal_not_queued", image_id=image_id)
    return DeleteAccepted(id=image_id, status="deleting")
