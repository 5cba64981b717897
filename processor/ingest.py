"""Ingest: an object landed in the originals bucket; register it and queue its jobs.

Any object is processed, whoever put it there (DESIGN.md rule 1): a row made by the
upload API is found by its key, and an object with no row gets one, owned by the
default user. A repeated event for the same ETag changes nothing.
"""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from glowworm.errors import PermanentError
from glowworm.job_messages import JobMessage
from glowworm.models import Image, ProcessingJob, Status, User
from glowworm.sizes import JobType
from glowworm.status import sync_image_status
from glowworm.status_events import StatusEventType, event_for
from processor import blobs
from processor.context import Context
from processor.notifications import ObjectCreated

log = structlog.get_logger(__name__)


def ingest(event: ObjectCreated, ctx: Context, *, again: bool = False) -> JobMessage | None:
    """Register the object and its jobs; the thumbnail job to publish, if one is due.

    ``again``: this message was handed to a worker before (redelivered, or sent back
    through a delay queue), so its thumbnail job may be registered and not published.
    Raises ``TransientError`` when storage or the database cannot be reached.
    """
    if event.bucket != ctx.settings.originals_bucket:
        log.info("ingest.skip_other_bucket", bucket=event.bucket, key=event.key)
        return None
    try:
        found = blobs.head(ctx.s3, event.bucket, event.key)
    except PermanentError:
        log.info("ingest.skip_deleted", bucket=event.bucket, key=event.key)
        return None
    with ctx.database() as session:
        image = _find_or_register(session, event, ctx)
        jobs = {job.job_type: job for job in image.jobs}
        if image.etag == found.etag and len(jobs) == len(JobType):
            thumbnail = jobs[JobType.THUMBNAIL]
            log.info("ingest.repeat", image_id=image.id, etag=found.etag)
            # Every upload is announced twice (the API's complete call, then MinIO's
            # event), so a repeat is the rule, and its job is already queued. Only this
            # same message, handed out again, may follow a publish that never happened.
            if again and thumbnail.status is Status.PENDING:
                return _message(thumbnail)
            return None
        now = datetime.now(UTC)
        _reset_for_new_version(image, found.etag, found.size, now)
        for job_type in JobType:
            job = jobs.get(job_type)
            if job is None:
                job = ProcessingJob(image_id=image.id, job_type=job_type)
                session.add(job)
                image.jobs.append(job)
            job.etag = found.etag
            job.status = Status.PENDING
            job.attempts = 0
            job.max_attempts = ctx.settings.max_attempts
            job.error_kind = job.error_message = None
            job.lease_expires_at = job.started_at = job.completed_at = None
            job.next_attempt_at = now  # due now (see glowworm.status.reset_jobs)
        sync_image_status(image, now)
        session.flush()
        ctx.outbox.append(event_for(image, StatusEventType.UPLOADED))
        log.info("ingest.registered", image_id=image.id, key=image.key, etag=found.etag)
        return _message(next(j for j in image.jobs if j.job_type is JobType.THUMBNAIL))


def _message(job: ProcessingJob) -> JobMessage:
    return JobMessage(job_id=job.id, image_id=job.image_id, job_type=job.job_type, etag=job.etag)


def _find_or_register(session: Session, event: ObjectCreated, ctx: Context) -> Image:
    """The image row for bucket/key, locked; made (race-safely) for objects the API never saw."""
    query = (
        select(Image)
        .where(Image.bucket == event.bucket, Image.key == event.key)
        .options(lazyload(Image.derivatives))  # ingest never reads them
    )
    image = session.scalars(query.with_for_update()).one_or_none()
    if image is not None:
        return image
    owner = _default_owner(session, ctx.settings.default_owner)
    try:
        with session.begin_nested():
            session.add(
                Image(
                    owner_id=owner.id,
                    bucket=event.bucket,
                    key=event.key,
                    original_filename=posixpath.basename(event.key)[-255:] or event.key[-255:],
                )
            )
    except IntegrityError:
        pass  # another worker registered it first; take theirs
    return session.scalars(query.with_for_update()).one()


def _default_owner(session: Session, name: str) -> User:
    query = select(User).where(User.name == name)
    user = session.scalars(query).one_or_none()
    if user is not None:
        return user
    try:
        with session.begin_nested():
            session.add(User(name=name, is_admin=False))
    except IntegrityError:
        pass
    return session.scalars(query).one()


def _reset_for_new_version(image: Image, etag: str, size: int, now: datetime) -> None:
    image.etag = etag
    image.size_bytes = size
    image.uploaded_at = now
    image.sha256 = None
    image.duplicate_of_id = None
    image.processing_attempts = 0
    image.processing_error = None
    image.processing_completed_at = None
