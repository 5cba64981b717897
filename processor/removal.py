"""Removal: an original is gone (or its owner deleted the image); so is everything else.

An image ends in two steps (docs/ARCHITECTURE.md, "Deleting an image"):

1. **Soft delete.** ``images.deleted_at`` is set and committed: the API stops showing
   the image and no job records work for it any more (``processor.jobs``).
2. **Purge.** The original, every derivative under its prefix and every derivative its
   rows name are removed from the store, then the row itself (its jobs, derivative rows
   and attempt history go with it, by cascade).

Both are started by an ``ObjectRemoved`` event, whether MinIO sent it (``aws s3 rm``,
``mc rm``, ``rclone delete``) or the API queued it (``DELETE /api/images/{id}``); the
reconciler starts the purge of any soft-deleted row that is still there, so a purge cut
short by a store or database outage is finished later. Each step can run again: an
object already gone is no error, a row already purged leaves only a sweep of the prefix.

A derivative another image's row names is kept (duplicates have copies of their own,
but a duplicate from before that named its first copy's keys may still share them).
An image that was never uploaded (a presign that was never PUT) stays as a tombstone
until its presign can no longer be used, so a late PUT to its key is removed instead of
being registered as a new image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from glowworm.erasure import ErasureReceipt, mark_erased
from glowworm.errors import PermanentError
from glowworm.layout import derivative_prefix
from glowworm.models import Derivative, Image, User
from glowworm.status_events import StatusEvent, StatusEventType, event_for
from processor import blobs
from processor.context import Context
from processor.notifications import ObjectRemoved
from processor.outcomes import Finished

log = structlog.get_logger(__name__)

# How long a never-uploaded image's tombstone is kept: the longest a presigned PUT can
# live (SigV4 allows 7 days), and a day more.
TOMBSTONE_LIFETIME = timedelta(days=8)


def remove(event: ObjectRemoved, ctx: Context) -> Finished:
    """Handle a removal event: purge the image of bucket/key, unless the key holds an
    object again (put back after the delete; its own event registers it).

    Raises ``TransientError`` when storage or the database cannot be reached.
    """
    if event.bucket != ctx.settings.originals_bucket:
        return Finished()
    with ctx.database() as session:
        image = _locked(session, event.bucket, event.key)
        if image is not None and image.deleted_at is None:
            if blobs.exists(ctx.s3, event.bucket, event.key):
                log.info("removal.put_back", bucket=event.bucket, key=event.key)
                return Finished()
            image.deleted_at = datetime.now(UTC)
    return purge(ctx, event.bucket, event.key)


def purge(ctx: Context, bucket: str, key: str) -> Finished:
    """Remove the original, its derivatives and the (soft-deleted) row of bucket/key.

    Does nothing to a row that is not soft-deleted. Raises ``TransientError`` when
    storage or the database cannot be reached; what was removed stays removed.
    """
    with ctx.database() as session:
        image = _locked(session, bucket, key)
        if image is not None and image.deleted_at is None:
            return Finished()
        named = {d.key for d in image.derivatives} if image else set()
        image_id, known = (image.id, image.etag) if image else (None, None)
    if image_id is not None:
        # The original first: while it is there, the reconciler would register it again.
        _delete_original(ctx, bucket, key, known)
    prefix = derivative_prefix(bucket, key)
    listed = {
        found
        for found, _, _ in blobs.listing(ctx.s3, ctx.settings.derivatives_bucket, prefix)
        if "/" not in found[len(prefix) :]  # not a derivative of "key/..."
    }
    removed = discard(ctx, named | listed, keep_for=image_id)
    with ctx.database() as session:
        image = _locked(session, bucket, key)
        if image is None or image.deleted_at is None:
            # Purged by another worker, or registered again by a new upload meanwhile.
            return Finished()
        if image.etag is None and image.deleted_at > datetime.now(UTC) - TOMBSTONE_LIFETIME:
            log.info("removal.tombstone", image_id=image.id, key=key)
            return Finished()
        event = event_for(image, StatusEventType.DELETED)
        # In SQL: the database's cascades take the jobs, derivative rows and history.
        session.execute(delete(Image).where(Image.id == image.id))
    log.info("removal.purged", image_id=event.image_id, key=key, derivatives=removed)
    return Finished(events=(event,))


def erase(
    ctx: Context, user_name: str, announce: Callable[[StatusEvent], None]
) -> ErasureReceipt | None:
    """Erase every image of the user called ``user_name`` now (``glowworm.erasure``),
    passing each purge's status events to ``announce``; None if there is no such user.

    The receipt says "erased" once every object it lists is gone from the store
    ("erasing" if new bytes were put under an original's key meanwhile: that is a new
    upload). A presign never PUT leaves no object, only its tombstone row. Raises
    ``TransientError`` when storage or the database cannot be reached; the images stay
    deleted and the reconciler finishes them.
    """
    now = datetime.now(UTC)
    with ctx.database() as session:
        user = session.scalars(select(User).where(User.name == user_name)).one_or_none()
        if user is None:
            return None
        erased = mark_erased(session, user, ctx.settings.derivatives_bucket, now)
    for image in erased:
        for event in purge(ctx, image.bucket, image.key).events:
            announce(event)
    left = any(blobs.exists(ctx.s3, o.bucket, o.key) for image in erased for o in image.objects)
    return ErasureReceipt(
        user=user_name, requested_at=now, status="erasing" if left else "erased", images=erased
    )


def discard(ctx: Context, keys: Iterable[str], *, keep_for: int | None = None) -> int:
    """Remove these derivative keys, except those a row of an image other than
    ``keep_for`` names. Returns how many were removed."""
    keys = set(keys)
    if not keys:
        return 0
    bucket = ctx.settings.derivatives_bucket
    with ctx.database() as session:
        query = select(Derivative.key).where(Derivative.bucket == bucket, Derivative.key.in_(keys))
        if keep_for is not None:
            query = query.where(Derivative.image_id != keep_for)
        keys -= set(session.scalars(query))
    for key in sorted(keys):
        blobs.delete(ctx.s3, bucket, key)
    return len(keys)


def _delete_original(ctx: Context, bucket: str, key: str, known: str | None) -> None:
    """Remove the version of the original the row knew (any, for a never-uploaded one);
    other bytes put there since are a new upload, which its own event registers."""
    try:
        found = blobs.head(ctx.s3, bucket, key)
    except PermanentError:
        return  # already gone
    if known is None or found.etag == known:
        blobs.delete(ctx.s3, bucket, key)


def _locked(session: Session, bucket: str, key: str) -> Image | None:
    return session.scalars(
        select(Image)
        .where(Image.bucket == bucket, Image.key == key)
        .options(selectinload(Image.derivatives))
        .with_for_update()
    ).one_or_none()
