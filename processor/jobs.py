"""Run one thumbnail or variant job: claim, fetch, derive, store, record.

The job row in Postgres is the truth; the message only points at it. Claiming takes
a lease, so a job left in ``processing`` by a worker that died is taken over once the
lease runs out; the takeover spends no new attempt, since the last one never ended.
An unreachable dependency spends none either: the claim is handed back.
Derivatives are written before the commit that makes them visible, and the message is
acknowledged after that commit (DESIGN.md rule 2).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from glowworm.errors import (
    DependencyUnavailable,
    PermanentError,
    ProcessingError,
    TransientError,
)
from glowworm.job_messages import JobMessage
from glowworm.models import Derivative, Image, JobAttempt, ProcessingJob, Status
from glowworm.sizes import JobType, sizes_for
from glowworm.status import sync_image_status
from glowworm.status_events import StatusEventType, event_for
from glowworm.storage import derivative_key
from processor import blobs
from processor.backoff import compute_backoff
from processor.context import Context
from processor.imaging.pipeline import Rendition, render
from processor.imaging.probe import ImageInfo, probe

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Finished:
    """Acknowledge the message; publish ``follow_up`` first if there is one."""

    follow_up: JobMessage | None = None
    dead: bool = False


@dataclass(frozen=True)
class RetryLater:
    """Send the message back through a delay queue, ``delay`` seconds from now."""

    delay: float
    # A dependency is down: the consumer stops taking work until it answers again.
    unavailable: bool = False


Outcome = Finished | RetryLater


@dataclass(frozen=True)
class _Claim:
    bucket: str
    key: str
    attempt: int
    max_attempts: int
    started_at: datetime


class _Superseded(Exception):
    """The original was replaced or the job reset while we worked; drop our results."""


def run_job(msg: JobMessage, ctx: Context) -> Outcome:
    """Do one attempt of the job ``msg`` points at, and say what to do with the message.

    Raises ``DependencyUnavailable`` when the database cannot be reached to claim or
    to hand the job back; nothing is spent then either.
    """
    claim = _claim(msg, ctx)
    if not isinstance(claim, _Claim):
        return claim
    started = time.monotonic()
    error: ProcessingError | None = None
    try:
        if msg.job_type is JobType.THUMBNAIL:
            outcome: Outcome = Finished(_make_thumbnails(msg, claim, ctx))
        else:
            outcome = Finished(_make_variants(msg, claim, ctx))
        result = "complete"
    except _Superseded:
        outcome, result = Finished(), "superseded"
    except PermanentError as e:
        error, result = e, "failed"
        outcome = _record_failure(msg, claim, e, ctx)
    except DependencyUnavailable as e:
        error, result = e, "postponed"
        outcome = _hand_back(msg, claim, ctx)
    except TransientError as e:
        error = e
        if claim.attempt >= claim.max_attempts:
            result = "failed"
            outcome = _record_failure(msg, claim, e, ctx, dead=True)
        else:
            result = "retry"
            outcome = _record_retry(msg, claim, e, ctx)
    log.info(
        "job.attempt",
        image_id=msg.image_id,
        job_id=msg.job_id,
        job_type=msg.job_type.value,
        attempt=claim.attempt,
        outcome=result,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        error=str(error) if error else None,
        error_kind=error.kind.value if error else None,
    )
    return outcome


# Derivatives load only where they are read (recording a success): the eager loads were
# ~16% of a processor's Python time (py-spy, 1,000-image run), half of it unread.
_LOCK_OPTIONS = (lazyload(Image.derivatives),)


def _lock(session: Session, msg: JobMessage) -> tuple[Image, ProcessingJob] | None:
    """The image row, locked, and the job; None when they are gone or now hold another version.

    The image's lock covers its jobs: every writer of job rows (ingest, the retry routes,
    these handlers) locks the image first, and the jobs are read after the lock is held.
    A lock on the job row as well cost a third statement per transaction, five per image.
    """
    image = session.get(
        Image, msg.image_id, with_for_update=True, populate_existing=True, options=_LOCK_OPTIONS
    )
    if image is None:
        return None
    job = next((j for j in image.jobs if j.id == msg.job_id), None)
    if job is None or job.etag != msg.etag:
        return None
    return image, job


def _claim(msg: JobMessage, ctx: Context) -> _Claim | Outcome:
    now = datetime.now(UTC)
    with ctx.database() as session:
        locked = _lock(session, msg)
        if locked is None:
            log.info("job.stale", job_id=msg.job_id, image_id=msg.image_id)
            return Finished()
        image, job = locked
        if job.status is Status.COMPLETE:
            # A repeated message; make sure the chain went on (the publish may have been lost).
            return Finished(_variant_message_if_due(image, job))
        if job.status is Status.FAILED:
            return Finished()
        if job.status is Status.PROCESSING and job.lease_expires_at and job.lease_expires_at > now:
            # Another worker holds it (or died holding it): look again when the lease ends.
            return RetryLater(delay=(job.lease_expires_at - now).total_seconds() + 1.0)
        # A job still `processing` here is a takeover: its last attempt never ended.
        takeover = job.status is Status.PROCESSING
        first_attempt = job.job_type is JobType.THUMBNAIL and job.attempts == 0
        job.status = Status.PROCESSING
        if not takeover:
            job.attempts += 1
            image.processing_attempts += 1
        job.started_at = now
        job.next_attempt_at = None
        job.lease_expires_at = now + timedelta(seconds=ctx.settings.job_lease_seconds)
        image.last_processing_attempt = now
        sync_image_status(image, now)
        if first_attempt:
            ctx.outbox.append(event_for(image, StatusEventType.STARTED))
        return _Claim(image.bucket, image.key, job.attempts, job.max_attempts, now)


def _fetch(msg: JobMessage, claim: _Claim, ctx: Context) -> bytes:
    data, etag = blobs.read(ctx.s3, claim.bucket, claim.key)
    if etag and etag != msg.etag:
        raise _Superseded
    return data


def _derive_and_store(data: bytes, msg: JobMessage, ctx: Context) -> list[Rendition]:
    renditions = render(
        data, sizes_for(msg.job_type), quality=ctx.settings.jpeg_quality, limits=ctx.limits
    )
    for rendition in renditions:
        key = derivative_key(msg.image_id, rendition.size)
        blobs.write(
            ctx.s3, ctx.settings.derivatives_bucket, key, rendition.data, rendition.content_type
        )
    return renditions


def _make_thumbnails(msg: JobMessage, claim: _Claim, ctx: Context) -> JobMessage | None:
    data = _fetch(msg, claim, ctx)
    digest = hashlib.sha256(data).hexdigest()
    info = probe(data, ctx.limits)
    with ctx.database() as session:
        if _record_metadata(session, msg, claim, digest, info, ctx):
            return None  # a duplicate: the existing derivatives now serve this image too
    renditions = _derive_and_store(data, msg, ctx)
    return _record_success(msg, claim, renditions, ctx)


def _make_variants(msg: JobMessage, claim: _Claim, ctx: Context) -> JobMessage | None:
    renditions = _derive_and_store(_fetch(msg, claim, ctx), msg, ctx)
    return _record_success(msg, claim, renditions, ctx)


def _record_metadata(
    session: Session, msg: JobMessage, claim: _Claim, digest: str, info: ImageInfo, ctx: Context
) -> bool:
    """Store what the bytes say; True when the image duplicates a finished one of the owner."""
    locked = _lock(session, msg)
    if locked is None:
        raise _Superseded
    image, this_job = locked
    image.sha256 = digest
    image.format, image.mime_type = info.format, info.mime_type
    image.width, image.height, image.orientation = info.width, info.height, info.orientation
    image.taken_at = info.taken_at
    image.camera_make, image.camera_model = info.camera_make, info.camera_model
    original = session.scalars(
        select(Image)
        .where(
            Image.owner_id == image.owner_id,
            Image.sha256 == digest,
            Image.id != image.id,
            Image.duplicate_of_id.is_(None),
            Image.processing_status == Status.COMPLETE,
        )
        .order_by(Image.id)
        .limit(1)
    ).first()
    if original is None:
        return False
    now = datetime.now(UTC)
    image.duplicate_of_id = original.id
    for derivative in original.derivatives:
        _upsert_derivative(
            session,
            image,
            derivative.size,
            derivative.bucket,
            derivative.key,
            derivative.width,
            derivative.height,
            derivative.bytes,
        )
    for job in image.jobs:
        _complete(job, now)
    _log_attempt(session, this_job, claim, "complete", None, now)
    sync_image_status(image, now)
    ctx.outbox.append(event_for(image, StatusEventType.COMPLETE))
    log.info("job.duplicate", image_id=image.id, duplicate_of=original.id)
    return True


def _complete(job: ProcessingJob, now: datetime) -> None:
    job.status = Status.COMPLETE
    job.completed_at = now
    job.lease_expires_at = None
    job.error_kind = job.error_message = None


def _upsert_derivative(
    session: Session,
    image: Image,
    size: str,
    bucket: str,
    key: str,
    width: int,
    height: int,
    nbytes: int,
) -> None:
    row = next((d for d in image.derivatives if d.size == size), None)
    if row is None:
        row = Derivative(image_id=image.id, size=size, content_type="image/jpeg")
        session.add(row)
        image.derivatives.append(row)
    row.bucket, row.key = bucket, key
    row.width, row.height, row.bytes = width, height, nbytes


def _log_attempt(
    session: Session,
    job: ProcessingJob,
    claim: _Claim,
    outcome: str,
    error: ProcessingError | None,
    now: datetime,
) -> None:
    session.add(
        JobAttempt(
            job_id=job.id,
            image_id=job.image_id,
            attempt=claim.attempt,
            outcome=outcome,
            error=str(error) if error else None,
            started_at=claim.started_at,
            finished_at=now,
        )
    )


def _record_success(
    msg: JobMessage, claim: _Claim, renditions: list[Rendition], ctx: Context
) -> JobMessage | None:
    now = datetime.now(UTC)
    with ctx.database() as session:
        locked = _lock(session, msg)
        if locked is None:
            raise _Superseded
        image, job = locked
        for r in renditions:
            _upsert_derivative(
                session,
                image,
                r.size,
                ctx.settings.derivatives_bucket,
                derivative_key(image.id, r.size),
                r.width,
                r.height,
                len(r.data),
            )
        _complete(job, now)
        _log_attempt(session, job, claim, "complete", None, now)
        sync_image_status(image, now)
        ctx.outbox.append(
            event_for(
                image,
                StatusEventType.COMPLETE
                if image.processing_status is Status.COMPLETE
                else StatusEventType.THUMBNAIL_COMPLETE,
            )
        )
        return _variant_message_if_due(image, job)


def _variant_message_if_due(image: Image, job: ProcessingJob) -> JobMessage | None:
    if job.job_type is not JobType.THUMBNAIL:
        return None
    variant = next((j for j in image.jobs if j.job_type is JobType.VARIANT), None)
    if variant is None or variant.status is not Status.PENDING:
        return None
    return JobMessage(variant.id, image.id, JobType.VARIANT, variant.etag)


def _record_failure(
    msg: JobMessage, claim: _Claim, error: ProcessingError, ctx: Context, *, dead: bool = False
) -> Finished:
    """Mark the job failed for good; a failed thumbnail job fails the variant job too."""
    now = datetime.now(UTC)
    with ctx.database() as session:
        locked = _lock(session, msg)
        if locked is None:
            return Finished()
        image, job = locked
        for other in image.jobs:
            if other is job or (
                msg.job_type is JobType.THUMBNAIL and other.status is not Status.COMPLETE
            ):
                other.status = Status.FAILED
                other.error_kind = error.kind.value
                other.error_message = str(error)
                other.lease_expires_at = None
                other.completed_at = now
        _log_attempt(session, job, claim, "failed", error, now)
        sync_image_status(image, now)
        ctx.outbox.append(event_for(image, StatusEventType.FAILED))
    return Finished(dead=dead)


def _record_retry(msg: JobMessage, claim: _Claim, error: TransientError, ctx: Context) -> Outcome:
    delay = compute_backoff(claim.attempt, ctx.settings.retry_delays)
    now = datetime.now(UTC)
    with ctx.database() as session:
        locked = _lock(session, msg)
        if locked is None:
            return Finished()
        image, job = locked
        job.status = Status.PENDING
        job.lease_expires_at = None
        job.next_attempt_at = now + timedelta(seconds=delay)
        job.error_kind = error.kind.value
        job.error_message = (
            f"attempt {claim.attempt} of {claim.max_attempts} failed: {error}; "
            f"retrying in {delay:.0f} s"
        )
        sync_image_status(image, now)
        image.processing_error = job.error_message
        _log_attempt(session, job, claim, "retry", error, now)
    return RetryLater(delay=delay)


def _hand_back(msg: JobMessage, claim: _Claim, ctx: Context) -> Outcome:
    """A dependency is down: release the job with its attempt refunded, and wait."""
    now = datetime.now(UTC)
    with ctx.database() as session:
        locked = _lock(session, msg)
        if locked is None:
            return Finished()
        image, job = locked
        if job.status is Status.PROCESSING and job.attempts == claim.attempt:
            job.status = Status.PENDING
            job.attempts -= 1
            image.processing_attempts -= 1
            job.lease_expires_at = None
            sync_image_status(image, now)
    return RetryLater(delay=compute_backoff(1, ctx.settings.retry_delays), unavailable=True)
