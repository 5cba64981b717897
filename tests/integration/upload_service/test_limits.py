"""Per-user rate limits (upload URLs on every upload route, retries, open sockets) and
storage quotas, on real Postgres, RabbitMQ and MinIO (issue 17 pt 5)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bench.held_jobs import jobs_held
from glowworm.db import make_engine, make_session_factory
from glowworm.settings import Settings
from glowworm.sizes import JobType
from glowworm.tokens import issue_token
from tests.conftest import CORPUS, ApiServer, Uploader
from upload_service.app import create_app
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PHOTO = (CORPUS / "orientation-landscape-1.jpg").read_bytes()


@contextmanager
def app_with(settings: UploadSettings, **changes: Any) -> Iterator[TestClient]:
    """The API with some settings changed (its own limit counts), on the session's services."""
    with TestClient(create_app(settings.model_copy(update=changes))) as client:
        yield client


def _user(settings: Settings) -> tuple[str, dict[str, str]]:
    name = f"limits-{uuid.uuid4().hex[:8]}"
    engine = make_engine(settings.database_url)
    with make_session_factory(engine).begin() as session:
        token = issue_token(session, name)
    engine.dispose()
    return name, {"Authorization": f"Bearer {token}"}


def _announce(client: TestClient, headers: dict[str, str], size: int = 1234) -> Any:
    return client.post(
        "/api/uploads",
        headers=headers,
        json={"filename": "limited.jpg", "content_type": "image/jpeg", "size": size},
    )


def _companion_params(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get(
        "/s3/params", headers=headers, params={"filename": "limited.jpg", "type": "image/jpeg"}
    )


def _companion_multipart(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post(
        "/s3/multipart",
        headers=headers,
        json={"filename": "limited.jpg", "type": "image/jpeg", "size": 1234},
    )


def test_upload_urls_are_limited_per_user_on_every_upload_route(settings: UploadSettings) -> None:
    alice, bob = _user(settings)[1], _user(settings)[1]
    with app_with(settings, presign_rate_limit="5/minute") as client:
        # The three ways to an upload URL share one count.
        assert [_announce(client, alice).status_code for _ in range(3)] == [201] * 3
        assert _companion_params(client, alice).status_code == 200
        assert _companion_multipart(client, alice).status_code == 200
        for refused in (
            _announce(client, alice),
            _companion_params(client, alice),
            _companion_multipart(client, alice),
        ):
            assert refused.status_code == 429, refused.text
            assert "too many upload URLs (at most 5 per 1 minute)" in refused.json()["detail"]
            assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Refused calls made no upload (/s3/params makes no row at all), and another
        # user is counted apart.
        assert client.get("/api/images", headers=alice).json()["total"] == 4
        assert _announce(client, bob).status_code == 201


def test_a_client_that_waits_retry_after_gets_in(settings: UploadSettings) -> None:
    headers = _user(settings)[1]
    with app_with(settings, presign_rate_limit="2/second") as client:
        assert [_announce(client, headers).status_code for _ in range(2)] == [201, 201]
        refused = _announce(client, headers)
        assert refused.status_code == 429
        time.sleep(int(refused.headers["retry-after"]))
        assert _announce(client, headers).status_code == 201


def test_retries_are_limited_per_user(settings: UploadSettings) -> None:
    headers = _user(settings)[1]
    with app_with(settings, retry_rate_limit="2/minute") as client:
        image_id = _announce(client, headers).json()["id"]
        retry = f"/api/images/{image_id}/retry-processing"
        # Counted even when there is nothing to retry: the limit is on asking.
        assert [client.post(retry, headers=headers).status_code for _ in range(2)] == [409, 409]
        refused = client.post(retry, headers=headers)
        assert refused.status_code == 429
        assert "too many retries (at most 2 per 1 minute)" in refused.json()["detail"]
        assert "retry-after" in refused.headers


def test_retry_of_an_image_still_in_progress_is_refused_and_queues_nothing(
    uploader: Uploader, make_token: Any, processors: Any, settings: Settings
) -> None:
    headers = make_token()
    client = uploader.client
    with jobs_held(settings, JobType.THUMBNAIL) as thumbnails:
        image_id = uploader.upload(headers, PHOTO + uuid.uuid4().bytes, "waiting.jpg")["id"]
        deadline = time.monotonic() + 30
        while thumbnails.count([image_id]) == 0:  # ingested: its thumbnail job is queued
            assert time.monotonic() < deadline, "no thumbnail job for the upload"
            time.sleep(0.1)
        for _ in range(3):
            answer = client.post(f"/api/images/{image_id}/retry-processing", headers=headers)
            assert answer.status_code == 409, answer.text
            assert f"image {image_id} is still processing; retry it if it fails" in answer.text
        assert thumbnails.count([image_id]) == 1, "a refused retry queued no job"
        thumbnails.release([image_id])
    done = uploader.wait(headers, image_id)
    assert done["processing_status"] == "complete"
    assert done["jobs"][0]["attempts"] == 1


def _socket(opened: ExitStack, server: ApiServer, headers: dict[str, str]) -> ClientConnection:
    """A socket on ``server`` that has sent its auth frame, closed when ``opened`` is."""
    ws = opened.enter_context(connect(f"ws://127.0.0.1:{server.port}/api/ws", open_timeout=10))
    ws.send(json.dumps({"type": "auth", "token": headers["Authorization"].split()[1]}))
    return ws


def _first_frame(ws: ClientConnection) -> str:
    frame: str = json.loads(ws.recv(timeout=10))["type"]
    return frame


def test_one_user_may_hold_only_so_many_sockets(
    api_server: Callable[..., ApiServer], make_token: Any
) -> None:
    server = api_server({"GLOWWORM_MAX_SOCKETS_PER_USER": "2"})
    alice, bob = make_token(), make_token()
    with ExitStack() as opened:
        with ExitStack() as first:
            assert _first_frame(_socket(first, server, alice)) == "ready"
            assert _first_frame(_socket(opened, server, alice)) == "ready"
            with pytest.raises(ConnectionClosed) as closed:
                _first_frame(_socket(opened, server, alice))
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4429
            assert closed.value.rcvd.reason == "at most 2 open sockets per user"
            # Another user is counted apart.
            assert _first_frame(_socket(opened, server, bob)) == "ready"
        # A closed socket frees its place.
        deadline = time.monotonic() + 5
        while (frame := _socket_answer(opened, server, alice)) != "ready":
            assert time.monotonic() < deadline, f"a third socket is still refused: {frame}"
            time.sleep(0.1)


def _socket_answer(opened: ExitStack, server: ApiServer, headers: dict[str, str]) -> str:
    try:
        return _first_frame(_socket(opened, server, headers))
    except ConnectionClosed as closed:
        return f"closed {closed.rcvd}"


def _quota_cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "glowworm.cli", "user", "quota", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def test_a_users_quota_is_checked_when_an_upload_is_asked_for_and_reported(
    app_client: TestClient, settings: UploadSettings, processor_env: dict[str, str]
) -> None:
    name, headers = _user(settings)
    assert _quota_cli(processor_env, name, "--bytes", "1000", "--images", "2") == {
        "user": name,
        "quota_bytes": 1000,
        "quota_images": 2,
    }
    first = _announce(app_client, headers, size=600)
    assert first.status_code == 201, first.text
    too_big = _announce(app_client, headers, size=500)
    assert too_big.status_code == 403
    assert (
        "over your storage quota: this file is 500 bytes and 400 of your 1000 bytes are free"
        in too_big.json()["detail"]
    )
    assert _announce(app_client, headers, size=400).status_code == 201
    me = app_client.get("/api/users/me", headers=headers).json()
    assert me["quota"] == {"bytes": 1000, "images": 2, "bytes_used": 1000, "images_used": 2}
    assert me["limits"]["upload_urls"] == ["50 per 1 second", "1000 per 1 minute"]
    third = _companion_multipart(app_client, headers)
    assert third.status_code == 403
    assert "you hold 2 images, the most your quota allows" in third.json()["detail"]
    # Deleting frees the room; 'default' gives the user the deployment's quota (unlimited).
    deleted = app_client.delete(f"/api/images/{first.json()['id']}", headers=headers)
    assert deleted.status_code == 202
    assert _announce(app_client, headers, size=600).status_code == 201
    _quota_cli(processor_env, name, "--images", "default", "--bytes", "default")
    time.sleep(settings.token_cache_seconds)  # the upload route's cache of the caller
    assert _announce(app_client, headers, size=10**6).status_code == 201
    me = app_client.get("/api/users/me", headers=headers).json()
    assert me["quota"]["bytes"] is None and me["quota"]["images"] is None


def test_a_post_policy_allows_only_the_free_quota_and_minio_holds_it(
    app_client: TestClient, uploader: Uploader, settings: Settings, processor_env: dict[str, str]
) -> None:
    name, headers = _user(settings)
    room = 5000
    _quota_cli(processor_env, name, "--bytes", str(len(PHOTO) + room))
    assert _announce(app_client, headers, size=len(PHOTO)).status_code == 201
    body = _companion_params(app_client, headers).json()
    too_big = uploader.http.post(
        body["url"],
        data=body["fields"],
        files={"file": ("limited.jpg", b"\xff" * (room + 1), "image/jpeg")},
    )
    assert too_big.status_code == 400, too_big.text
    assert "EntityTooLarge" in too_big.text
    fits = uploader.http.post(
        body["url"],
        data=body["fields"],
        files={"file": ("limited.jpg", b"\xff" * room, "image/jpeg")},
    )
    assert fits.status_code == 201, fits.text


def _image_at(uploader: Uploader, headers: dict[str, str], key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while not (
        items := uploader.client.get("/api/images", headers=headers, params={"key": key}).json()[
            "items"
        ]
    ):
        assert time.monotonic() < deadline, f"no image at {key}"
        time.sleep(0.2)
    image: dict[str, Any] = items[0]
    return image


def test_a_policy_upload_that_no_longer_fits_the_quota_is_removed_and_its_image_says_why(
    uploader: Uploader,
    settings: UploadSettings,
    processor_env: dict[str, str],
    processors: Any,
    s3: S3Client,
) -> None:
    """A POST policy reserves nothing (its GET makes no row), so two policies may both be
    signed while one image is free: the processor checks the second when it lands."""
    name, headers = _user(settings)
    _quota_cli(processor_env, name, "--images", "1")
    first = _companion_params(uploader.client, headers).json()
    second = _companion_params(uploader.client, headers).json()  # the image is still free
    posted = uploader.http.post(
        first["url"],
        data=first["fields"],
        files={"file": ("a.jpg", PHOTO + uuid.uuid4().bytes, "image/jpeg")},
    )
    assert posted.status_code == 201, posted.text
    done = uploader.wait(headers, _image_at(uploader, headers, first["fields"]["key"])["id"])
    assert done["processing_status"] == "complete"
    late = uploader.http.post(
        second["url"],
        data=second["fields"],
        files={"file": ("b.jpg", PHOTO + uuid.uuid4().bytes, "image/jpeg")},
    )
    assert late.status_code == 201, late.text
    refused = uploader.wait(headers, _image_at(uploader, headers, second["fields"]["key"])["id"])
    assert refused["processing_status"] == "failed"
    assert refused["processing_error"] == (
        "over your storage quota: you hold 1 images, the most your quota allows; delete "
        "images (DELETE /api/images/{id}) or ask an admin for a larger quota; the file was "
        "removed"
    )
    listed = s3.list_objects_v2(Bucket=settings.originals_bucket, Prefix=second["fields"]["key"])
    assert listed.get("KeyCount") == 0, "the file over the quota is not kept"
    me = uploader.client.get("/api/users/me", headers=headers).json()
    assert me["quota"]["images_used"] == 1, "the refused upload holds nothing"
