"""Presigned PUT URLs for the upload route, signed with botocore's SigV4 query signer.

``S3Client.generate_presigned_url`` costs about 1 ms of CPU a call (parameter
validation, serialisation and event hooks made for real requests); the upload route
signs one URL per request, so it calls the signer those hooks end in directly: the
same URL (tests/upload_service/test_presign.py compares them) for a third of the cost.
"""

from __future__ import annotations

from urllib.parse import quote

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

# Characters left unescaped in a key's path, as botocore's own client leaves them.
_KEY_SAFE = "/~"


class PutSigner:
    """Signs path-style PUT URLs bound to one content type and one size."""

    def __init__(self, endpoint: str, region: str, access_key: str, secret_key: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.credentials = ReadOnlyCredentials(access_key, secret_key, None)

    def put_url(
        self, bucket: str, key: str, content_type: str, size: int | None, expires: int
    ) -> str:
        """A URL that accepts one PUT of exactly this Content-Type (and Content-Length,
        when given) until ``expires`` seconds from now; anything else gets a 403."""
        headers = {"Content-Type": content_type}
        if size is not None:
            headers["Content-Length"] = str(size)
        request = AWSRequest(
            method="PUT",
            url=f"{self.endpoint}/{quote(bucket)}/{quote(key, safe=_KEY_SAFE)}",
            headers=headers,
        )
        S3SigV4QueryAuth(self.credentials, "s3", self.region, expires=expires).add_auth(request)
        assert request.url is not None  # add_auth appends the signature; it never clears it
        return request.url
