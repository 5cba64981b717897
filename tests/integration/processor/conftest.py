"""A processor's context of the test's own, on the real Postgres, RabbitMQ and MinIO."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from kombu import Connection

from bench.scratch import empty_and_delete
from glowworm.topology import Topology
from processor.context import Context
from processor.notifications import ObjectCreated
from processor.settings import ProcessorSettings
from tests.conftest import CORPUS
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def ctx(settings: UploadSettings, s3: S3Client) -> Iterator[Context]:
    """The session's database, with an originals bucket and queues of the test's own:
    MinIO sends that bucket no events and no running processor consumes those queues,
    so nothing races the test for its objects or its messages."""
    own_id = uuid.uuid4().hex[:8]
    bucket = f"{settings.originals_bucket[:40]}-{own_id}"
    s3.create_bucket(Bucket=bucket)
    own = ProcessorSettings.model_validate(
        settings.model_dump()
        | {"originals_bucket": bucket, "queue_prefix": f"{settings.queue_prefix}-{own_id}"}
    )
    topology = Topology.from_settings(own)
    with Connection(own.amqp_url) as connection:
        topology.declare(connection)
    with Context.open(own) as context:
        yield context
    with Connection(own.amqp_url) as connection:
        topology.delete(connection)
    empty_and_delete(s3, bucket)


def put_original(
    ctx: Context, s3: S3Client, key: str, name: str = "pillow-gray.jpg"
) -> ObjectCreated:
    """Store a corpus file in the context's originals bucket; the event MinIO would send."""
    data = (CORPUS / name).read_bytes()
    etag = s3.put_object(Bucket=ctx.settings.originals_bucket, Key=key, Body=data)["ETag"]
    return ObjectCreated(
        bucket=ctx.settings.originals_bucket,
        key=key,
        etag=etag.strip('"'),
        size=len(data),
        event_name="s3:ObjectCreated:Put",
    )
