"""Ingest on the real Postgres and MinIO: which announcements of an upload queue its work."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from glowworm.db import make_engine, make_session_factory
from glowworm.sizes import JobType
from glowworm.storage import make_minio_client
from processor.context import Context
from processor.ingest import ingest
from processor.notifications import ObjectCreated
from processor.settings import ProcessorSettings
from tests.conftest import CORPUS
from tests.scratch import empty_and_delete
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


@pytest.fixture
def ctx(settings: UploadSettings, s3: S3Client) -> Iterator[Context]:
    """A processor's context on an originals bucket of its own: MinIO sends it no events,
    so no running processor races the test for its objects."""
    bucket = f"{settings.originals_bucket[:40]}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    own = ProcessorSettings.model_validate(settings.model_dump() | {"originals_bucket": bucket})
    engine = make_engine(own.database_url)
    yield Context(own, make_session_factory(engine), make_minio_client(own))
    engine.dispose()
    empty_and_delete(s3, bucket)


def _put(ctx: Context, s3: S3Client, key: str, name: str = "pillow-gray.jpg") -> ObjectCreated:
    data = (CORPUS / name).read_bytes()
    etag = s3.put_object(Bucket=ctx.settings.originals_bucket, Key=key, Body=data)["ETag"]
    return ObjectCreated(
        bucket=ctx.settings.originals_bucket,
        key=key,
        etag=etag.strip('"'),
        size=len(data),
        event_name="s3:ObjectCreated:Put",
    )


def test_a_second_announcement_queues_nothing_unless_it_is_the_same_message_again(
    ctx: Context, s3: S3Client
) -> None:
    event = _put(ctx, s3, "uploads/1/a/photo.jpg")

    first = ingest(event, ctx)
    assert first is not None
    assert (first.job_type, first.etag) == (JobType.THUMBNAIL, event.etag)
    # MinIO's event after the API's complete call: the thumbnail job is queued already.
    assert ingest(event, ctx) is None
    # The same message handed out again: its publish may never have happened.
    assert ingest(event, ctx, redelivered=True) == first


def test_new_bytes_under_the_same_key_queue_the_same_jobs_for_the_new_version(
    ctx: Context, s3: S3Client
) -> None:
    first = ingest(_put(ctx, s3, "uploads/1/b/photo.jpg"), ctx)
    replaced = _put(ctx, s3, "uploads/1/b/photo.jpg", "pillow-progressive.jpg")
    again = ingest(replaced, ctx)
    assert first is not None and again is not None
    assert replaced.etag != first.etag
    assert (again.job_id, again.etag) == (first.job_id, replaced.etag)
