"""The derivatives bucket as an operator sees it: every derivative under its original's
key, one per size, each describing itself in its own metadata (real MinIO and processors).
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from glowworm.layout import CACHE_CONTROL, MAX_KEY_BYTES, derivative_prefix
from glowworm.manifests import MANIFEST_NAME
from glowworm.settings import Settings
from glowworm.sizes import ALL_SIZES
from tests.conftest import CORPUS, Uploader

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PHOTO = (CORPUS / "orientation-portrait-6.jpg").read_bytes()
# Keys MinIO accepts that tools, shells and URLs treat specially. MinIO itself refuses
# ".", ".." and empty segments (glowworm/layout.py escapes them for other S3 servers).
CAFE = "tool uploads/café.jpg"
ODD_KEYS = [
    unicodedata.normalize("NFC", CAFE),
    unicodedata.normalize("NFD", CAFE),  # another key: it must get its own derivatives
    "tool uploads/50% off + more?/#1 ~final~.jpg",
    "tool uploads/%2E%2E/literally.jpg",
    "tool uploads/日本/写真 1.jpg",
    # 1,020 bytes in segments MinIO takes (255 at most): the derived key must be cut.
    "/".join(["tool uploads", *["l" * 250] * 3, "o" * 250 + ".jpg"]),
]
# A derivative's name: size, box, 12 hex digits of content version, extension.
NAME = re.compile(r"(?P<size>[a-z]+)-(?P<box>\d+x\d+)\.(?P<version>[0-9a-f]{12})\.jpg")


def _image_id(client: Any, headers: dict[str, str], key: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = client.get("/api/images", params={"key": key}, headers=headers).json()["items"]
        if items:
            image_id: int = items[0]["id"]
            return image_id
        time.sleep(0.2)
    raise AssertionError(f"no image row for {key!r} after {timeout} s")


def _derivatives(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    """The sizes' objects under ``prefix`` (the manifest beside them is not one)."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    keys = (obj["Key"] for obj in listed.get("Contents", []))
    return sorted(key for key in keys if not key.endswith(f"/{MANIFEST_NAME}"))


def test_each_original_has_its_sizes_under_its_own_key_each_describing_itself(
    uploader: Uploader, make_token: Any, s3: S3Client, settings: Settings, processors: Any
) -> None:
    admin = make_token(admin=True)
    originals, derivatives = settings.originals_bucket, settings.derivatives_bucket
    assert len(ODD_KEYS[-1].encode()) == 1020 <= MAX_KEY_BYTES
    etags = {}
    for n, key in enumerate(ODD_KEYS):
        body = PHOTO + n.to_bytes(2, "big")  # bytes of its own: not a duplicate of another
        etags[key] = s3.put_object(Bucket=originals, Key=key, Body=body)["ETag"].strip('"')
    prefixes = set()
    for n, key in enumerate(ODD_KEYS):
        image_id = _image_id(uploader.client, admin, key)
        assert uploader.wait(admin, image_id)["processing_status"] == "complete"
        detail = uploader.client.get(f"/api/images/{image_id}", headers=admin).json()
        shapes = {d["size"]: (d["width"], d["height"]) for d in detail["derivatives"]}

        prefix = derivative_prefix(originals, key)
        prefixes.add(prefix)
        keys = _derivatives(s3, derivatives, prefix)
        names = [NAME.fullmatch(k.removeprefix(prefix)) for k in keys]
        assert all(names), keys
        assert sorted(m["size"] for m in names if m) == sorted(s.name for s in ALL_SIZES)
        assert all(len(k.encode()) <= MAX_KEY_BYTES for k in keys)
        if n < len(ODD_KEYS) - 1:
            assert prefix == f"{originals}/{key.replace('%', '%25').replace('~', '%7E')}/"
        else:
            assert prefix.startswith(f"{originals}/tool uploads/lll") and "~" in prefix

        sha = hashlib.sha256(PHOTO + n.to_bytes(2, "big")).hexdigest()
        for derived in keys:
            head = s3.head_object(Bucket=derivatives, Key=derived)
            meta = head["Metadata"]
            size = meta["size"]
            assert head["ContentType"] == "image/jpeg"
            assert head["CacheControl"] == CACHE_CONTROL
            assert meta["source-bucket"] == originals
            assert unquote(meta["source-key"]) == key
            assert meta["source-etag"] == etags[key]
            assert meta["source-sha256"] == sha
            assert (int(meta["width"]), int(meta["height"])) == shapes[size]
            assert meta["pipeline"].startswith("glowworm ")
            stored = s3.get_object(Bucket=derivatives, Key=derived)["Body"].read()
            assert meta["sha256"] == hashlib.sha256(stored).hexdigest()
        # The API serves the same objects: its redirect names the derivative's key.
        served = uploader.fetch(admin, image_id, "small")
        assert served.status_code == 200
        small = next(k for k in keys if k.removeprefix(prefix).startswith("small-"))
        assert served.content == s3.get_object(Bucket=derivatives, Key=small)["Body"].read()
    assert len(prefixes) == len(ODD_KEYS)  # NFC and NFD included


def test_new_bytes_under_the_same_key_replace_the_derivatives_under_new_keys(
    uploader: Uploader, make_token: Any, s3: S3Client, settings: Settings, processors: Any
) -> None:
    admin = make_token(admin=True)
    key = f"tool uploads/overwritten {time.time_ns()}.jpg"
    prefix = derivative_prefix(settings.originals_bucket, key)
    # Bytes of its own: a duplicate of another test's upload would share that one's set.
    s3.put_object(Bucket=settings.originals_bucket, Key=key, Body=PHOTO + uuid.uuid4().bytes)
    image_id = _image_id(uploader.client, admin, key)
    assert uploader.wait(admin, image_id)["processing_status"] == "complete"
    first = _derivatives(s3, settings.derivatives_bucket, prefix)
    assert len(first) == len(ALL_SIZES)

    s3.put_object(Bucket=settings.originals_bucket, Key=key, Body=PHOTO + b"\0new")
    # The new set replaces the old: written under new keys, the old removed after.
    deadline = time.monotonic() + 60
    while set(second := _derivatives(s3, settings.derivatives_bucket, prefix)) & set(first):
        assert time.monotonic() < deadline, second
        time.sleep(0.2)
    assert uploader.wait(admin, image_id)["processing_status"] == "complete"
    # One new object per size, each named as the old one but for its version.
    assert [NAME.sub(r"\g<size>", k) for k in second] == [NAME.sub(r"\g<size>", k) for k in first]
    served = uploader.fetch(admin, image_id, "small")
    small = next(k for k in second if k.removeprefix(prefix).startswith("small-"))
    assert (
        served.content
        == s3.get_object(Bucket=settings.derivatives_bucket, Key=small)["Body"].read()
    )
