"""Writing each original's manifest, and rebuilding the database from the manifests.

``write`` runs once an image is complete (``processor.jobs``): it reads the committed
rows, looks at every derivative in the store (each must be there, and names its own
SHA-256), and writes ``manifest.json`` last. ``rebuild_index`` goes the other way: it
lists the derivatives bucket, and for every manifest whose original is still stored
makes the user, image, job and derivative rows an empty database lacks. A manifest that
is missing, unreadable or names an original that is gone is reported, and the rest go
on. See ``glowworm.manifests`` for the format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy import select

from glowworm.errors import FailureKind, PermanentError
from glowworm.layout import pipeline_version
from glowworm.manifests import (
    MANIFEST_NAME,
    DerivativeEntry,
    Manifest,
    ManifestError,
    OriginalEntry,
    manifest_key,
)
from glowworm.models import Derivative, Image, ProcessingJob, Status, User
from glowworm.sizes import SIZES_BY_NAME, JobType
from processor import blobs
from processor.context import Context
from processor.ingest import user_named

log = structlog.get_logger(__name__)


def write(ctx: Context, image_id: int, renamed: Mapping[str, str] | None = None) -> bool:
    """Write the manifest of a complete image; False (and nothing written) when the image
    is gone, not complete, or one of its derivatives is not in the store. ``renamed``
    lists derivatives by the keys their rows are about to name (old key -> new key).

    Raises ``TransientError`` when storage or the database cannot be reached.
    """
    with ctx.sessions() as session:
        image = session.get(Image, image_id)
        if image is None or image.deleted_at or image.processing_status is not Status.COMPLETE:
            return False
        owner = session.scalars(select(User.name).where(User.id == image.owner_id)).one()
        manifest = _manifest_of(image, owner)
    entries = []
    renamed = renamed or {}
    for entry in manifest.derivatives:
        key = renamed.get(entry.key, entry.key)
        try:
            meta = blobs.metadata(ctx.s3, entry.bucket, key)
        except PermanentError:
            log.warning("manifest.derivative_missing", image_id=image_id, key=key)
            return False
        entries.append(entry.model_copy(update={"key": key, "sha256": meta.get("sha256")}))
    manifest = manifest.model_copy(update={"derivatives": entries})
    bucket, key = manifest.original.bucket, manifest.original.key
    blobs.write(
        ctx.s3,
        ctx.settings.derivatives_bucket,
        manifest_key(bucket, key),
        manifest.to_json(),
        "application/json",
        {"Cache-Control": "no-cache"},  # rewritten when the original changes
    )
    return True


def _manifest_of(image: Image, owner: str) -> Manifest:
    assert image.etag is not None and image.size_bytes is not None and image.sha256
    original = OriginalEntry(
        bucket=image.bucket,
        key=image.key,
        etag=image.etag,
        bytes=image.size_bytes,
        sha256=image.sha256,
        owner=owner,
        width=image.width,
        height=image.height,
        orientation=image.orientation,
        format=image.format,
        mime_type=image.mime_type,
        original_filename=image.original_filename,
        uploaded_at=image.uploaded_at,
        taken_at=image.taken_at,
        camera_make=image.camera_make,
        camera_model=image.camera_model,
    )
    derivatives = [
        DerivativeEntry(
            size=d.size,
            bucket=d.bucket,
            key=d.key,
            format=d.content_type,
            width=d.width,
            height=d.height,
            bytes=d.bytes,
            sha256=None,
        )
        for d in image.derivatives
    ]
    return Manifest(original=original, derivatives=derivatives, pipeline=pipeline_version())


@dataclass
class RebuildReport:
    manifests: int = 0
    restored: int = 0
    already_there: int = 0
    # Manifest key -> why it was not restored.
    problems: dict[str, str] = field(default_factory=dict)


def _manifests(ctx: Context) -> Iterator[str]:
    for key, _, _ in blobs.listing(ctx.s3, ctx.settings.derivatives_bucket):
        if key.rsplit("/", 1)[-1] == MANIFEST_NAME:
            yield key


def rebuild_index(ctx: Context) -> RebuildReport:
    """Make the rows of every image a manifest describes and the database lacks."""
    report = RebuildReport()
    for where in _manifests(ctx):
        report.manifests += 1
        try:
            data, _ = blobs.read(ctx.s3, ctx.settings.derivatives_bucket, where)
            manifest = Manifest.parse(data)
            restored = _restore(ctx, manifest)
        except (ManifestError, PermanentError) as e:
            report.problems[where] = str(e)
            log.warning("rebuild.skipped", manifest=where, error=str(e))
            continue
        if restored:
            report.restored += 1
        else:
            report.already_there += 1
    return report


def _restore(ctx: Context, manifest: Manifest) -> bool:
    """Rows for the manifest's image; False when a row for its key is there already.

    Raises ``PermanentError`` when the original is gone or holds other bytes now (the
    reconciler registers and processes those anew).
    """
    entry = manifest.original
    found = blobs.head(ctx.s3, entry.bucket, entry.key)
    if found.etag != entry.etag:
        raise PermanentError(
            FailureKind.NOT_FOUND,
            f"the original now holds other bytes (ETag {found.etag}, not {entry.etag})",
        )
    with ctx.database() as session:
        exists = session.scalar(
            select(Image.id).where(Image.bucket == entry.bucket, Image.key == entry.key)
        )
        if exists:
            return False
        image = Image(
            owner_id=user_named(session, entry.owner).id,
            **entry.model_dump(exclude={"owner", "bytes"}),
            size_bytes=entry.bytes,
        )
        now = datetime.now(UTC)
        for job_type in JobType:
            image.jobs.append(
                ProcessingJob(
                    job_type=job_type, etag=entry.etag, status=Status.COMPLETE, completed_at=now
                )
            )
        for d in manifest.derivatives:
            if d.size in SIZES_BY_NAME:
                image.derivatives.append(
                    Derivative(
                        size=d.size,
                        bucket=d.bucket,
                        key=d.key,
                        width=d.width,
                        height=d.height,
                        bytes=d.bytes,
                        content_type=d.format,
                    )
                )
        image.processing_status = image.thumbnail_status = image.variant_status = Status.COMPLETE
        image.processing_completed_at = now
        session.add(image)
    return True
