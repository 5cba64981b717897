"""Database rows turned into API bodies, with the links a client follows."""

from __future__ import annotations

from glowworm.models import Image, JobAttempt, ProcessingJob, Status
from glowworm.sizes import ALL_SIZES, SMALL, file_link
from upload_service.schemas import (
    AttemptOut,
    DerivativeOut,
    ExifSummary,
    ImageOut,
    JobOut,
    ProcessingStatus,
    StatusSummary,
)


def thumbnail_url(image: Image) -> str | None:
    if image.thumbnail_status is not Status.COMPLETE:
        return None
    return file_link(image.id, SMALL.name)


def status_summary(image: Image) -> StatusSummary:
    return StatusSummary(
        id=image.id,
        processing_status=image.processing_status,
        thumbnail_status=image.thumbnail_status,
        variant_status=image.variant_status,
        thumbnail_url=thumbnail_url(image),
    )


def pending_summary(image_id: int) -> StatusSummary:
    """The summary of an image just registered: nothing done yet. (An ORM Image made
    only to be summarised costs the upload route more than the summary.)"""
    return StatusSummary(
        id=image_id,
        processing_status=Status.PENDING,
        thumbnail_status=Status.PENDING,
        variant_status=Status.PENDING,
        thumbnail_url=None,
    )


def job_out(job: ProcessingJob, history: list[JobAttempt] | None = None) -> JobOut:
    return JobOut(
        id=job.id,
        image_id=job.image_id,
        job_type=job.job_type.value,
        status=job.status,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        error_kind=job.error_kind,
        error_message=job.error_message,
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        next_attempt_at=job.next_attempt_at,
        history=[
            AttemptOut(
                attempt=a.attempt,
                outcome=a.outcome,
                error=a.error,
                started_at=a.started_at,
                finished_at=a.finished_at,
            )
            for a in history or []
            if a.job_id == job.id
        ],
    )


def processing_status(image: Image, history: list[JobAttempt] | None = None) -> ProcessingStatus:
    return ProcessingStatus(
        image_id=image.id,
        processing_status=image.processing_status,
        thumbnail_status=image.thumbnail_status,
        variant_status=image.variant_status,
        processing_attempts=image.processing_attempts,
        last_processing_attempt=image.last_processing_attempt,
        processing_completed_at=image.processing_completed_at,
        processing_error=image.processing_error,
        thumbnail_url=thumbnail_url(image),
        jobs=[job_out(job, history) for job in image.jobs],
    )


def image_out(image: Image, owner_name: str) -> ImageOut:
    return ImageOut(
        id=image.id,
        key=image.key,
        bucket=image.bucket,
        filename=image.original_filename,
        owner=owner_name,
        format=image.format,
        mime_type=image.mime_type,
        width=image.width,
        height=image.height,
        size_bytes=image.size_bytes,
        sha256=image.sha256,
        etag=image.etag,
        duplicate_of=image.duplicate_of_id,
        exif=ExifSummary(
            taken_at=image.taken_at,
            camera_make=image.camera_make,
            camera_model=image.camera_model,
            orientation=image.orientation,
        ),
        processing_status=image.processing_status,
        thumbnail_status=image.thumbnail_status,
        variant_status=image.variant_status,
        processing_attempts=image.processing_attempts,
        processing_error=image.processing_error,
        created_at=image.created_at,
        uploaded_at=image.uploaded_at,
        processing_completed_at=image.processing_completed_at,
        urls={
            "original": file_link(image.id, "original"),
            **{spec.name: file_link(image.id, spec.name) for spec in ALL_SIZES},
        },
        derivatives=[
            DerivativeOut(
                size=d.size,
                width=d.width,
                height=d.height,
                bytes=d.bytes,
                url=file_link(image.id, d.size),
            )
            for d in image.derivatives
        ],
    )
