"""An image's statuses follow from its jobs; these functions keep them in step."""

from __future__ import annotations

from datetime import datetime

from glowworm.models import Image, ProcessingJob, Status
from glowworm.sizes import JobType


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


def reset_jobs(image: Image, now: datetime, *, redo_all: bool = False) -> list[ProcessingJob]:
    """Put the image's unfinished jobs (or all of them) back to pending, attempts reset.

    Returns them thumbnail first: only the first needs queueing, the rest follow it.
    """
    retried = [job for job in image.jobs if redo_all or job.status is not Status.COMPLETE]
    for job in retried:
        job.status = Status.PENDING
        job.attempts = 0
        job.error_kind = job.error_message = None
        job.lease_expires_at = job.completed_at = None
        # Due now: the reconciler counts a pending job as stuck from here, not from its
        # last start, which for a job redone long after it finished is long past.
        job.next_attempt_at = now
    image.processing_error = None
    if redo_all:
        image.processing_completed_at = None
    sync_image_status(image, now)
    return retried
