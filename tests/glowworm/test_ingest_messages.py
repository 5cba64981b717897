"""The ingest messages GlowWorm writes itself read back as the store's own events."""

from __future__ import annotations

from glowworm.ingest_messages import object_created_body, object_removed_body
from processor.notifications import ObjectCreated, ObjectRemoved, parse


def test_body_reads_back_with_the_exact_key_etag_and_size() -> None:
    key = "uploads/7/abc/camera roll + café/50%.jpg"
    body = object_created_body("originals", key, "d41d8cd9-3", 1234, "glowworm:upload-complete")
    assert parse(body) == [
        ObjectCreated(
            bucket="originals",
            key=key,
            etag="d41d8cd9-3",
            size=1234,
            event_name="ObjectCreated:Put",
        )
    ]


def test_a_removal_reads_back_with_the_exact_key() -> None:
    key = "uploads/7/abc/camera roll + café/50%.jpg"
    body = object_removed_body("originals", key, "glowworm:upload-service")
    assert parse(body) == [
        ObjectRemoved(bucket="originals", key=key, event_name="ObjectRemoved:Delete")
    ]
