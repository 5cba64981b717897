"""The whole life of an image on real MinIO, RabbitMQ and Postgres.

Presigned PUT with a plain HTTP client -> MinIO bucket notification -> RabbitMQ ->
two processor processes -> derivatives in MinIO and statuses in Postgres -> the API.
"""

from __future__ import annotations

import io
import json
import mimetypes
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from kombu import Connection
from PIL import Image, ImageChops, ImageOps, ImageStat
from pillow_heif import register_heif_opener

from glowworm.layout import derivative_prefix
from glowworm.manifests import MANIFEST_NAME
from glowworm.settings import Settings
from glowworm.sizes import ALL_SIZES
from tests.conftest import CORPUS, Uploader, running_processors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

register_heif_opener()

# Files Pillow (with pillow-heif) cannot or must not read, and a word their error must name.
UNREADABLE = {
    "empty.jpg": "empty",
    "fake.jpg": "not a recognised image",
    "image.svg": "svg is a vector format",
    "pillow-bomb.gif": "decompression bomb",
    "pillow-bomb.ico": "decompression bomb",
    "bomb-30000x30000.png": "decompression bomb",
    "pillow-truncated.jpg": "truncated",
}
READABLE = sorted(
    p.name for p in CORPUS.iterdir() if p.suffix != ".md" and p.name not in UNREADABLE
)
# The API refuses these content types and sizes, so S3 tools are how such files arrive.
VIA_S3_TOOL = {"empty.jpg", "image.svg", "pillow-bomb.ico"}
CONTENT_TYPES = {
    ".heic": "image/heic",
    ".mpo": "image/mpo",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
}


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def upright_size(path: Path) -> tuple[int, int]:
    """The picture's size as a person sees it, computed with plain Pillow."""
    with Image.open(path) as im:
        transposed = ImageOps.exif_transpose(im)
        return transposed.size


def fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    scale = min(box[0] / w, box[1] / h, 1.0)
    return max(1, round(w * scale)), max(1, round(h * scale))


@pytest.fixture(scope="module")
def corpus_run(
    uploader: Uploader,
    make_token: Any,
    s3: S3Client,
    settings: Settings,
    processor_env: dict[str, str],
    processor_logs: Path,
) -> dict[str, Any]:
    """Upload the whole corpus at once, then wait for every image to settle (processors
    of its own run meanwhile, and stop once all have)."""
    with running_processors(processor_env, settings, processor_logs, "corpus_run"):
        return _run_corpus(uploader, make_token, s3, settings)


def _run_corpus(
    uploader: Uploader, make_token: Any, s3: S3Client, settings: Settings
) -> dict[str, Any]:
    headers = make_token()
    ids: dict[str, int] = {}
    for name in sorted(p.name for p in CORPUS.iterdir() if p.suffix != ".md"):
        data = (CORPUS / name).read_bytes()
        if name in VIA_S3_TOOL:
            continue
        ids[name] = uploader.upload(headers, data, name, content_type(name))["id"]
    admin = make_token(admin=True)
    for name in VIA_S3_TOOL:
        key = f"tools/{name}"
        s3.put_object(Bucket=settings.originals_bucket, Key=key, Body=(CORPUS / name).read_bytes())
        ids[name] = _wait_for_row(uploader.client, admin, key, timeout=120)
    started = time.monotonic()
    statuses = {}
    for name, image_id in ids.items():
        statuses[name] = uploader.wait(admin, image_id, timeout=120)
    print(f"corpus: {len(ids)} images settled in {time.monotonic() - started:.1f} s")
    return {"headers": headers, "admin": admin, "ids": ids, "statuses": statuses}


def _wait_for_row(
    client: TestClient, headers: dict[str, str], key: str, timeout: float = 30
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = client.get("/api/images", params={"key": key}, headers=headers).json()["items"]
        if items:
            image_id: int = items[0]["id"]
            return image_id
        time.sleep(0.2)
    raise AssertionError(f"no image row for {key!r} after {timeout} s")


def _derivative(
    uploader: Uploader, headers: dict[str, str], image_id: int, size: str
) -> Image.Image:
    answer = uploader.fetch(headers, image_id, size)
    assert answer.status_code == 200
    image = Image.open(io.BytesIO(answer.content))
    image.load()
    return image


@pytest.mark.parametrize("name", READABLE)
def test_readable_corpus_file_gets_all_five_derivatives(
    name: str, corpus_run: dict[str, Any], uploader: Uploader
) -> None:
    status = corpus_run["statuses"][name]
    assert status["processing_status"] == "complete", status
    assert status["thumbnail_status"] == status["variant_status"] == "complete"
    assert status["processing_completed_at"] is not None
    headers = corpus_run["headers"]
    image_id = corpus_run["ids"][name]
    upright = upright_size(CORPUS / name)
    detail = uploader.client.get(f"/api/images/{image_id}", headers=headers).json()
    assert (detail["width"], detail["height"]) == upright
    for spec in ALL_SIZES:
        out = _derivative(uploader, headers, image_id, spec.name)
        want = fit(upright, spec.box_for(*upright))
        assert out.format == "JPEG"
        assert out.mode == "RGB"
        assert abs(out.width - want[0]) <= 1 and abs(out.height - want[1]) <= 1, (
            spec.name,
            out.size,
            want,
        )
        assert max(out.size) <= max(spec.width, spec.height)
        exif = out.getexif()
        assert len(exif) == 0, f"{spec.name} still carries EXIF: {dict(exif)}"
        assert "exif" not in out.info and "xmp" not in out.info


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("shape", ["landscape", "portrait"])
def test_orientation_files_come_out_upright(
    shape: str, orientation: int, corpus_run: dict[str, Any], uploader: Uploader
) -> None:
    headers = corpus_run["headers"]
    image = _derivative(
        uploader, headers, corpus_run["ids"][f"orientation-{shape}-{orientation}.jpg"], "large"
    )
    reference = _derivative(
        uploader, headers, corpus_run["ids"][f"orientation-{shape}-1.jpg"], "large"
    )
    assert (image.width > image.height) == (shape == "landscape")
    assert image.size == reference.size
    difference = ImageStat.Stat(ImageChops.difference(image, reference)).mean
    # Same scene upright: only JPEG noise differs. A mirrored or turned copy differs by 40+.
    assert max(difference) < 12, difference


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_file_fails_clearly_and_keeps_the_original(
    name: str, corpus_run: dict[str, Any], uploader: Uploader, s3: S3Client, settings: Settings
) -> None:
    status = corpus_run["statuses"][name]
    admin = corpus_run["admin"]
    image_id = corpus_run["ids"][name]
    assert status["processing_status"] == "failed"
    assert status["thumbnail_status"] == "failed"
    assert UNREADABLE[name] in (status["processing_error"] or "").lower(), status[
        "processing_error"
    ]
    assert status["processing_attempts"] == 1, "a permanent failure must spend no retries"
    assert [job["attempts"] for job in status["jobs"]] == [1, 0]
    detail = uploader.client.get(f"/api/images/{image_id}", headers=admin).json()
    stored = s3.get_object(Bucket=settings.originals_bucket, Key=detail["key"])["Body"].read()
    assert stored == (CORPUS / name).read_bytes()
    for size in ("original", "small"):
        served = uploader.fetch(admin, image_id, size)
        assert served.status_code == 200
        assert served.content == stored


def test_s3_tool_upload_with_odd_key_is_processed_under_its_exact_key(
    uploader: Uploader, make_token: Any, s3: S3Client, settings: Settings, processors: Any
) -> None:
    admin = make_token(admin=True)
    key = "camera roll/2026 + summer/naïve café ✓ 1+1=2.jpg"
    s3.put_object(
        Bucket=settings.originals_bucket,
        Key=key,
        Body=(CORPUS / "orientation-portrait-6.jpg").read_bytes(),
    )
    image_id = _wait_for_row(uploader.client, admin, key)
    status = uploader.wait(admin, image_id)
    assert status["processing_status"] == "complete"
    detail = uploader.client.get(f"/api/images/{image_id}", headers=admin).json()
    assert detail["key"] == key
    assert detail["owner"] == settings.default_owner
    assert (detail["width"], detail["height"]) == (1200, 1800)


def test_multipart_upload_and_server_side_copy_are_processed_and_tagging_is_ignored(
    uploader: Uploader, make_token: Any, s3: S3Client, settings: Settings, processors: Any
) -> None:
    from boto3.s3.transfer import TransferConfig

    admin = make_token(admin=True)
    bucket = settings.originals_bucket
    source = CORPUS / "big-6000x4000-orientation-6.jpg"
    # 5 MiB parts: the 2 MB file would be one part, so force several with a padded copy.
    data = source.read_bytes() + b"\0" * (9 * 1024 * 1024)
    multipart_key = "tools/multipart big.jpg"
    s3.upload_fileobj(
        io.BytesIO(data),
        bucket,
        multipart_key,
        Config=TransferConfig(
            multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
        ),
    )
    assert s3.head_object(Bucket=bucket, Key=multipart_key)["ETag"].strip('"').endswith("-3")
    copy_key = "tools/copied portrait.jpg"
    s3.put_object(
        Bucket=bucket,
        Key="tools/copy source.jpg",
        Body=(CORPUS / "orientation-portrait-1.jpg").read_bytes(),
    )
    s3.copy_object(
        Bucket=bucket, Key=copy_key, CopySource={"Bucket": bucket, "Key": "tools/copy source.jpg"}
    )
    for key, size in ((multipart_key, (4000, 6000)), (copy_key, (1200, 1800))):
        image_id = _wait_for_row(uploader.client, admin, key)
        status = uploader.wait(admin, image_id)
        assert status["processing_status"] == "complete", status
        detail = uploader.client.get(f"/api/images/{image_id}", headers=admin).json()
        assert (detail["width"], detail["height"]) == size
    before = uploader.client.get(f"/api/images/{image_id}/processing-status", headers=admin).json()
    s3.put_object_tagging(
        Bucket=bucket, Key=copy_key, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    time.sleep(2)
    after = uploader.client.get(f"/api/images/{image_id}/processing-status", headers=admin).json()
    assert after["processing_attempts"] == before["processing_attempts"]
    assert after["jobs"] == before["jobs"]


def test_same_notification_twice_gives_one_set_of_jobs_and_derivatives(
    uploader: Uploader, make_token: Any, s3: S3Client, settings: Settings, processors: Any
) -> None:
    headers = make_token()
    data = (CORPUS / "pillow-rgb.webp").read_bytes()
    body = uploader.upload(headers, data, "twice.webp", "image/webp")
    first = uploader.wait(headers, body["id"])
    assert first["processing_status"] == "complete"
    etag = s3.head_object(Bucket=settings.originals_bucket, Key=body["key"])["ETag"].strip('"')
    event = minio_event(settings.originals_bucket, body["key"], etag, len(data))
    publish_events(settings, [event] * 2)
    time.sleep(3)
    again = uploader.client.get(
        f"/api/images/{body['id']}/processing-status", headers=headers
    ).json()
    assert again == first
    detail = uploader.client.get(f"/api/images/{body['id']}", headers=headers).json()
    assert sorted(d["size"] for d in detail["derivatives"]) == sorted(s.name for s in ALL_SIZES)
    prefix = derivative_prefix(body["bucket"], body["key"])
    listed = s3.list_objects_v2(Bucket=settings.derivatives_bucket, Prefix=prefix)
    names = {obj["Key"].removeprefix(prefix) for obj in listed.get("Contents", [])}
    assert len(names - {MANIFEST_NAME}) == len(ALL_SIZES)


def minio_event(bucket: str, key: str, etag: str, size: int) -> str:
    """A notification in MinIO's own shape: the record's key URL-encoded, '+' for space."""
    from urllib.parse import quote_plus

    return json.dumps(
        {
            "EventName": "s3:ObjectCreated:Put",
            "Key": f"{bucket}/{key}",
            "Records": [
                {
                    "eventVersion": "2.0",
                    "eventSource": "minio:s3",
                    "eventName": "s3:ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": {
                            "key": quote_plus(key),
                            "size": size,
                            "eTag": etag,
                            "sequencer": "1",
                        },
                    },
                }
            ],
        }
    )


def publish_events(settings: Settings, events: Iterable[str]) -> None:
    """Publish notifications to the events exchange as MinIO does, in the order given."""
    with Connection(settings.amqp_url) as connection:
        producer = connection.Producer()
        for event in events:
            producer.publish(
                event,
                exchange=settings.events_exchange,
                routing_key="",
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )


def test_same_bytes_again_are_marked_duplicate_and_reuse_derivatives(
    uploader: Uploader, make_token: Any, processors: Any
) -> None:
    import hashlib

    headers = make_token()
    data = (CORPUS / "pillow-icc-srgb.jpg").read_bytes()
    first = uploader.upload(headers, data, "flower.jpg")
    assert uploader.wait(headers, first["id"])["processing_status"] == "complete"
    # The processor notices identical bytes under another name.
    second = uploader.upload(headers, data, "flower copy.jpg")
    status = uploader.wait(headers, second["id"])
    assert status["processing_status"] == "complete"
    detail = uploader.client.get(f"/api/images/{second['id']}", headers=headers).json()
    assert detail["duplicate_of"] == first["id"]
    assert (
        all(job["attempts"] == 1 for job in status["jobs"][:1])
        and status["jobs"][1]["attempts"] == 0
    )
    original = uploader.fetch(headers, first["id"], "large").content
    assert uploader.fetch(headers, second["id"], "large").content == original
    # A client that sends the hash learns it before uploading anything.
    answer = uploader.client.post(
        "/api/uploads",
        headers=headers,
        json={
            "filename": "again.jpg",
            "content_type": "image/jpeg",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    assert answer.status_code == 200
    assert answer.json()["duplicate_of"] == first["id"]


def test_presigned_put_is_bound_to_content_type_and_size(
    uploader: Uploader, make_token: Any
) -> None:
    headers = make_token()
    data = (CORPUS / "pillow-gray.jpg").read_bytes()
    answer = uploader.client.post(
        "/api/uploads",
        headers=headers,
        json={"filename": "gray.jpg", "content_type": "image/jpeg", "size": len(data)},
    ).json()
    url = answer["upload"]["url"]
    assert (
        uploader.http.put(
            url, content=data, headers={**answer["upload"]["headers"], "Content-Type": "text/html"}
        ).status_code
        == 403
    )
    assert (
        uploader.http.put(url, content=data + b"x", headers=answer["upload"]["headers"]).status_code
        == 403
    )
    assert (
        uploader.http.put(url, content=data, headers=answer["upload"]["headers"]).status_code == 200
    )
    assert answer["background_processing"] is True
    assert answer["data"]["processing_status"] == "pending"


def test_processor_stops_cleanly_on_sigterm(processor_env: dict[str, str]) -> None:
    import sys

    from tests.conftest import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-m", "processor.main"],
        env=processor_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    try:
        seen = []
        deadline = time.monotonic() + 60
        # Until it consumes: a SIGTERM during interpreter start-up is Python's own business.
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if b"worker.ready" in line or not line:
                break
        assert any(b"worker.ready" in line for line in seen), b"".join(seen).decode()
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out.decode()
        entries = [json.loads(line) for line in out.splitlines() if line.startswith(b"{")]
        stopped = [entry for entry in entries if entry["event"] == "worker.stopped"]
        assert [entry["signals"] for entry in stopped] == [["SIGTERM"]], out.decode()
    finally:
        # A processor left running would take the next tests' messages.
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
