"""S3 clients for both deployables, and the key layout of both buckets.

``make_s3_client`` makes boto3 clients (the API's, and ``glowworm setup``'s): one talks
to the store from inside (``s3_endpoint``); the other (``public=True``) only signs URLs
for the host that browsers reach (``s3_public_endpoint``), because a SigV4 signature
covers the Host header. The signing itself is the API's: presigned PUTs in
upload_service/presign.py, download redirects in upload_service/routes/images.py, POST
policies and multipart part URLs in upload_service/routes/companion.py.
``make_minio_client`` makes the processor's client: it reads and writes through MinIO's
own, which spends a third to a half of boto3's CPU per call (the figures are in
processor/blobs.py, which also translates its errors).

Keys: an upload through the API lands in the originals bucket at
``uploads/{user_id}/{uuid}/{file name}`` (``original_key``); an object put there by an S3
tool keeps the key it was given. A derivative's key is named by its original's bucket and
key (``glowworm/layout.py``). ``MISSING_OBJECT_CODES`` are the S3 error codes both sides
read as "nothing stored under that key".
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import TYPE_CHECKING

import boto3
import urllib3
from botocore.config import Config
from minio import Minio

from glowworm.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3 error codes that mean nothing is stored under a key (a HEAD answers a bare "404").
MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
# Characters kept in the file-name part of an original's key; others become '_'.
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")
# Longest file name kept in a key (S3 keys may be 1024 bytes; leave room for the prefix).
MAX_NAME_LENGTH = 200


def make_s3_client(settings: Settings, *, public: bool = False) -> S3Client:
    """A path-style SigV4 client for MinIO (or any S3), for the inside or the public endpoint."""
    endpoint = settings.s3_public_endpoint if public else settings.s3_endpoint
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        region_name=settings.s3_region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


def make_minio_client(settings: Settings) -> Minio:
    """A MinIO client for ``s3_endpoint``, with the same timeouts and retries as boto3's."""
    url = urllib3.util.parse_url(settings.s3_endpoint)
    if url.path not in (None, "", "/"):
        raise ValueError(f"s3_endpoint {settings.s3_endpoint!r}: MinIO's client takes no path")
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5, read=30),
        maxsize=4,
        # One retry of a 5xx, then the answer itself (raise_on_status=False), so the
        # caller sees what the store said rather than "no answer".
        retries=urllib3.Retry(
            total=1,
            backoff_factor=0.2,
            status_forcelist=[500, 502, 503, 504],
            raise_on_status=False,
        ),
    )
    return Minio(
        url.netloc or "",
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=url.scheme == "https",
        region=settings.s3_region,
        http_client=http,
    )


def clean_filename(filename: str) -> str:
    """The client's file name made safe for a key: no path parts, no control characters."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip().strip(".")
    return name[-MAX_NAME_LENGTH:]


def original_key(user_id: int, filename: str) -> str:
    """Where an upload through the API lands: readable in S3 tools, unique per upload."""
    return f"uploads/{user_id}/{uuid.uuid4().hex}/{clean_filename(filename)}"
