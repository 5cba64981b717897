"""Bucket notifications (MinIO or AWS S3) parsed at the edge into ``ObjectCreated`` and
``ObjectRemoved``.

Read the event as the store writes it (docs/ARCHITECTURE.md rule 4): the key inside
``Records[].s3.object.key`` is URL-encoded with ``+`` for a space, AWS writes event
names without the ``s3:`` prefix, and ``ObjectCreated:*`` also fires for tagging
changes, which carry no new bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

# ObjectCreated sub-events that mean new bytes; PutTagging, DeleteTagging, PutRetention
# and PutLegalHold change metadata only.
CONTENT_EVENTS = frozenset({"Put", "Post", "Copy", "CompleteMultipartUpload"})
# ObjectRemoved sub-events: the object is gone (Delete), or hidden behind a delete marker
# in a versioned bucket (DeleteMarkerCreated). Both end the image.
REMOVAL_EVENTS = frozenset({"Delete", "DeleteMarkerCreated"})


class MalformedEvent(ValueError):
    """The message is not a bucket notification we can read."""


@dataclass(frozen=True)
class ObjectCreated:
    """New bytes at bucket/key; ``etag`` identifies this version of the object."""

    bucket: str
    key: str
    etag: str
    size: int
    event_name: str


@dataclass(frozen=True)
class ObjectRemoved:
    """Nothing is stored at bucket/key any more (as the event's sender saw it)."""

    bucket: str
    key: str
    event_name: str


BucketEvent = ObjectCreated | ObjectRemoved


def parse(body: bytes | str | dict[str, Any]) -> list[BucketEvent]:
    """Every content-creating or removing record in a notification; [] for test and
    tagging events.

    Raises ``MalformedEvent`` for a message that is not JSON or whose records lack
    the bucket or key.
    """
    try:
        message = body if isinstance(body, dict) else json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedEvent(f"notification is not JSON: {e}") from e
    if not isinstance(message, dict):
        raise MalformedEvent("notification is not a JSON object")
    records = message.get("Records")
    if not isinstance(records, list):
        return []  # s3:TestEvent and other messages without records
    return [event for record in records if (event := _parse_record(record)) is not None]


def _parse_record(record: Any) -> BucketEvent | None:
    if not isinstance(record, dict):
        raise MalformedEvent("notification record is not a JSON object")
    name = str(record.get("eventName", "")).removeprefix("s3:")
    kind, _, action = name.partition(":")
    created = kind == "ObjectCreated" and action in CONTENT_EVENTS
    if not created and not (kind == "ObjectRemoved" and action in REMOVAL_EVENTS):
        return None
    try:
        s3 = record["s3"]
        bucket = str(s3["bucket"]["name"])
        obj = s3["object"]
        key = unquote_plus(str(obj["key"]))
    except (KeyError, TypeError) as e:
        raise MalformedEvent(f"notification record lacks {e}") from e
    if not created:
        return ObjectRemoved(bucket=bucket, key=key, event_name=name)
    etag = str(obj.get("eTag") or obj.get("etag") or "").strip('"')
    return ObjectCreated(
        bucket=bucket, key=key, etag=etag, size=int(obj.get("size") or 0), event_name=name
    )
