"""Admin: the processing queue as operators see it, and retrying every failed job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import func, select

from glowworm import lifecycle
from glowworm.models import Image, ProcessingJob, Status
from glowworm.pipeline_control import ControlCommand, is_paused, set_paused
from glowworm.sizes import JobType
from upload_service.deps import AdminDep, Offset, ResourcesDep, SessionDep
from upload_service.schemas import ProcessingQueue, QueueDepth, refusals
from upload_service.views import job_out

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=refusals(401, 403, 422))


@router.get("/processing-queue", response_model=ProcessingQueue)
def processing_queue(
    _: AdminDep,
    session: SessionDep,
    resources: ResourcesDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    job_type: Annotated[JobType | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> ProcessingQueue:
    counts: dict[Status, int] = {
        job_status: count
        for job_status, count in session.execute(
            select(ProcessingJob.status, func.count()).group_by(ProcessingJob.status)
        )
    }
    oldest = session.scalar(
        select(func.min(ProcessingJob.created_at)).where(
            ProcessingJob.status.in_((Status.PENDING, Status.PROCESSING))
        )
    )
    query = select(ProcessingJob)
    if status_ is not None:
        query = query.where(ProcessingJob.status == status_)
    if job_type is not None:
        query = query.where(ProcessingJob.job_type == job_type)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    jobs = session.scalars(query.order_by(ProcessingJob.id.desc()).limit(limit).offset(offset))
    return ProcessingQueue(
        paused=is_paused(session),
        queue_size=counts.get(Status.PENDING, 0),
        processing_count=counts.get(Status.PROCESSING, 0),
        failed_count=counts.get(Status.FAILED, 0),
        oldest_job_age_seconds=(datetime.now(UTC) - oldest).total_seconds() if oldest else None,
        jobs=[job_out(job) for job in jobs],
        total_jobs=total,
        limit=limit,
        offset=offset,
        queues=[
            QueueDepth(name=name, messages=messages, consumers=consumers)
            for name, messages, consumers in resources.broker.depths()
        ],
    )


@router.post("/processing-queue/retry-failed", status_code=status.HTTP_202_ACCEPTED)
def retry_failed(_: AdminDep, session: SessionDep, resources: ResourcesDep) -> dict[str, int]:
    """Retry every image that has a failed job; answers how many images were queued."""
    images = session.scalars(
        select(Image)
        .where(
            Image.id.in_(
                select(ProcessingJob.image_id).where(ProcessingJob.status == Status.FAILED)
            ),
            Image.deleted_at.is_(None),
        )
        .with_for_update()
    ).all()
    now = datetime.now(UTC)
    messages = []
    for image in images:
        message = lifecycle.reset(image, now).message
        if message and image.etag:
            messages.append(message)
    session.flush()
    resources.broker.publish_urgent(messages)
    return {"images": len(messages)}


def _switch(
    session: SessionDep, resources: ResourcesDep, command: ControlCommand
) -> dict[str, bool]:
    set_paused(session, command is ControlCommand.PAUSE)
    # Commit before the nudge, so a processor that looks finds the new state.
    session.commit()
    resources.broker.tell_processors(command)
    return {"paused": command is ControlCommand.PAUSE}


@router.post("/processing-queue/pause", status_code=status.HTTP_202_ACCEPTED)
def pause(_: AdminDep, session: SessionDep, resources: ResourcesDep) -> dict[str, bool]:
    """Stop every processor taking work; messages wait in their queues."""
    return _switch(session, resources, ControlCommand.PAUSE)


@router.post("/processing-queue/resume", status_code=status.HTTP_202_ACCEPTED)
def resume(_: AdminDep, session: SessionDep, resources: ResourcesDep) -> dict[str, bool]:
    return _switch(session, resources, ControlCommand.RESUME)
