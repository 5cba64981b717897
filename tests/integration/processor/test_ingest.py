"""Ingest on the real Postgres and MinIO: which announcements of an upload queue its work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glowworm.sizes import JobType
from processor.context import Context
from processor.ingest import ingest
from tests.integration.processor.conftest import put_original

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_a_second_announcement_queues_nothing_unless_it_is_the_same_message_again(
    ctx: Context, s3: S3Client
) -> None:
    event = put_original(ctx, s3, "uploads/1/a/photo.jpg")

    first = ingest(event, ctx).follow_up
    assert first is not None
    assert (first.job_type, first.etag) == (JobType.THUMBNAIL, event.etag)
    # MinIO's event after the API's complete call: the thumbnail job is queued already.
    assert ingest(event, ctx).follow_up is None
    # The same message handed out again: its publish may never have happened.
    assert ingest(event, ctx, again=True).follow_up == first


def test_new_bytes_under_the_same_key_queue_the_same_jobs_for_the_new_version(
    ctx: Context, s3: S3Client
) -> None:
    first = ingest(put_original(ctx, s3, "uploads/1/b/photo.jpg"), ctx).follow_up
    replaced = put_original(ctx, s3, "uploads/1/b/photo.jpg", "pillow-progressive.jpg")
    again = ingest(replaced, ctx).follow_up
    assert first is not None and again is not None
    assert replaced.etag != first.etag
    assert (again.job_id, again.etag) == (first.job_id, replaced.etag)
