"""Database models: users and their API tokens, images, processing jobs, derivatives.

Postgres holds state (docs/ARCHITECTURE.md rule 1). Every processing step is keyed by
the original's bucket + key + ETag, so a repeated event finds the row it made before.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from glowworm.sizes import JobType


class Status(StrEnum):
    """Life of an image or a job; the same words everywhere (the PRD's four, and one
    more for an image only)."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETE = "complete"
    FAILED = "failed"
    # An upload whose URL expired with nothing stored (``glowworm.lifecycle.expire``).
    EXPIRED = "expired"


def _enum(enum: type[StrEnum], name: str) -> Enum:
    # Stored as short strings with a CHECK constraint: readable in psql, easy to extend.
    return Enum(
        enum,
        name=name,
        native_enum=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
    )


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC.

    Postgres does this by itself; SQLite (the demo) stores naive text, and comparing a
    naive lease with an aware "now" would raise.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    # The user's own storage quota; None: the deployment's (upload_service/quotas.py).
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    quota_images: Mapped[int | None] = mapped_column(Integer)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the token: tokens are 256-bit random, so a plain hash cannot be guessed back.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # A token works until it expires (None: never) or is revoked (glowworm/tokens.py).
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    user: Mapped[User] = relationship(lazy="joined")


class WebSession(Base):
    """A signed-in browser: the page cookie holds the session's secret, never the token.

    It works while its token does and until it expires; signing out deletes it.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the cookie's secret, as for tokens.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("bucket", "key", name="uq_images_bucket_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    bucket: Mapped[str] = mapped_column(String(63))
    key: Mapped[str] = mapped_column(String(1024))
    original_filename: Mapped[str] = mapped_column(String(255))
    # What the client declared; never trusted for decoding.
    declared_content_type: Mapped[str | None] = mapped_column(String(100))
    declared_size: Mapped[int | None] = mapped_column(BigInteger)
    declared_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    # What the store and the processor found.
    etag: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    uploaded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    format: Mapped[str | None] = mapped_column(String(16))
    mime_type: Mapped[str | None] = mapped_column(String(50))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    orientation: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    camera_make: Mapped[str | None] = mapped_column(String(100))
    camera_model: Mapped[str | None] = mapped_column(String(100))
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL")
    )
    processing_status: Mapped[Status] = mapped_column(
        _enum(Status, "image_processing_status"), default=Status.PENDING, index=True
    )
    thumbnail_status: Mapped[Status] = mapped_column(
        _enum(Status, "image_thumbnail_status"), default=Status.PENDING
    )
    variant_status: Mapped[Status] = mapped_column(
        _enum(Status, "image_variant_status"), default=Status.PENDING
    )
    processing_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_processing_attempt: Mapped[datetime | None] = mapped_column(UtcDateTime())
    processing_completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    processing_error: Mapped[str | None] = mapped_column(Text)
    # Until when the upload's URL (or multipart upload) can still store the original;
    # past it, and a grace period, with nothing stored the image is expired.
    upload_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The multipart upload (Uppy's Companion routes) that may store the original: those
    # routes accept no other upload id with this image's key.
    multipart_upload_id: Mapped[str | None] = mapped_column(String(1024))
    # Set when a deletion begins (the API's DELETE, or the original removed with an S3
    # tool): the API no longer shows the image, no job records anything for it, and the
    # row goes once its objects are gone (processor/removal.py).
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=func.now(), onupdate=func.now()
    )

    owner: Mapped[User] = relationship(lazy="raise")
    jobs: Mapped[list[ProcessingJob]] = relationship(
        back_populates="image", lazy="selectin", order_by="ProcessingJob.id"
    )
    derivatives: Mapped[list[Derivative]] = relationship(
        back_populates="image", lazy="selectin", order_by="Derivative.width"
    )


class ProcessingJob(Base):
    __tablename__ = "processing_jobs"
    __table_args__ = (UniqueConstraint("image_id", "job_type", name="uq_jobs_image_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    job_type: Mapped[JobType] = mapped_column(_enum(JobType, "job_type"))
    status: Mapped[Status] = mapped_column(
        _enum(Status, "job_status"), default=Status.PENDING, index=True
    )
    # The ETag of the original this job works on; a message for another ETag is stale.
    etag: Mapped[str] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    # Attempts taken over because their worker died before ending them (a decoder's
    # segfault, the OOM killer): a job that keeps killing workers fails (processor/jobs.py).
    crashes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    # A job in `processing` whose lease has run out belongs to a worker that died.
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    image: Mapped[Image] = relationship(back_populates="jobs", lazy="raise")


class Derivative(Base):
    __tablename__ = "derivatives"
    __table_args__ = (UniqueConstraint("image_id", "size", name="uq_derivatives_image_size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    size: Mapped[str] = mapped_column(String(16))
    bucket: Mapped[str] = mapped_column(String(63))
    key: Mapped[str] = mapped_column(String(1024))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())

    image: Mapped[Image] = relationship(back_populates="derivatives", lazy="raise")


class JobAttempt(Base):
    """One attempt at a job and how it ended: the history behind ``attempts``."""

    __tablename__ = "job_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(
        ForeignKey("processing_jobs.id", ondelete="CASCADE"), index=True
    )
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    # complete, failed, retry (a transient failure with attempts left) or superseded.
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SigningKey(Base):
    """A secret the deployables share through the database, by purpose
    (``glowworm.upload_claims``); made by the migration that added its purpose."""

    __tablename__ = "signing_keys"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())


class PipelineState(Base):
    """A single row: whether an operator paused processing (survives processor restarts)."""

    __tablename__ = "pipeline_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=func.now(), onupdate=func.now()
    )
