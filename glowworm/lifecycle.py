"""How an image's jobs change state: every transition, in one place.

Each image has one thumbnail job and one variant job (``glowworm.sizes.JobType``), each
``pending``, ``processing``, ``complete`` or ``failed``::

                 start_version / reset
                          |
                          v
      +-- retry_later -- pending <-- hand_back --+
      |   (attempt spent)   |      (attempt refunded)
      |                   claim                  |
      |                     v                    |
      +---------------- processing --------------+
                         |      |
                   complete    fail
                         v      v
                   complete    failed   (a failed thumbnail job fails the variant job too)

An image whose upload never stored anything has no jobs; once its URL has expired it
is ``expired`` (``expire``), until an object lands under its key after all
(``start_version``).

Every writer of job rows (ingest, the jobs, the reconciler, the API's retry routes)
changes them only through these functions, holding the image's row lock. Each brings
the image's own statuses in step with its jobs and returns the status event the change
implies, if any, for the caller to publish once its transaction has committed
(docs/ARCHITECTURE.md rule 10). Nothing here talks to the database or the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import object_session

from glowworm.errors import ProcessingError
from glowworm.job_messages import JobMessage
from glowworm.models import Image, ProcessingJob, Status
from glowworm.sizes import JobType
from glowworm.status_events import StatusEvent, StatusEventType, event_for

# The order jobs run in: a reset queues the first, the others follow it.
_ORDER = tuple(JobType)

# How long a multipart upload may take: one still incomplete a day after it began is
# aborted (the originals bucket's lifecycle rule, or the reconciler where the store has
# none), so nothing can be stored under its key after that.
MULTIPART_LIFETIME = timedelta(days=1)
# The longest a presigned URL can live (SigV4): the upload window of a row from before
# ``images.upload_expires_at``.
LONGEST_PRESIGN = timedelta(days=7)


def message_for(job: ProcessingJob) -> JobMessage:
    """The job message that points a worker at ``job`` (flushing a new row for its id)."""
    if job.id is None:
        session = object_session(job)
        assert session is not None, "a new job must be in a session to get its id"
        session.flush()
    return JobMessage(job.id, job.image_id, job.job_type, job.etag)


def start_version(
    image: Image, etag: str, size: int, now: datetime, *, max_attempts: int
) -> tuple[JobMessage, StatusEvent]:
    """A new version of the original (or its first): every job from scratch.

    Makes the job rows the image lacks. Returns the first job's message and "uploaded".
    A declared SHA-256 named the bytes the upload URL stored; new bytes (an overwrite
    with an S3 tool) were never declared, so it goes.
    """
    if image.etag is not None:
        image.declared_sha256 = None
    image.etag = etag
    image.size_bytes = size
    image.uploaded_at = now
    image.processing_error = None
    image.sha256 = None
    image.duplicate_of_id = None
    image.processing_attempts = 0
    jobs = {job.job_type: job for job in image.jobs}
    for job_type in _ORDER:
        job = jobs.get(job_type)
        if job is None:
            job = ProcessingJob(image_id=image.id, job_type=job_type)
            image.jobs.append(job)
        job.etag = etag
        job.max_attempts = max_attempts
    message = reset(image, now, redo_all=True).message
    assert message is not None  # every job was reset
    return message, event_for(image, StatusEventType.UPLOADED)


@dataclass(frozen=True)
class Reset:
    """The jobs a reset put back to pending, in the order they run."""

    job_ids: tuple[int, ...]
    # The first of them, to queue; the others follow it. None when nothing was reset.
    message: JobMessage | None


def reset(image: Image, now: datetime, *, redo_all: bool = False) -> Reset:
    """Put the image's unfinished jobs (or all of them) back to pending, attempts reset."""
    redone = sorted(
        (job for job in image.jobs if redo_all or job.status is not Status.COMPLETE),
        key=lambda job: _ORDER.index(job.job_type),
    )
    for job in redone:
        # Due now: the reconciler counts a pending job as stuck from here, not from its
        # last start, which for a job redone long after it finished is long past.
        _to_pending(job, due=now)
        job.attempts = job.crashes = 0
        job.error_kind = job.error_message = None
        job.started_at = job.completed_at = None
    image.processing_error = None
    if redo_all:
        image.processing_completed_at = None
    sync_image_status(image, now)
    message = message_for(redone[0]) if redone else None
    return Reset(tuple(job.id for job in redone), message)


def claim(image: Image, job: ProcessingJob, now: datetime, lease: timedelta) -> StatusEvent | None:
    """A worker starts an attempt; "started" when it is the image's very first.

    A job still ``processing`` is a takeover of an attempt that never ended (its worker
    died and the lease ran out): it spends no new attempt, and counts as a crash.
    """
    first_attempt = job.job_type is JobType.THUMBNAIL and job.attempts == 0
    if job.status is Status.PROCESSING:
        job.crashes += 1
    else:
        job.attempts += 1
        image.processing_attempts += 1
    job.status = Status.PROCESSING
    job.started_at = now
    job.next_attempt_at = None
    job.lease_expires_at = now + lease
    image.last_processing_attempt = now
    sync_image_status(image, now)
    return event_for(image, StatusEventType.STARTED) if first_attempt else None


def complete(image: Image, job: ProcessingJob, now: datetime) -> StatusEvent:
    """The job's derivatives are stored: "thumbnail complete", or "complete" when all are."""
    _to_complete(job, now)
    sync_image_status(image, now)
    if image.processing_status is Status.COMPLETE:
        return event_for(image, StatusEventType.COMPLETE)
    return event_for(image, StatusEventType.THUMBNAIL_COMPLETE)


def complete_as_duplicate(image: Image, duplicate_of: Image | None, now: datetime) -> StatusEvent:
    """The bytes are those of a finished image of the same owner (None if it was
    deleted since its derivatives were copied): every job is done."""
    image.duplicate_of_id = duplicate_of.id if duplicate_of else None
    for job in image.jobs:
        _to_complete(job, now)
    sync_image_status(image, now)
    return event_for(image, StatusEventType.COMPLETE)


def next_message(image: Image, job: ProcessingJob) -> JobMessage | None:
    """The job that follows a finished ``job``, if it is still waiting to be queued."""
    if job.job_type is not JobType.THUMBNAIL:
        return None
    variant = next((j for j in image.jobs if j.job_type is JobType.VARIANT), None)
    if variant is None or variant.status is not Status.PENDING:
        return None
    return message_for(variant)


def fail(image: Image, job: ProcessingJob, error: ProcessingError, now: datetime) -> StatusEvent:
    """The job failed for good; a failed thumbnail job fails the variant job too."""
    for other in image.jobs:
        if other is job or (
            job.job_type is JobType.THUMBNAIL and other.status is not Status.COMPLETE
        ):
            other.status = Status.FAILED
            other.error_kind = error.kind.value
            other.error_message = str(error)
            other.lease_expires_at = None
            other.completed_at = now
    sync_image_status(image, now)
    return event_for(image, StatusEventType.FAILED)


def retry_later(
    image: Image,
    job: ProcessingJob,
    attempt: int,
    error: ProcessingError,
    now: datetime,
    delay: float,
) -> None:
    """Attempt ``attempt`` failed but may succeed later: pending, due in ``delay`` seconds."""
    _to_pending(job, due=now + timedelta(seconds=delay))
    job.error_kind = error.kind.value
    job.error_message = (
        f"attempt {attempt} of {job.max_attempts} failed: {error}; retrying in {delay:.0f} s"
    )
    sync_image_status(image, now)
    image.processing_error = job.error_message


def hand_back(image: Image, job: ProcessingJob, attempt: int, now: datetime) -> None:
    """A dependency was down during attempt ``attempt``: pending again, the attempt refunded.

    Only the attempt that is still running is handed back; a job a later claim (or a
    reset) took over since is left as it is.
    """
    if job.status is not Status.PROCESSING or job.attempts != attempt:
        return
    _to_pending(job, due=None)
    job.attempts -= 1
    image.processing_attempts -= 1
    sync_image_status(image, now)


def _to_pending(job: ProcessingJob, *, due: datetime | None) -> None:
    job.status = Status.PENDING
    job.lease_expires_at = None
    job.next_attempt_at = due


def _to_complete(job: ProcessingJob, now: datetime) -> None:
    job.status = Status.COMPLETE
    job.completed_at = now
    job.lease_expires_at = None
    job.error_kind = job.error_message = None


def expire(image: Image, usable_until: datetime) -> None:
    """Nothing was stored while the image's upload could store it: it is ``expired``,
    and says why. Only for an image never uploaded (it has no jobs)."""
    assert image.etag is None and not image.jobs, "only an upload that stored nothing expires"
    image.processing_status = Status.EXPIRED
    image.thumbnail_status = image.variant_status = Status.EXPIRED
    image.processing_error = (
        "expired: nothing was uploaded before the upload URL expired at"
        f" {usable_until:%Y-%m-%d %H:%M:%S} UTC; ask for a new upload"
    )


def sync_image_status(image: Image, now: datetime) -> None:
    """Set the image's thumbnail, variant and overall status from its job rows."""
    jobs = {job.job_type: job for job in image.jobs}
    thumbnail, variant = jobs.get(JobType.THUMBNAIL), jobs.get(JobType.VARIANT)
    image.thumbnail_status = thumbnail.status if thumbnail else Status.PENDING
    image.variant_status = variant.status if variant else Status.PENDING
    statuses = {image.thumbnail_status, image.variant_status}
    failed = [job for job in jobs.values() if job.status is Status.FAILED]
    if failed:
        image.processing_status = Status.FAILED
        image.processing_error = failed[0].error_message
    elif statuses == {Status.COMPLETE}:
        image.processing_status = Status.COMPLETE
        image.processing_error = None
        image.processing_completed_at = image.processing_completed_at or now
    elif statuses != {Status.PENDING} or any(job.attempts for job in jobs.values()):
        image.processing_status = Status.PROCESSING
    else:
        image.processing_status = Status.PENDING
