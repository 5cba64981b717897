"""Removing an image on the real Postgres and MinIO: the original, every derivative and
the row go, whatever order the delete and the image's jobs run in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from kombu import Connection
from minio import Minio
from sqlalchemy import select, update

from glowworm.job_messages import JobMessage
from glowworm.layout import derivative_prefix
from glowworm.manifests import MANIFEST_NAME
from glowworm.models import Derivative, Image
from glowworm.publishing import BrokerPublisher
from glowworm.sizes import ALL_SIZES, JobType
from glowworm.status_events import StatusEventType
from glowworm.topology import Topology
from processor.context import Context
from processor.ingest import ingest
from processor.jobs import run_job
from processor.notifications import ObjectCreated, ObjectRemoved
from processor.outcomes import Finished
from processor.reconciler import reconcile
from processor.removal import remove
from tests.conftest import CORPUS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _put(ctx: Context, s3: S3Client, key: str, name: str = "pillow-gray.jpg") -> ObjectCreated:
    """A corpus file with bytes of its own at ``key`` (no other test's image is a
    duplicate of it: the default owner's images are shared by the whole session)."""
    data = (CORPUS / name).read_bytes() + uuid.uuid4().bytes  # after the JPEG's end
    etag = s3.put_object(Bucket=ctx.settings.originals_bucket, Key=key, Body=data)["ETag"]
    return ObjectCreated(
        ctx.settings.originals_bucket, key, etag.strip('"'), len(data), "ObjectCreated:Put"
    )


def _complete(ctx: Context, event: ObjectCreated) -> int:
    """Ingest and run every job, as processors would; the image's id."""
    job = ingest(event, ctx).follow_up
    assert job is not None
    image_id = job.image_id
    while job is not None:
        outcome = run_job(job, ctx)
        assert isinstance(outcome, Finished), outcome
        job = outcome.follow_up
    return image_id


def _derivatives(ctx: Context, s3: S3Client, key: str) -> list[str]:
    """Everything stored under the original's prefix: its sizes and its manifest."""
    prefix = derivative_prefix(ctx.settings.originals_bucket, key)
    listed = s3.list_objects_v2(Bucket=ctx.settings.derivatives_bucket, Prefix=prefix)
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


def _sizes(ctx: Context, s3: S3Client, key: str) -> list[str]:
    return [k for k in _derivatives(ctx, s3, key) if not k.endswith(f"/{MANIFEST_NAME}")]


def _original_exists(ctx: Context, s3: S3Client, key: str) -> bool:
    listed = s3.list_objects_v2(Bucket=ctx.settings.originals_bucket, Prefix=key)
    return any(obj["Key"] == key for obj in listed.get("Contents", []))


def _row(ctx: Context, image_id: int) -> Image | None:
    with ctx.sessions() as session:
        return session.get(Image, image_id)


def _removed(ctx: Context, key: str) -> ObjectRemoved:
    return ObjectRemoved(ctx.settings.originals_bucket, key, "ObjectRemoved:Delete")


def test_a_tool_delete_removes_every_derivative_and_the_row(ctx: Context, s3: S3Client) -> None:
    key = "alice/2026/beach 1.jpg"
    image_id = _complete(ctx, _put(ctx, s3, key))
    assert len(_sizes(ctx, s3, key)) == len(ALL_SIZES)

    s3.delete_object(Bucket=ctx.settings.originals_bucket, Key=key)  # aws s3 rm
    outcome = remove(_removed(ctx, key), ctx)

    assert [event.type for event in outcome.events] == [StatusEventType.DELETED]
    assert outcome.events[0].image_id == image_id
    assert _derivatives(ctx, s3, key) == []
    assert _row(ctx, image_id) is None
    # The same event again (MinIO's and the API's, or a redelivery) finds nothing to do.
    assert remove(_removed(ctx, key), ctx) == Finished()


def test_an_original_put_back_after_its_delete_is_kept(ctx: Context, s3: S3Client) -> None:
    key = "alice/2026/put back.jpg"
    event = _put(ctx, s3, key)
    image_id = _complete(ctx, event)
    s3.delete_object(Bucket=ctx.settings.originals_bucket, Key=key)
    _put(ctx, s3, key)  # back before the removal event was handled

    assert remove(_removed(ctx, key), ctx) == Finished()
    assert _row(ctx, image_id) is not None
    assert len(_sizes(ctx, s3, key)) == len(ALL_SIZES)


class _DeletesOnFirstWrite:
    """The real store client, which deletes the image (as ``aws s3 rm`` and its event
    would) the moment the job writes its first derivative."""

    def __init__(self, ctx: Context, key: str) -> None:
        self.store, self.ctx, self.key, self.fired = ctx.s3, ctx, key, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def put_object(self, bucket_name: str, object_name: str, *args: Any, **kw: Any) -> Any:
        if not self.fired and bucket_name == self.ctx.settings.derivatives_bucket:
            self.fired = True
            self.store.remove_object(self.ctx.settings.originals_bucket, self.key)
            remove(_removed(self.ctx, self.key), self.ctx)
        return self.store.put_object(bucket_name, object_name, *args, **kw)


def _writing_ctx(ctx: Context, key: str) -> tuple[Context, _DeletesOnFirstWrite]:
    store = _DeletesOnFirstWrite(ctx, key)
    return Context(ctx.settings, ctx.sessions, cast(Minio, store)), store


def test_a_delete_while_the_variant_job_writes_leaves_nothing(ctx: Context, s3: S3Client) -> None:
    key = "alice/2026/deleted mid-job.jpg"
    thumbnails = ingest(_put(ctx, s3, key), ctx).follow_up
    assert thumbnails is not None
    outcome = run_job(thumbnails, ctx)
    assert isinstance(outcome, Finished)
    variants = outcome.follow_up
    assert variants is not None and variants.job_type is JobType.VARIANT

    racing, store = _writing_ctx(ctx, key)
    assert run_job(variants, racing) == Finished()  # its work belongs to nothing now
    assert store.fired

    assert _derivatives(ctx, s3, key) == []
    assert _row(ctx, variants.image_id) is None
    assert not _original_exists(ctx, s3, key)


def test_a_delete_while_the_thumbnail_job_writes_leaves_nothing(ctx: Context, s3: S3Client) -> None:
    key = "alice/2026/deleted before thumbnails.jpg"
    thumbnails = ingest(_put(ctx, s3, key), ctx).follow_up
    assert thumbnails is not None
    racing, store = _writing_ctx(ctx, key)
    assert run_job(thumbnails, racing) == Finished()
    assert store.fired
    assert _derivatives(ctx, s3, key) == []
    assert _row(ctx, thumbnails.image_id) is None


def test_a_duplicate_has_its_own_copies_and_deleting_either_keeps_the_other(
    ctx: Context, s3: S3Client
) -> None:
    first, second = "alice/2026/same.jpg", "alice/2026/same again + café.jpg"
    original = _put(ctx, s3, first)
    first_id = _complete(ctx, original)
    data = s3.get_object(Bucket=original.bucket, Key=first)["Body"].read()
    etag = s3.put_object(Bucket=original.bucket, Key=second, Body=data)["ETag"].strip('"')
    copy_id = _complete(ctx, ObjectCreated(original.bucket, second, etag, len(data), "Put"))

    copy = _row(ctx, copy_id)
    assert copy is not None and copy.duplicate_of_id == first_id
    # Browsable under its own key: every size and a manifest, copies of the first's bytes.
    assert len(_sizes(ctx, s3, second)) == len(ALL_SIZES)
    manifest = derivative_prefix(ctx.settings.originals_bucket, second) + MANIFEST_NAME
    assert manifest in _derivatives(ctx, s3, second)
    with ctx.sessions() as session:
        named = sorted(
            session.scalars(select(Derivative.key).where(Derivative.image_id == copy_id))
        )
    assert named == _sizes(ctx, s3, second)
    bucket = ctx.settings.derivatives_bucket
    for mine, theirs in zip(_sizes(ctx, s3, second), _sizes(ctx, s3, first), strict=True):
        assert mine.rsplit("/", 1)[1] == theirs.rsplit("/", 1)[1]  # same size, same version
        got = s3.get_object(Bucket=bucket, Key=mine)
        assert got["Body"].read() == s3.get_object(Bucket=bucket, Key=theirs)["Body"].read()
        assert unquote(got["Metadata"]["source-key"]) == second
        assert got["Metadata"]["source-etag"] == etag
        assert got["CacheControl"] == "public, max-age=31536000, immutable"

    s3.delete_object(Bucket=ctx.settings.originals_bucket, Key=first)
    remove(_removed(ctx, first), ctx)

    assert _derivatives(ctx, s3, first) == []
    assert _sizes(ctx, s3, second) == named  # the duplicate is whole
    assert _row(ctx, copy_id) is not None

    s3.delete_object(Bucket=ctx.settings.originals_bucket, Key=second)
    remove(_removed(ctx, second), ctx)
    assert _derivatives(ctx, s3, second) == []
    assert _row(ctx, copy_id) is None


def test_new_bytes_replace_the_old_derivatives_once_the_new_are_stored(
    ctx: Context, s3: S3Client
) -> None:
    key = "alice/2026/overwritten.jpg"
    image_id = _complete(ctx, _put(ctx, s3, key))
    old = set(_sizes(ctx, s3, key))
    assert _complete(ctx, _put(ctx, s3, key, "pillow-cmyk.jpg")) == image_id
    new = set(_sizes(ctx, s3, key))
    assert len(new) == len(ALL_SIZES) and not new & old
    with ctx.sessions() as session:
        named = set(session.scalars(select(Derivative.key).where(Derivative.image_id == image_id)))
    assert named == new


def test_the_reconciler_finishes_deletions_and_removes_orphans(ctx: Context, s3: S3Client) -> None:
    key, orphan_of = "alice/2026/half deleted.jpg", "alice/2026/long gone.jpg"
    image_id = _complete(ctx, _put(ctx, s3, key))
    with ctx.database() as session:  # deleted an hour ago; its purge never ran
        session.execute(
            update(Image)
            .where(Image.id == image_id)
            .values(deleted_at=datetime.now(UTC) - timedelta(hours=1))
        )
    orphan = derivative_prefix(ctx.settings.originals_bucket, orphan_of) + "small-150x150.jpg"
    s3.put_object(Bucket=ctx.settings.derivatives_bucket, Key=orphan, Body=b"left by hand")

    with Connection(ctx.settings.amqp_url) as connection:
        publisher = BrokerPublisher(connection.Producer(), Topology.from_settings(ctx.settings))
        report = reconcile(ctx, publisher)

    assert (report.purged, report.swept, report.registered) == (1, 1, 0), report
    assert _row(ctx, image_id) is None
    assert not _original_exists(ctx, s3, key)
    assert _derivatives(ctx, s3, key) == []
    assert _derivatives(ctx, s3, orphan_of) == []


def test_a_job_of_a_deleted_image_records_nothing(ctx: Context, s3: S3Client) -> None:
    key = "alice/2026/deleted before its job.jpg"
    job = ingest(_put(ctx, s3, key), ctx).follow_up
    assert isinstance(job, JobMessage)
    with ctx.database() as session:
        session.execute(
            update(Image).where(Image.id == job.image_id).values(deleted_at=datetime.now(UTC))
        )
    assert run_job(job, ctx) == Finished()
    assert _derivatives(ctx, s3, key) == []
