"""Request and response bodies of the HTTP API (pydantic; the database models live apart)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from glowworm.models import Status

# Content types a client may announce for an original (the processor still sniffs the bytes).
IMAGE_CONTENT_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/tiff",
        "image/bmp",
        "image/heic",
        "image/heif",
        "image/avif",
        "image/mpo",
    }
)


class ErrorOut(BaseModel):
    """Every refusal's body: what went wrong, in words a person can act on; for a
    malformed request (422), the fields at fault, as FastAPI lists them."""

    detail: str | list[dict[str, Any]]


# What each refusal means wherever it is answered; a route says more where it can.
_REFUSALS = {
    401: "no token, or one unknown, expired or revoked",
    403: "not allowed: an admin route, or over the caller's storage quota",
    404: "no such image or upload of the caller's",
    408: "the request body did not arrive within the time allowed",
    409: "the image or upload is not in a state that allows this",
    410: "the upload expired with nothing stored",
    413: "too large: the request body, or the file announced",
    415: "not an image content type that is accepted",
    422: "malformed: a parameter or field, or a file name or size that cannot be used",
    429: "too many requests of this kind; wait Retry-After seconds",
    502: "the object store refused the request",
    503: "a service the API needs is down; try again after Retry-After seconds",
}


def refusals(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these refusals (``ErrorOut`` bodies); ``described``
    gives a route's own words for a code, as ``_409="..."``."""
    words = {int(name.lstrip("_")): text for name, text in described.items()}
    return {
        code: {"model": ErrorOut, "description": words.get(code, _REFUSALS[code])}
        for code in sorted({*codes, *words})
    }


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "unchanged since the ETag sent in If-None-Match (no body)"}
}


class UploadRequest(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str
    size: int = Field(gt=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


class UploadInstructions(BaseModel):
    method: str
    url: str
    headers: dict[str, str]


class StatusSummary(BaseModel):
    id: int
    processing_status: Status
    thumbnail_status: Status
    variant_status: Status
    thumbnail_url: str | None


class UploadResponse(BaseModel):
    id: int
    key: str
    bucket: str
    expires_at: datetime
    upload: UploadInstructions
    background_processing: bool = True
    data: StatusSummary


class UploadCompleted(BaseModel):
    """``POST /api/uploads/{id}/complete``: the version found in storage, and the status."""

    id: int
    etag: str
    # False when the image was already registered with this version: nothing was queued.
    queued: bool
    data: StatusSummary


class DuplicateResponse(BaseModel):
    duplicate_of: int
    upload: None = None
    background_processing: bool = False
    data: StatusSummary


class ExifSummary(BaseModel):
    taken_at: datetime | None
    camera_make: str | None
    camera_model: str | None
    orientation: int | None


class DerivativeOut(BaseModel):
    size: str
    width: int
    height: int
    bytes: int
    url: str


class AttemptOut(BaseModel):
    attempt: int
    outcome: str
    error: str | None
    started_at: datetime
    finished_at: datetime


class JobOut(BaseModel):
    id: int
    image_id: int
    job_type: str
    status: Status
    attempts: int
    max_attempts: int
    error_kind: str | None
    error_message: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    next_attempt_at: datetime | None
    history: list[AttemptOut] = []


class ProcessingStatus(BaseModel):
    image_id: int
    processing_status: Status
    thumbnail_status: Status
    variant_status: Status
    processing_attempts: int
    last_processing_attempt: datetime | None
    processing_completed_at: datetime | None
    processing_error: str | None
    thumbnail_url: str | None
    jobs: list[JobOut]


class ImageOut(BaseModel):
    id: int
    key: str
    bucket: str
    filename: str
    owner: str
    format: str | None
    mime_type: str | None
    width: int | None
    height: int | None
    size_bytes: int | None
    sha256: str | None
    etag: str | None
    duplicate_of: int | None
    exif: ExifSummary
    processing_status: Status
    thumbnail_status: Status
    variant_status: Status
    processing_attempts: int
    processing_error: str | None
    created_at: datetime
    uploaded_at: datetime | None
    processing_completed_at: datetime | None
    urls: dict[str, str]
    derivatives: list[DerivativeOut]


class ImagePage(BaseModel):
    items: list[ImageOut]
    total: int
    limit: int
    offset: int


class RetryResponse(BaseModel):
    image_id: int
    retried_jobs: list[int]
    status: ProcessingStatus


class DeleteAccepted(BaseModel):
    id: int
    # "deleting": gone from every route; its files and row are being removed.
    status: Literal["deleting"]


class QueueDepth(BaseModel):
    name: str
    messages: int | None
    consumers: int | None


class ProcessingQueue(BaseModel):
    paused: bool
    queue_size: int
    processing_count: int
    failed_count: int
    oldest_job_age_seconds: float | None
    jobs: list[JobOut]
    total_jobs: int
    limit: int
    offset: int
    queues: list[QueueDepth]


class SessionOut(BaseModel):
    """Who the token belongs to; answered when a page signs in."""

    user: str
    admin: bool


class QuotaOut(BaseModel):
    """A user's storage quota and what counts against it (null: unlimited)."""

    bytes: int | None
    images: int | None
    bytes_used: int
    images_used: int


class LimitsOut(BaseModel):
    """The per-user rate limits, as "N per M unit" (every one must hold)."""

    upload_urls: list[str]
    retries: list[str]
    sockets_per_process: int


class MeOut(BaseModel):
    id: int
    user: str
    admin: bool
    quota: QuotaOut
    limits: LimitsOut


# Uppy Companion's S3 routes. Field names follow Companion's JSON (camelCase, and S3's
# PascalCase for parts) because Uppy's AwsS3 plugin reads them by those names.


class CompanionUploadParameters(BaseModel):
    """``GET /s3/params``: an S3 POST policy (Uppy 6 posts ``fields`` + the file to ``url``)."""

    method: str = "POST"
    url: str
    fields: dict[str, str]
    expires: int


class CompanionCreateMultipart(BaseModel):
    """``POST /s3/multipart``. The file's size is required, as ``size`` or as
    ``metadata.size`` (Uppy: ``addFile({..., meta: {size: file.size}})``): every part is
    signed with its own length, so the upload cannot grow past it."""

    filename: str = Field(min_length=1, max_length=255)
    type: str = ""
    size: int | None = Field(default=None, ge=1)
    metadata: dict[str, object] = Field(default_factory=dict)

    def declared_size(self) -> int | None:
        """``size``, else ``metadata.size`` (a number, or digits in a string)."""
        if self.size is not None:
            return self.size
        value = self.metadata.get("size")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if isinstance(value, str) and value.isdigit() and int(value) >= 1:
            return int(value)
        return None


class CompanionMultipartCreated(BaseModel):
    key: str
    upload_id: str = Field(alias="uploadId")
    bucket: str


class CompanionPart(BaseModel):
    part_number: int = Field(alias="PartNumber", ge=1, le=10000)
    etag: str = Field(alias="ETag", min_length=1)
    size: int | None = Field(default=None, alias="Size")
    last_modified: datetime | None = Field(default=None, alias="LastModified")


class CompanionSignedPart(BaseModel):
    url: str
    expires: int


class CompanionSignedParts(BaseModel):
    presigned_urls: dict[str, str] = Field(alias="presignedUrls")


class CompanionComplete(BaseModel):
    parts: list[CompanionPart] = Field(min_length=1)


class CompanionCompleted(BaseModel):
    location: str
    key: str
    bucket: str
