"""Settings shared by every GlowWorm deployable, read from ``GLOWWORM_*`` variables.

Each deployable builds its own settings object once, in ``main()`` or the app factory,
and passes it down; nothing reads the environment at import time.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Connection and naming settings that both services need."""

    model_config = SettingsConfigDict(env_prefix="GLOWWORM_", extra="ignore")

    database_url: str = "postgresql+psycopg://glowworm:glowworm@127.0.0.1:5432/glowworm"
    amqp_url: str = "amqp://glowworm:glowworm@127.0.0.1:5672//"
    s3_endpoint: str = "http://127.0.0.1:9000"
    # The S3 host that browsers and other clients reach; presigned URLs are signed for it.
    s3_public_endpoint: str = "http://127.0.0.1:9000"
    s3_access_key: str = "glowworm"
    s3_secret_key: str = "glowworm-secret"  # noqa: S105 - the local services' default
    s3_region: str = "us-east-1"
    originals_bucket: str = "originals"
    derivatives_bucket: str = "derivatives"
    # MinIO's ARN for the AMQP target named "glowworm" (MINIO_NOTIFY_AMQP_*_glowworm:
    # MinIO keeps the suffix's case, and ARNs are compared case-sensitively).
    s3_notify_arn: str = "arn:minio:sqs::glowworm:amqp"
    # Exchange MinIO publishes bucket events to; declared with MinIO's own flags.
    events_exchange: str = "glowworm.s3-events"
    # Prefix of every queue and exchange the project declares (lets test runs stay apart).
    queue_prefix: str = "glowworm"
    # Owner of objects that arrive through S3 tools rather than the upload API.
    default_owner: str = "s3-import"
    jpeg_quality: int = Field(default=85, ge=1, le=95)
    log_level: str = "INFO"
