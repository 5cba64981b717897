"""Ingest: an object landed in the originals bucket; register it and queue its jobs.

Any object is processed, whoever put it there (docs/ARCHITECTURE.md rule 1): a row made by the
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

from glowworm import lifecycle, upload_claims
from glowworm.errors import FailureKind, PermanentError, TransientError
from glowworm.manifests import manifest_key
from glowworm.models import Image, Status, User
from glowworm.quotas import Quota, over_quota_message, overrun, usage
from glowworm.sizes import JobType
from processor import blobs
from processor.context import Context
from processor.notifications import ObjectCreated
from processor.outcomes import Finished

log = structlog.get_logger(__name__)


def ingest(event: ObjectCreated, ctx: Context, *, again: bool = False) -> Finished:
    """Register the object and its jobs; the thumbnail job to publish, if one is due.

    ``again``: this message was handed to a worker before (redelivered, or sent back
    through a delay queue), so its thumbnail job may be registered and not published.
    Raises ``TransientError`` when storage or the database cannot be reached.
    """
    if event.bucket != ctx.settings.originals_bucket:
        log.info("ingest.skip_other_bucket", bucket=event.bucket, key=event.key)
        return Finished()
    try:
        found = blobs.head(ctx.s3, event.bucket, event.key)
    except PermanentError:
        log.info("ingest.skip_deleted", bucket=event.bucket, key=event.key)
        return Finished()
    with ctx.database() as session:
        image, claimed_by = _find_or_register(session, event, found, ctx)
        if image.deleted_at is not None:
            return _deleted(image, event, ctx)
        if image.etag is None and image.processing_status is Status.FAILED:
            # Refused when it landed (over quota) and removed: a repeated event changes nothing.
            log.info("ingest.refused_before", image_id=image.id, key=image.key)
            return Finished()
        if claimed_by is not None and image.etag is None:
            over = _over_quota(session, image, claimed_by, found, ctx)
            if over is not None:
                return over
        jobs = {job.job_type: job for job in image.jobs}
        if image.etag == found.etag and len(jobs) == len(JobType):
            thumbnail = jobs[JobType.THUMBNAIL]
            log.info("ingest.repeat", image_id=image.id, etag=found.etag)
            # Every upload is announced twice (the API's complete call, then MinIO's
            # event), so a repeat is the rule, and its job is already queued. Only this
            # same message, handed out again, may follow a publish that never happened.
            if again and thumbnail.status is Status.PENDING:
                return Finished(lifecycle.message_for(thumbnail))
            return Finished()
        if image.etag is not None:
            # New bytes: the old set's manifest goes now, so a manifest always means a
            # complete set (the new one's is written once it is).
            blobs.delete(
                ctx.s3, ctx.settings.derivatives_bucket, manifest_key(image.bucket, image.key)
            )
        message, uploaded = lifecycle.start_version(
            image, found.etag, found.size, datetime.now(UTC), max_attempts=ctx.settings.max_attempts
        )
        log.info("ingest.registered", image_id=image.id, key=image.key, etag=found.etag)
        return Finished(message, events=(uploaded,))


def _deleted(image: Image, event: ObjectCreated, ctx: Context) -> Finished:
    """An object landed at the key of an image being deleted (``processor.removal``).

    A never-uploaded image's tombstone refuses it: its owner deleted the upload, and a
    late PUT of it is removed. Otherwise it is a new upload to the same key, taken once
    the purge has removed the old image (raises ``TransientError``, so the event comes
    back later).
    """
    if image.etag is None:
        log.info("ingest.upload_deleted", image_id=image.id, key=event.key)
        blobs.delete(ctx.s3, event.bucket, event.key)
        return Finished()
    raise TransientError(
        FailureKind.INTERNAL, f"image {image.id} at {event.key!r} is still being deleted"
    )


def _over_quota(
    session: Session, image: Image, owner: User, found: blobs.ObjectHead, ctx: Context
) -> Finished | None:
    """A POST-policy upload reserved nothing when its policy was signed: if it does not
    fit its owner's quota now, it is removed and its image fails saying why."""
    quota = Quota.of(ctx.settings, owner.quota_bytes, owner.quota_images)
    if quota.unlimited:
        return None
    why = overrun(quota, usage(session, owner.id, besides=image.id), found.size)
    if why is None:
        return None
    blobs.delete(ctx.s3, image.bucket, image.key)
    image.processing_error = f"{over_quota_message(why)}; the file was removed"
    image.processing_status = image.thumbnail_status = image.variant_status = Status.FAILED
    log.info("ingest.over_quota", image_id=image.id, key=image.key, owner=owner.name)
    return Finished()


def _find_or_register(
    session: Session, event: ObjectCreated, found: blobs.ObjectHead, ctx: Context
) -> tuple[Image, User | None]:
    """The image row for bucket/key, locked, and the user a claim registered it for.

    Made (race-safely) for objects with none: an upload through a POST policy, owned by
    the user its claim names (``glowworm.upload_claims``), or an S3 tool's, owned by the
    default owner (the user is then None, as it is for a row that was there)."""
    query = (
        select(Image)
        .where(Image.bucket == event.bucket, Image.key == event.key)
        .options(lazyload(Image.derivatives))  # ingest never reads them
    )
    image = session.scalars(query.with_for_update()).one_or_none()
    if image is not None:
        return image, None
    claimed = upload_claims.owner_of(
        upload_claims.signing_key(session),
        found.metadata.get(upload_claims.METADATA_NAME),
        event.key,
    )
    claimant = session.get(User, claimed) if claimed is not None else None
    owner = claimant or user_named(session, ctx.settings.default_owner)
    try:
        with session.begin_nested():
            session.add(
                Image(
                    owner_id=owner.id,
                    declared_content_type=found.content_type if claimant else None,
                    bucket=event.bucket,
                    key=event.key,
                    original_filename=posixpath.basename(event.key)[-255:] or event.key[-255:],
                )
            )
    except IntegrityError:
        pass  # another worker registered it first; take theirs
    return session.scalars(query.with_for_update()).one(), claimant


def user_named(session: Session, name: str) -> User:
    """The user called ``name``, made (race-safely) if there is none."""
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
