"""Settings of the upload_service deployable (``GLOWWORM_*`` variables)."""

from __future__ import annotations

from limits import parse_many
from pydantic import Field, field_validator, model_validator

from glowworm.settings import Settings

# The longest a SigV4 presigned URL may be valid (X-Amz-Expires), 7 days.
MAX_URL_SECONDS = 7 * 24 * 3600


class UploadSettings(Settings):
    # How long a presigned PUT stays valid (default 15 minutes).
    presign_expiry_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    # How long a presigned GET from /file stays valid, at least (see signing_windows).
    download_expiry_seconds: int = Field(default=300, ge=1)
    # Download URLs are signed once per window of this many seconds, so one image and
    # size keep one URL that long and can be cached (see signing_windows).
    download_window_seconds: int = Field(default=900, ge=1)
    # Where the derivatives bucket is served without signatures (a CDN, or the bucket
    # made public); ready derivatives redirect to {this}/{key}. Originals stay signed.
    # Empty (the default): every download URL is signed.
    public_derivatives_url: str = ""
    # Largest original a client may announce.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    # Database connections per API process; also how many requests it serves at once
    # (more wait their turn; see upload_service/admission.py).
    db_pool_size: int = Field(default=20, ge=1, le=200)
    # How long the upload route trusts a token it has looked up; a token revoked or
    # deleted keeps working on that route for at most this long (5 s at most).
    token_cache_seconds: float = Field(default=5.0, ge=0, le=5)
    # A request's whole body must arrive within this many seconds (else 408) and be at
    # most this many bytes (else 413): the API takes only small JSON bodies, and it reads
    # them before a request may wait for a database slot (see upload_service/admission.py).
    body_timeout_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Per-user rate limits, in the notation of the `limits` package ("10/second;600/minute":
    # every one must hold); over one, the API answers 429 with Retry-After. Presigns count
    # every way to get an upload URL (POST /api/uploads and the Companion routes that start
    # an upload); retries count POST /api/images/{id}/retry-processing. Empty: no limit.
    presign_rate_limit: str = "50/second;1000/minute"
    retry_rate_limit: str = "10/second;120/minute"
    # Where the counts live (a `limits` storage URI). "memory://" counts in each API
    # process, so R replicas allow R times the rate; a shared store ("redis://host:6379")
    # needs the `limits` extra for it installed.
    rate_limit_storage: str = "memory://"
    # Status WebSockets one user may hold open on one API process; more are closed with
    # 4429 (upload_service/routes/ws.py).
    max_sockets_per_user: int = Field(default=20, ge=1)

    @field_validator("presign_rate_limit", "retry_rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # raises ValueError naming what it could not read
        return value

    @model_validator(mode="after")
    def _urls_can_be_signed(self) -> UploadSettings:
        """A download URL lives up to window + expiry seconds; SigV4 allows 7 days."""
        if self.download_window_seconds + self.download_expiry_seconds > MAX_URL_SECONDS:
            raise ValueError(
                "download_window_seconds + download_expiry_seconds must be at most "
                f"{MAX_URL_SECONDS} (7 days, the longest a presigned URL is valid)"
            )
        return self
