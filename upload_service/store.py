"""What the API asks of the object store, with S3 errors translated where they enter.

The API never moves an image's bytes: it asks whether an upload has landed (``head``)
and runs Uppy's multipart uploads (create, list the parts, complete, abort). Signing,
which needs no answer from the store, is ``presign``'s.

Each failure leaves as one of the ``StoreError`` kinds below, and ``outages`` turns
each into the client's answer, so no route handles botocore's errors. No answer at all
(refused, timed out, dropped) is ``StoreUnavailable``, a ``DependencyUnavailable`` like
the database's and the broker's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from glowworm.errors import DependencyUnavailable, FailureKind
from glowworm.storage import MISSING_OBJECT_CODES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, PartTypeDef

# S3 error codes for a multipart upload that is not there (never begun, completed, aborted).
_NO_UPLOAD = frozenset({"NoSuchUpload"})
# S3 error codes for a completion whose part list does not match the parts uploaded.
_PARTS_MISMATCH = frozenset({"InvalidPart", "InvalidPartOrder"})


class StoreError(Exception):
    """The store did not do what was asked; ``str(error)`` says why, in the client's words.

    Those words never quote botocore or the store (their messages name operations,
    hosts and buckets behind the API); what they said goes to the log, as ``cause``.
    """

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause


class ObjectMissing(StoreError):
    """Nothing is stored under the key: the client's PUT has not landed (yet)."""


class UploadMissing(StoreError):
    """No multipart upload has that id under that key (never begun, completed or aborted)."""


class PartsMismatch(StoreError):
    """A completion's part list names a part that was not uploaded, or is out of order."""


class StoreRefused(StoreError):
    """The store answered with an error nobody can mend by asking differently."""


class StoreUnavailable(StoreError, DependencyUnavailable):
    """The store did not answer: refused, timed out, or the connection dropped."""

    def __init__(self, message: str, cause: str = "") -> None:
        DependencyUnavailable.__init__(self, FailureKind.STORAGE, message)
        self.cause = cause


@dataclass(frozen=True)
class StoredObject:
    etag: str
    size: int


@dataclass(frozen=True)
class Part:
    """One uploaded part of a multipart upload."""

    number: int
    etag: str
    size: int
    last_modified: datetime | None


def _translate(e: ClientError | BotoCoreError, bucket: str, key: str) -> StoreError:
    if isinstance(e, BotoCoreError):  # no connection, a timeout, an unreadable answer
        return StoreUnavailable("the object store could not be reached", cause=str(e))
    code = str(e.response.get("Error", {}).get("Code"))
    if code in MISSING_OBJECT_CODES:
        return ObjectMissing(f"no object at {key!r} in {bucket!r}", cause=str(e))
    if code in _NO_UPLOAD:
        return UploadMissing("no such multipart upload", cause=str(e))
    if code in _PARTS_MISMATCH:
        return PartsMismatch(
            f"the parts do not match the uploaded ones ({code}): list every uploaded part, "
            "in order, with the ETag its upload answered",
            cause=str(e),
        )
    return StoreRefused(f"the object store refused the request ({code})", cause=str(e))


def head(s3: S3Client, bucket: str, key: str) -> StoredObject:
    """ETag and size of the object under ``key``; ``ObjectMissing`` if there is none."""
    try:
        found = s3.head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as e:
        raise _translate(e, bucket, key) from e
    return StoredObject(etag=str(found.get("ETag", "")).strip('"'), size=found["ContentLength"])


def create_multipart(s3: S3Client, bucket: str, key: str, content_type: str) -> str:
    """Begin a multipart upload of ``key``; its upload id."""
    try:
        created = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)
    except (ClientError, BotoCoreError) as e:
        raise _translate(e, bucket, key) from e
    return created["UploadId"]


def parts(s3: S3Client, bucket: str, key: str, upload_id: str) -> list[Part]:
    """Every part uploaded so far, in order, across S3's pages of 1000."""
    found: list[PartTypeDef] = []
    marker = 0
    try:
        while True:
            page = s3.list_parts(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
            )
            found.extend(page.get("Parts", []))
            if not page.get("IsTruncated"):
                break
            marker = page["NextPartNumberMarker"]
    except (ClientError, BotoCoreError) as e:
        raise _translate(e, bucket, key) from e
    return [
        Part(part["PartNumber"], part["ETag"], part.get("Size", 0), part.get("LastModified"))
        for part in found
    ]


def complete_multipart(
    s3: S3Client, bucket: str, key: str, upload_id: str, listed: Iterable[tuple[int, str]]
) -> str:
    """Join the parts ``listed`` as (part number, ETag) into the object; its ETag."""
    ordered: list[CompletedPartTypeDef] = [
        {"PartNumber": number, "ETag": etag} for number, etag in sorted(listed)
    ]
    try:
        completed = s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": ordered}
        )
    except (ClientError, BotoCoreError) as e:
        raise _translate(e, bucket, key) from e
    return str(completed.get("ETag", "")).strip('"')


def abort_multipart(s3: S3Client, bucket: str, key: str, upload_id: str) -> None:
    """Drop a multipart upload and its parts."""
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except (ClientError, BotoCoreError) as e:
        raise _translate(e, bucket, key) from e


# Keys per DeleteObjects request: the most S3 takes.
DELETE_BATCH = 1000


def delete_many(s3: S3Client, bucket: str, keys: list[str]) -> None:
    """Remove every object under ``keys``, a thousand per request; those already gone
    are no error. Raises ``StoreUnavailable`` or ``StoreRefused`` naming a key that
    could not be removed."""
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        try:
            answer = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
        except (ClientError, BotoCoreError) as e:
            raise _translate(e, bucket, batch[0]) from e
        if errors := answer.get("Errors"):
            first = errors[0]
            raise StoreRefused(
                f"the object store refused to remove {len(errors)} object(s)",
                cause=f"{first.get('Key')!r} ({first.get('Code')}: {first.get('Message')})"
                + (f" and {len(errors) - 1} more" if len(errors) > 1 else ""),
            )


def delete(s3: S3Client, bucket: str, key: str) -> None:
    """Remove the object under ``key``; one already gone is no error (S3 answers the same)."""
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as e:
        raise _translate(e, bucket, key) from e
