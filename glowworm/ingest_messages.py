"""The body of an ingest message: an S3-shaped ObjectCreated or ObjectRemoved notification.

MinIO's bucket events are the usual ingest messages. GlowWorm writes the same shape
itself when it learns of an object sooner or otherwise (the API when a client says its
upload finished, the reconciler when an event was lost), so the ingest consumers read
one format whoever sent it.
"""

from __future__ import annotations

import json
from urllib.parse import quote_plus


def object_created_body(bucket: str, key: str, etag: str, size: int, source: str) -> str:
    """A one-record notification for an object, as MinIO would write it.

    ``source`` goes into ``eventSource`` (MinIO writes ``minio:s3``), so a message read
    off the queue says who sent it.
    """
    record = {
        "eventName": "ObjectCreated:Put",
        "eventSource": source,
        "s3": {
            "bucket": {"name": bucket},
            # URL-encoded like MinIO's own records (docs/ARCHITECTURE.md rule 4).
            "object": {"key": quote_plus(key), "eTag": etag, "size": size},
        },
    }
    return json.dumps({"Records": [record]})


def object_removed_body(bucket: str, key: str, source: str) -> str:
    """A one-record notification that the object is gone, as MinIO would write it."""
    record = {
        "eventName": "ObjectRemoved:Delete",
        "eventSource": source,
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key)}},
    }
    return json.dumps({"Records": [record]})
