"""``glowworm migrate-layout``: derivatives stored in the first layout,
``{image id}/{size}.jpg``, moved under their original's prefix (``glowworm.layout``),
each with its headers, and a manifest beside them.

One image at a time, in steps any kill leaves resumable:

1. Each derivative a row names under an old key is read and written under its new key
   with its headers (writing the same key again is harmless).
2. The manifest is written, naming the new keys (every object it lists is stored).
3. The rows are pointed at the new keys in one transaction, under the image's lock; an
   image deleted or given new bytes meanwhile is left alone and what step 1 wrote for it
   removed.
4. The old objects are removed.

A run after a kill finds the images whose rows still name old keys and starts them
over (steps 1 and 2 write the same keys again); the last step removes every
old-layout object no row names (those of a run killed between steps 3 and 4, or of an
image deleted since). Running it again finds nothing to do. Processors may keep
running: they write only the new layout, and the image's lock orders step 3 against
their jobs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from glowworm.errors import PermanentError
from glowworm.layout import DerivativeName, derivative_headers, derivative_prefix
from glowworm.models import Derivative, Image, Status
from glowworm.sizes import SIZES_BY_NAME
from processor import blobs, manifests
from processor.context import Context
from processor.removal import discard

log = structlog.get_logger(__name__)

# A key of the first layout: the image's id, then the size's name.
OLD_KEY = re.compile(r"^(?P<image_id>\d+)/(?P<size>[a-z]+)\.(?:jpg|png|webp|avif)$")


@dataclass
class MigrationReport:
    # Images whose derivatives were moved, and the objects moved.
    images: int = 0
    objects: int = 0
    # Old-layout objects no row named, removed at the end.
    leftovers: int = 0
    # Images left as they were, with the reason (deleted or replaced meanwhile, an
    # object missing).
    skipped: dict[int, str] = field(default_factory=dict)
    # Images moved whose manifest could not be written (a derivative missing).
    unlisted: list[int] = field(default_factory=list)


def pending(ctx: Context) -> list[int]:
    """The ids of the images some row of which still names an old-layout key."""
    with ctx.sessions() as session:
        rows = session.execute(
            select(Derivative.image_id, Derivative.key).where(
                Derivative.bucket == ctx.settings.derivatives_bucket
            )
        )
        return sorted({image_id for image_id, key in rows if OLD_KEY.match(key)})


def migrate(
    ctx: Context, image_ids: Iterable[int], advance: Callable[[int], object] = lambda _: None
) -> MigrationReport:
    """Move these images (``pending``'s) to the new layout, calling ``advance(1)`` after
    each, then remove the old-layout objects no row names. Raises ``TransientError``
    when storage or the database cannot be reached; what is done stays done."""
    report = MigrationReport()
    for image_id in image_ids:
        try:
            moved = migrate_image(ctx, image_id)
        except PermanentError as e:  # an original or an old object is gone
            moved = str(e)
        if isinstance(moved, str):
            report.skipped[image_id] = moved
        else:
            count, listed = moved
            report.images += 1
            report.objects += count
            if not listed:
                report.unlisted.append(image_id)
        advance(1)
    report.leftovers = _remove_leftovers(ctx)
    return report


def migrate_image(ctx: Context, image_id: int) -> tuple[int, bool] | str:
    """Steps 1-4 for one image: the number of objects moved and whether its manifest
    was written (or there is none to write), or why it was left. Raises
    ``PermanentError`` when its original or an old object is missing."""
    bucket = ctx.settings.derivatives_bucket
    with ctx.sessions() as session:
        image = session.get(Image, image_id, options=(selectinload(Image.derivatives),))
        if image is None or image.deleted_at is not None:
            return "deleted"
        old = [(d.size, d.key, d.content_type, d.width, d.height) for d in image.derivatives]
        old = [entry for entry in old if OLD_KEY.match(entry[1])]
        original, etag, digest = (image.bucket, image.key), image.etag, image.sha256
        complete = image.processing_status is Status.COMPLETE
    if etag is None:
        return "never uploaded"
    if digest is None:  # processed before the SHA-256 was kept: read the original once
        data, _ = blobs.read(ctx.s3, *original)
        digest = hashlib.sha256(data).hexdigest()
        with ctx.database() as session:  # the manifest names it
            session.execute(
                update(Image)
                .where(Image.id == image_id, Image.etag == etag, Image.sha256.is_(None))
                .values(sha256=digest)
            )
    written: dict[str, str] = {}  # old key -> new key
    for size, key, content_type, width, height in old:
        # Render version 0: these bytes were made by an earlier renderer, so a key of
        # today's would promise what they are not (and a re-render must not reuse it).
        name = DerivativeName(
            *original, digest, SIZES_BY_NAME[size], content_type, ctx.settings.jpeg_quality, 0
        )
        data, _ = blobs.read(ctx.s3, bucket, key)
        headers = derivative_headers(name, etag, width, height, hashlib.sha256(data).hexdigest())
        blobs.write(ctx.s3, bucket, name.key_in_derivatives, data, content_type, headers)
        written[key] = name.key_in_derivatives
    listed = not complete or manifests.write(ctx, image_id, renamed=written)
    with ctx.database() as session:
        image = session.get(
            Image, image_id, with_for_update=True, options=(selectinload(Image.derivatives),)
        )
        if image is None or image.deleted_at is not None or image.etag != etag:
            left = "deleted" if image is None or image.deleted_at else "replaced"
        else:
            left = None
            for row in image.derivatives:
                row.key = written.get(row.key, row.key)
    if left is not None:
        discard(ctx, written.values())
        return left
    discard(ctx, written)  # the old keys: no row names them now
    log.info(
        "migrate.image",
        image_id=image_id,
        prefix=derivative_prefix(*original),
        objects=len(written),
    )
    return len(written), listed


def _remove_leftovers(ctx: Context) -> int:
    """Remove the old-layout objects that no row names."""
    listed = blobs.listing(ctx.s3, ctx.settings.derivatives_bucket)
    old = (key for key, _, _ in listed if OLD_KEY.match(key))
    removed = 0
    while page := list(islice(old, 1000)):
        removed += discard(ctx, page)
    return removed
