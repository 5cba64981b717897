"""POST /api/uploads/{id}/complete on real MinIO, RabbitMQ, Postgres and processors.

The client says its PUT finished, and the API queues the ingest at once instead of
waiting for MinIO's stored event; that event still comes and must change nothing.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest
from fastapi.testclient import TestClient

from glowworm.layout import derivative_prefix
from glowworm.manifests import MANIFEST_NAME
from glowworm.sizes import ALL_SIZES, JobType
from tests.conftest import CORPUS, ApiServer, EventTap, JobTap, Uploader
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _announce(uploader: Uploader, headers: dict[str, str], data: bytes, name: str) -> Any:
    """POST /api/uploads only: the presigned PUT, not yet sent."""
    answer = uploader.client.post(
        "/api/uploads",
        headers=headers,
        json={"filename": name, "content_type": "image/jpeg", "size": len(data)},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


class Announced(NamedTuple):
    """A new user's upload, announced: their headers, the file's bytes, the API's answer."""

    headers: dict[str, str]
    data: bytes
    body: Any


# The `announce` fixture: (corpus file, filename) -> Announced.
Announce = Callable[[str, str], Announced]


@pytest.fixture
def announce(uploader: Uploader, make_token: Any) -> Announce:
    """Factory: a fresh user announces a corpus file under a name; the PUT is not sent."""

    def announce(corpus_file: str, filename: str) -> Announced:
        headers = make_token()
        data = (CORPUS / corpus_file).read_bytes()
        return Announced(headers, data, _announce(uploader, headers, data, filename))

    return announce


def _put(uploader: Uploader, body: Any, data: bytes) -> None:
    put = uploader.http.put(body["upload"]["url"], content=data, headers=body["upload"]["headers"])
    assert put.status_code == 200, put.text


def _complete(client: TestClient, headers: dict[str, str], image_id: int) -> Any:
    return client.post(f"/api/uploads/{image_id}/complete", headers=headers)


def _etag(s3: S3Client, bucket: str, key: str) -> str:
    return s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')


def _assert_one_set_of_work(
    uploader: Uploader, s3: S3Client, headers: dict[str, str], body: Any, derivatives_bucket: str
) -> None:
    """Complete, each job done in exactly one attempt, five derivatives and no more."""
    status = uploader.client.get(
        f"/api/images/{body['id']}/processing-status", headers=headers
    ).json()
    assert status["processing_status"] == "complete", status
    assert [(job["job_type"], job["attempts"]) for job in status["jobs"]] == [
        ("thumbnail", 1),
        ("variant", 1),
    ]
    assert [len(job["history"]) for job in status["jobs"]] == [1, 1]
    assert status["processing_attempts"] == 2
    detail = uploader.client.get(f"/api/images/{body['id']}", headers=headers).json()
    assert sorted(d["size"] for d in detail["derivatives"]) == sorted(s.name for s in ALL_SIZES)
    prefix = derivative_prefix(body["bucket"], body["key"])
    listed = s3.list_objects_v2(Bucket=derivatives_bucket, Prefix=prefix)
    names = {obj["Key"].removeprefix(prefix) for obj in listed.get("Contents", [])}
    assert len(names - {MANIFEST_NAME}) == len(ALL_SIZES)


def test_complete_after_the_put_queues_the_ingest_and_thumbnails_follow(
    uploader: Uploader,
    announce: Announce,
    s3: S3Client,
    settings: UploadSettings,
    processors: Any,
    ingest_tap: EventTap,
) -> None:
    headers, data, body = announce("orientation-landscape-5.jpg", "beach.jpg")
    _put(uploader, body, data)

    answer = _complete(uploader.client, headers, body["id"])
    assert answer.status_code == 202, answer.text
    etag = _etag(s3, settings.originals_bucket, body["key"])
    assert answer.json() == {
        "id": body["id"],
        "etag": etag,
        "queued": True,
        "data": {
            "id": body["id"],
            "processing_status": "pending",
            "thumbnail_status": "pending",
            "variant_status": "pending",
            "thumbnail_url": None,
        },
    }
    [queued] = ingest_tap.taken(body["key"])
    assert (queued.bucket, queued.key, queued.etag, queued.size) == (
        settings.originals_bucket,
        body["key"],
        etag,
        len(data),
    )

    status = uploader.wait(headers, body["id"])
    assert status["thumbnail_status"] == "complete", status
    thumbnail = uploader.fetch(headers, body["id"], "small")
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"

    # Registered now: another call queues nothing and says where things stand.
    again = _complete(uploader.client, headers, body["id"])
    assert again.status_code == 200, again.text
    assert again.json()["queued"] is False
    assert again.json()["data"]["thumbnail_status"] == "complete"
    assert again.json()["data"]["thumbnail_url"] == f"/api/images/{body['id']}/file?size=small"
    assert ingest_tap.taken(body["key"]) == []


def test_complete_before_the_put_is_refused_and_the_storage_event_still_processes_it(
    uploader: Uploader,
    announce: Announce,
    s3: S3Client,
    settings: UploadSettings,
    processors: Any,
    ingest_tap: EventTap,
) -> None:
    headers, data, body = announce("orientation-portrait-5.jpg", "early.jpg")

    early = _complete(uploader.client, headers, body["id"])
    assert early.status_code == 409, early.text
    assert early.json()["detail"] == (
        f"no object at {body['key']!r} yet: PUT the file to the upload URL first"
    )
    assert ingest_tap.taken(body["key"]) == []

    _put(uploader, body, data)
    status = uploader.wait(headers, body["id"])
    assert status["processing_status"] == "complete", status
    _assert_one_set_of_work(uploader, s3, headers, body, settings.derivatives_bucket)
    assert ingest_tap.taken(body["key"]) == []


def test_complete_twice_and_the_storage_event_give_one_set_of_jobs_and_derivatives(
    uploader: Uploader,
    announce: Announce,
    s3: S3Client,
    settings: UploadSettings,
    processors: Any,
    ingest_tap: EventTap,
    storage_event_tap: EventTap,
    job_taps: dict[JobType, JobTap],
) -> None:
    headers, data, body = announce("pillow-progressive.jpg", "twice.jpg")
    _put(uploader, body, data)

    codes = [_complete(uploader.client, headers, body["id"]).status_code for _ in range(2)]
    # The second call queues again unless the first ingest already registered the image.
    assert codes in ([202, 202], [202, 200]), codes
    assert len(ingest_tap.taken(body["key"])) == codes.count(202)
    first = uploader.wait(headers, body["id"])
    assert first["processing_status"] == "complete", first

    # MinIO's own event for the PUT comes later (its queue_dir ticker) and is a repeat.
    [event] = storage_event_tap.wait_for(body["key"])
    assert event.etag == _etag(s3, settings.originals_bucket, body["key"])
    time.sleep(2)  # the processors take it within milliseconds of its arrival
    after = uploader.client.get(
        f"/api/images/{body['id']}/processing-status", headers=headers
    ).json()
    assert after == first
    _assert_one_set_of_work(uploader, s3, headers, body, settings.derivatives_bucket)
    # Three announcements, one message per job: a repeat queues nothing again.
    for job_type, tap in job_taps.items():
        assert len(tap.taken(body["id"])) == 1, job_type


def test_only_the_owner_may_complete_an_upload(
    uploader: Uploader, make_token: Any, ingest_tap: EventTap
) -> None:
    alice, bob, admin = make_token(), make_token(), make_token(admin=True)
    data = (CORPUS / "pillow-gray.jpg").read_bytes()
    body = _announce(uploader, alice, data, "mine.jpg")
    _put(uploader, body, data)
    for stranger in (bob, admin):
        answer = _complete(uploader.client, stranger, body["id"])
        assert answer.status_code == 404, answer.text
        assert answer.json()["detail"] == f"image {body['id']} not found"
    assert _complete(uploader.client, {}, body["id"]).status_code == 401
    assert _complete(uploader.client, alice, 2**31 - 1).status_code == 404
    assert ingest_tap.taken(body["key"]) == []


def test_broker_down_answers_503_and_the_storage_event_still_processes_it(
    uploader: Uploader,
    make_token: Any,
    processor_env: dict[str, str],
    tmp_path: Path,
    processors: Any,
) -> None:
    headers, admin = make_token(), make_token(admin=True)
    client = uploader.client
    with socket.socket() as probe:  # a port nothing listens on: a broker that is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A replica of its own, whose broker is down; the rest of the system runs as usual.
    server = ApiServer(
        {**processor_env, "GLOWWORM_AMQP_URL": f"amqp://glowworm:glowworm@127.0.0.1:{port}//"},
        tmp_path / "api.log",
    )
    try:
        # Paused, so MinIO's event cannot register the image before the call is made.
        assert client.post("/api/admin/processing-queue/pause", headers=admin).status_code == 202
        server.wait_up()
        time.sleep(1)  # the processors hear the nudge
        data = (CORPUS / "pillow-icc-adobergb.jpg").read_bytes()
        body = _announce(uploader, headers, data, "offline.jpg")
        _put(uploader, body, data)
        started = time.monotonic()
        answer = httpx.post(
            f"{server.url}/api/uploads/{body['id']}/complete", headers=headers, timeout=60
        )
        waited = time.monotonic() - started
    finally:
        client.post("/api/admin/processing-queue/resume", headers=admin)
        server.stop()
    assert answer.status_code == 503, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith("could not queue processing right now")
    assert "nothing is lost" in detail
    assert waited < 10, f"a client waited {waited:.1f} s for the refusal"
    status = uploader.wait(headers, body["id"])
    assert status["processing_status"] == "complete", status
