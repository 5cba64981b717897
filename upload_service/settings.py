"""Settings of the upload_service deployable (``GLOWWORM_*`` variables)."""

from __future__ import annotations

from pydantic import Field

from glowworm.settings import Settings


class UploadSettings(Settings):
    # How long a presigned PUT stays valid (default 15 minutes).
    presign_expiry_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    # How long a presigned GET from /file stays valid.
    download_expiry_seconds: int = Field(default=300, ge=1)
    # Largest original a client may announce.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    # Database connections per API process; also how many requests it serves at once
    # (more wait their turn; see upload_service/admission.py).
    db_pool_size: int = Field(default=20, ge=1, le=200)
    # How long the upload route trusts a token it has looked up; a token deleted from
    # the database keeps working on that route for at most this long.
    token_cache_seconds: float = Field(default=30.0, ge=0)
