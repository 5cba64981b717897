"""Erasing everything one user owns, as a photo service must on a deletion request.

``DELETE /api/users/me/images`` (the user) and ``glowworm erase-user NAME`` (an
operator) both start here. Every image of the user, uploads still waiting for their PUT
included (not a POST policy from ``GET /s3/params``, which makes no row: a file sent
through it after the erasure is a new image), is soft-deleted in one transaction, so
all of them leave every route at once; each is then purged as one deleted image is
(``processor/removal.py``): the original, every derivative, the manifest, then the row
with its jobs and history.

The receipt names each image and each object it had. A derivative that a row of an
image not erased also names (a duplicate from before duplicates had copies of their
own) is kept, and the receipt leaves it out. API tokens belong to the account, not to the
images, and are kept; there are no webhooks or share links that name an image.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from glowworm.manifests import manifest_key
from glowworm.models import Derivative, Image, User


class StoredObject(BaseModel):
    bucket: str
    key: str


class ErasedImage(BaseModel):
    id: int
    bucket: str
    key: str
    # The original (if it was ever uploaded), its derivatives and its manifest.
    objects: list[StoredObject]


class ErasureReceipt(BaseModel):
    user: str
    requested_at: datetime
    # "erasing": gone from every route, objects being removed by the processors;
    # "erased": every object listed is gone from the store.
    status: Literal["erasing", "erased"]
    images: list[ErasedImage]


def mark_erased(
    session: Session, user: User, derivatives_bucket: str, now: datetime
) -> list[ErasedImage]:
    """Soft-delete every image of ``user`` (those already being deleted too) and list
    what each had. The caller commits; until then the rows are locked."""
    images = session.scalars(
        select(Image)
        .where(Image.owner_id == user.id)
        .order_by(Image.id)
        .options(selectinload(Image.derivatives))
        .with_for_update()
    ).all()
    # Subqueries, not lists of values: an account of any size fits in one statement.
    theirs = select(Image.id).where(Image.owner_id == user.id)
    shared = set(
        session.scalars(
            select(Derivative.key).where(
                Derivative.bucket == derivatives_bucket,
                Derivative.key.in_(select(Derivative.key).where(Derivative.image_id.in_(theirs))),
                Derivative.image_id.not_in(theirs),
            )
        )
    )
    erased = []
    for image in images:
        image.deleted_at = image.deleted_at or now
        objects = [StoredObject(bucket=image.bucket, key=image.key)] if image.etag else []
        objects += [
            StoredObject(bucket=d.bucket, key=d.key)
            for d in image.derivatives
            if d.key not in shared
        ]
        if image.derivatives:  # a manifest was written once its set was complete
            objects.append(
                StoredObject(bucket=derivatives_bucket, key=manifest_key(image.bucket, image.key))
            )
        erased.append(ErasedImage(id=image.id, bucket=image.bucket, key=image.key, objects=objects))
    return erased
