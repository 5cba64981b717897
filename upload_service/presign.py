"""Presigned URLs and POST policies: how a client reaches the store without the API.

Signing happens here, with no request to the store, so nothing here waits on it or
raises its errors (``store`` talks to it). The URLs are signed for the public endpoint
(``Resources.signer``), since a SigV4 signature covers the Host header.

``S3Client.generate_presigned_url`` costs about 1 ms of CPU a call (parameter
validation, serialisation and event hooks made for real requests); the upload route
signs one URL per request, so ``PutSigner`` calls the signer those hooks end in
directly: the same URL (tests/upload_service/test_presign.py compares them) for a third
of the cost. The rarer URLs go through the client.

``GetSigner`` calls it directly too, for another reason: the client always signs "now",
and a download URL is signed as of the start of its window (``signing_windows``), so
that one image and size get byte-identical URLs a browser or a proxy can cache.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Characters left unescaped in a key's path, as botocore's own client leaves them.
_KEY_SAFE = "/~"


@dataclass(frozen=True)
class SignedPut:
    """A presigned PUT: its URL, and the headers the client must send with it (the
    signature covers them; the client's HTTP library adds Content-Length itself)."""

    url: str
    headers: dict[str, str]


class PutSigner:
    """Signs path-style PUT URLs bound to their content type and size: whole objects,
    and the parts of multipart uploads."""

    def __init__(self, endpoint: str, region: str, access_key: str, secret_key: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.credentials = ReadOnlyCredentials(access_key, secret_key, None)

    def put_url(
        self,
        bucket: str,
        key: str,
        content_type: str,
        size: int | None,
        expires: int,
        *,
        sha256: str | None = None,
    ) -> SignedPut:
        """One PUT of a new object at ``key``, of exactly this Content-Type (and
        Content-Length, when given), until ``expires`` seconds from now.

        ``If-None-Match: *`` is signed in, so the URL stores an object once: a second
        PUT through it gets 412 and replaces nothing. With ``sha256`` (hex) the checksum
        is signed in too (``x-amz-checksum-sha256``): the store refuses other bytes (400
        XAmzContentChecksumMismatch). Anything else the client changes gets a 403.
        """
        headers = {"Content-Type": content_type, "If-None-Match": "*"}
        if sha256 is not None:
            headers["x-amz-checksum-sha256"] = base64.b64encode(bytes.fromhex(sha256)).decode()
        signed = dict(headers)
        if size is not None:
            signed["Content-Length"] = str(size)
        return SignedPut(self._signed(bucket, key, signed, "", expires), headers)

    def part_url(
        self, bucket: str, key: str, upload_id: str, part_number: int, size: int, expires: int
    ) -> str:
        """A URL that PUTs part ``part_number`` of a multipart upload, of exactly ``size``
        bytes (the Content-Length is signed), until ``expires`` seconds from now."""
        query = urlencode({"uploadId": upload_id, "partNumber": part_number})
        return self._signed(bucket, key, {"Content-Length": str(size)}, query, expires)

    def _signed(
        self, bucket: str, key: str, headers: dict[str, str], query: str, expires: int
    ) -> str:
        url = f"{self.endpoint}/{quote(bucket)}/{quote(key, safe=_KEY_SAFE)}"
        request = AWSRequest(method="PUT", url=f"{url}?{query}" if query else url, headers=headers)
        S3SigV4QueryAuth(self.credentials, "s3", self.region, expires=expires).add_auth(request)
        assert request.url is not None  # add_auth appends the signature; it never clears it
        return request.url


class _SignedAt(S3SigV4QueryAuth):
    """botocore's presigned-URL signer, signing as of a given time instead of now.

    ``add_auth`` stamps the request with the clock and then calls this hook before it
    reads the stamp, so the stamp set here is the one the URL carries and is signed with.
    """

    def __init__(
        self, credentials: ReadOnlyCredentials, region: str, signed_at: datetime, expires: int
    ) -> None:
        super().__init__(credentials, "s3", region, expires=expires)
        self.signed_at = signed_at

    def _modify_request_before_signing(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self.signed_at.astimezone(UTC).strftime(SIGV4_TIMESTAMP)
        # A hook the stubs leave out; tests/upload_service/test_presign.py checks the URL.
        super()._modify_request_before_signing(request)  # type: ignore[misc]


class GetSigner:
    """Signs path-style GET URLs as of a given time: the same time gives the same URL."""

    def __init__(self, endpoint: str, region: str, access_key: str, secret_key: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.credentials = ReadOnlyCredentials(access_key, secret_key, None)

    def get_url(self, bucket: str, key: str, signed_at: datetime, expires: int) -> str:
        """A URL that GETs the object until ``expires`` seconds after ``signed_at`` (an
        aware datetime); the store refuses it (403) after that."""
        request = AWSRequest(
            method="GET", url=f"{self.endpoint}/{quote(bucket)}/{quote(key, safe=_KEY_SAFE)}"
        )
        _SignedAt(self.credentials, self.region, signed_at, expires).add_auth(request)
        assert request.url is not None  # add_auth appends the signature; it never clears it
        return request.url


def unsigned_url(base: str, key: str) -> str:
    """The URL of ``key`` under a base that serves a bucket without signatures, the key
    escaped as in a signed URL."""
    return f"{base.rstrip('/')}/{quote(key, safe=_KEY_SAFE)}"


def post_policy(
    signer: S3Client,
    bucket: str,
    key: str,
    content_type: str,
    max_bytes: int,
    expires: int,
    metadata: dict[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """The URL and form fields of one POST of ``key``, bound to this Content-Type, at
    most ``max_bytes`` and exactly this user ``metadata`` (``x-amz-meta-{name}``), until
    ``expires`` seconds from now; the store answers 201."""
    meta = {f"x-amz-meta-{name}": value for name, value in (metadata or {}).items()}
    post = signer.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"success_action_status": "201", "Content-Type": content_type, **meta},
        Conditions=[
            # The exact key, always: for a key ending in "${filename}" botocore would
            # otherwise allow any key that starts like it.
            {"key": key},
            {"success_action_status": "201"},
            {"Content-Type": content_type},
            ["content-length-range", 1, max_bytes],
            *({name: value} for name, value in meta.items()),
        ],
        ExpiresIn=expires,
    )
    return post["url"], post["fields"]
