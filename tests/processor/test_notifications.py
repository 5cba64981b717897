"""Bucket notifications read as MinIO and AWS S3 write them."""

from __future__ import annotations

import json

import pytest

from processor.notifications import MalformedEvent, ObjectCreated, ObjectRemoved, parse


def record(
    event_name: str, key: str, bucket: str = "originals", etag: str = "abc"
) -> dict[str, object]:
    return {
        "eventName": event_name,
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 12, "eTag": etag}},
    }


def test_minio_put_with_encoded_key_is_decoded() -> None:
    body = json.dumps(
        {
            "EventName": "s3:ObjectCreated:Put",
            "Key": "originals/my photos/a b+c.jpg",
            "Records": [record("s3:ObjectCreated:Put", "my+photos%2Fa+b%2Bc.jpg")],
        }
    )
    assert parse(body) == [
        ObjectCreated(
            bucket="originals",
            key="my photos/a b+c.jpg",
            etag="abc",
            size=12,
            event_name="ObjectCreated:Put",
        )
    ]


def test_unicode_key_is_decoded() -> None:
    [event] = parse({"Records": [record("s3:ObjectCreated:Put", "caf%C3%A9+%E2%9C%93.jpg")]})
    assert event.key == "café ✓.jpg"


@pytest.mark.parametrize("name", ["Put", "Post", "Copy", "CompleteMultipartUpload"])
@pytest.mark.parametrize("prefix", ["s3:", ""])
def test_content_events_from_minio_and_aws_are_read(name: str, prefix: str) -> None:
    [event] = parse({"Records": [record(f"{prefix}ObjectCreated:{name}", "k.jpg", etag='"q"')]})
    assert isinstance(event, ObjectCreated)
    assert event.key == "k.jpg"
    assert event.etag == "q"


@pytest.mark.parametrize(
    "name",
    [
        "s3:ObjectCreated:PutTagging",
        "s3:ObjectCreated:DeleteTagging",
        "ObjectCreated:PutRetention",
        "s3:ObjectRestore:Completed",
    ],
)
def test_events_without_new_bytes_are_ignored(name: str) -> None:
    assert parse({"Records": [record(name, "k.jpg")]}) == []


@pytest.mark.parametrize(
    "name",
    ["s3:ObjectRemoved:Delete", "ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated"],
)
def test_a_removal_names_the_key_that_is_gone(name: str) -> None:
    [event] = parse({"Records": [record(name, "caf%C3%A9+1.jpg")]})
    assert event == ObjectRemoved(
        bucket="originals", key="café 1.jpg", event_name=name.removeprefix("s3:")
    )


def test_test_events_and_messages_without_records_are_skipped() -> None:
    assert parse({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "originals"}) == []
    assert parse(b"{}") == []


def test_garbage_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="not JSON"):
        parse(b"\xff not json")
    with pytest.raises(MalformedEvent, match="lacks"):
        parse({"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {}}]})
