"""Reading originals and writing derivatives, with S3 errors translated where they enter.

A missing original is permanent (there is nothing to process). A store that answers
with an error is transient; a store that does not answer at all is unavailable, which
spends no attempt and opens the circuit breaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from glowworm.storage import MISSING_OBJECT_CODES
from processor.errors import DependencyUnavailable, FailureKind, PermanentError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3 error codes that mean the object (or its bucket) is not there.
_MISSING = MISSING_OBJECT_CODES | {"NoSuchBucket"}


@dataclass(frozen=True)
class ObjectHead:
    etag: str
    size: int
    content_type: str | None


def _translate(e: Exception, what: str, *, reading: bool) -> Exception:
    if isinstance(e, ClientError):
        code = str(e.response.get("Error", {}).get("Code", ""))
        if reading and code in _MISSING:
            return PermanentError(FailureKind.NOT_FOUND, f"{what}: the object no longer exists")
        return TransientError(FailureKind.STORAGE, f"{what}: storage answered {code}")
    return DependencyUnavailable(FailureKind.STORAGE, f"{what}: storage unreachable ({e})")


def head(s3: S3Client, bucket: str, key: str) -> ObjectHead:
    """Size, ETag and stored content type of an object."""
    try:
        answer = s3.head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as e:
        raise _translate(e, f"reading s3://{bucket}/{key}", reading=True) from e
    return ObjectHead(
        etag=str(answer.get("ETag", "")).strip('"'),
        size=int(answer.get("ContentLength", 0)),
        content_type=answer.get("ContentType"),
    )


def read(s3: S3Client, bucket: str, key: str) -> tuple[bytes, str]:
    """The object's bytes and the ETag of the version read."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
        data = answer["Body"].read()
    except (ClientError, BotoCoreError) as e:
        raise _translate(e, f"reading s3://{bucket}/{key}", reading=True) from e
    return data, str(answer.get("ETag", "")).strip('"')


def write(s3: S3Client, bucket: str, key: str, data: bytes, content_type: str) -> None:
    """Store a derivative; rewriting the same key replaces it, so redoing a job is safe."""
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
        )
    except (ClientError, BotoCoreError) as e:
        raise _translate(e, f"writing s3://{bucket}/{key}", reading=False) from e
