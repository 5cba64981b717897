"""Erasing everything a user owns, from the API and with ``glowworm erase-user``, on real
services and processors: every object the receipt names is gone, so are the rows, and
nobody else's images are touched."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.testclient import TestClient

from glowworm.db import make_engine, make_session_factory
from glowworm.layout import derivative_prefix
from glowworm.manifests import manifest_key
from glowworm.settings import Settings
from glowworm.sizes import ALL_SIZES
from glowworm.tokens import issue_token
from tests.conftest import Uploader
from tests.integration.upload_service.test_deletion import (
    _listed,
    _manifest_written,
    _photo,
    _until,
)
from upload_service.app import create_app
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parents[3]


def _user(settings: Settings, admin: bool = False) -> tuple[str, dict[str, str]]:
    """A new user's name and the Authorization header of a token of theirs."""
    name = f"erase-{uuid.uuid4().hex[:8]}"
    engine = make_engine(settings.database_url)
    with make_session_factory(engine).begin() as session:
        token = issue_token(session, name, admin=admin)
    engine.dispose()
    return name, {"Authorization": f"Bearer {token}"}


def _finished(uploader: Uploader, headers: dict[str, str], s3: S3Client, settings: Settings) -> str:
    """Upload a photo of its own and wait until its manifest is written; its key."""
    body = uploader.upload(headers, _photo(), f"mine {uuid.uuid4().hex[:6]}.jpg")
    assert uploader.wait(headers, body["id"])["processing_status"] == "complete"
    prefix = derivative_prefix(settings.originals_bucket, body["key"])
    _until(lambda: _manifest_written(s3, settings, prefix), "a manifest")
    key: str = body["key"]
    return key


def _stored(s3: S3Client, settings: Settings, key: str) -> set[tuple[str, str]]:
    """Every object of the image at ``key``: its original and all under its prefix."""
    prefix = derivative_prefix(settings.originals_bucket, key)
    return {(settings.originals_bucket, o) for o in _listed(s3, settings.originals_bucket, key)} | {
        (settings.derivatives_bucket, o) for o in _listed(s3, settings.derivatives_bucket, prefix)
    }


def _named(image: dict[str, Any]) -> set[tuple[str, str]]:
    return {(o["bucket"], o["key"]) for o in image["objects"]}


def test_a_user_erases_every_image_they_own_and_nobody_elses(
    uploader: Uploader, s3: S3Client, settings: Settings, processors: Any
) -> None:
    name, mine = _user(settings)
    _, theirs = _user(settings)
    kept = _finished(uploader, theirs, s3, settings)
    kept_objects = _stored(s3, settings, kept)
    keys = [_finished(uploader, mine, s3, settings) for _ in range(2)]
    before = {key: _stored(s3, settings, key) for key in keys}
    never_put = uploader.client.post(
        "/api/uploads",
        headers=mine,
        json={"filename": "never sent.jpg", "content_type": "image/jpeg", "size": 1000},
    ).json()

    answer = uploader.client.delete("/api/users/me/images", headers=mine)

    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    assert receipt["user"] == name and receipt["status"] == "erasing"
    by_key = {image["key"]: image for image in receipt["images"]}
    assert set(by_key) == {*keys, never_put["key"]}
    assert by_key[never_put["key"]]["objects"] == []  # nothing was ever stored
    for key in keys:
        # The original, every size and the manifest: all the image had.
        assert len(before[key]) == len(ALL_SIZES) + 2
        assert (settings.derivatives_bucket, manifest_key(settings.originals_bucket, key)) in (
            before[key]
        )
        assert _named(by_key[key]) == before[key]
    # Gone from every route at once, the originals from the bucket.
    assert uploader.client.get("/api/images", headers=mine).json()["items"] == []
    for image in receipt["images"]:
        assert uploader.client.get(f"/api/images/{image['id']}", headers=mine).status_code == 404
    assert [key for key in keys if _listed(s3, settings.originals_bucket, key)] == []

    def purged() -> bool:
        again = uploader.client.delete("/api/users/me/images", headers=mine)
        assert again.status_code == 202, again.text
        # Until purged, an image is listed again; the upload never PUT stays as a
        # tombstone with nothing stored, so a late PUT to its key is removed.
        return [i["key"] for i in again.json()["images"]] == [never_put["key"]]

    _until(purged, "purged")
    for key in keys:
        assert _stored(s3, settings, key) == set()
    # The other user's image, and every object of it, is still there.
    assert _stored(s3, settings, kept) == kept_objects
    listed = uploader.client.get("/api/images", headers=theirs).json()["items"]
    assert [(i["key"], i["processing_status"]) for i in listed] == [(kept, "complete")]


def _erase_user(env: dict[str, str], name: str) -> subprocess.CompletedProcess[str]:
    """``glowworm erase-user NAME`` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "glowworm.cli", "erase-user", name],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_operator_erases_a_user_and_the_receipt_says_all_is_gone(
    uploader: Uploader,
    s3: S3Client,
    settings: Settings,
    processors: Any,
    processor_env: dict[str, str],
) -> None:
    name, mine = _user(settings)
    _, admin = _user(settings, admin=True)
    key = _finished(uploader, mine, s3, settings)
    before = _stored(s3, settings, key)
    image_id = uploader.client.get("/api/images", headers=mine).json()["items"][0]["id"]

    run = _erase_user(processor_env, name)

    assert run.returncode == 0, run.stderr
    receipt = json.loads(run.stdout)
    assert receipt["user"] == name and receipt["status"] == "erased"
    assert [(i["id"], i["key"]) for i in receipt["images"]] == [(image_id, key)]
    assert _named(receipt["images"][0]) == before
    # Done when the command returns: no object, no row.
    assert _stored(s3, settings, key) == set()
    assert uploader.client.get(f"/api/images/{image_id}", headers=admin).status_code == 404
    listed = uploader.client.get("/api/images", params={"key": key}, headers=admin)
    assert listed.json()["items"] == []

    unknown = _erase_user(processor_env, f"nobody-{uuid.uuid4().hex[:6]}")
    assert unknown.returncode == 2
    assert "no user named" in unknown.stderr


def test_a_delete_and_an_erase_while_the_store_is_down_answer_503_and_end_later(
    uploader: Uploader, s3: S3Client, settings: UploadSettings, processors: Any
) -> None:
    _, mine = _user(settings)
    first, second = (_finished(uploader, mine, s3, settings) for _ in range(2))
    before = _stored(s3, settings, first) | _stored(s3, settings, second)
    first_id, second_id = (
        uploader.client.get("/api/images", params={"key": key}, headers=mine).json()["items"][0][
            "id"
        ]
        for key in (first, second)
    )
    down = settings.model_copy(update={"s3_endpoint": "http://127.0.0.1:1"})
    with TestClient(create_app(down)) as client:
        deleted = client.delete(f"/api/images/{first_id}", headers=mine)
        erased = client.delete("/api/users/me/images", headers=mine)

    for answer, detail in (
        (deleted, f"image {first_id} is deleted, but its files could not be removed yet"),
        (erased, "your 2 images are deleted, but their files could not be removed yet"),
    ):
        assert answer.status_code == 503, answer.text
        assert answer.json()["detail"].startswith(detail)
        assert answer.headers["Retry-After"] == "30"
    # Deleted, never reported done: hidden from every route, every object still there.
    assert uploader.client.get("/api/images", headers=mine).json()["items"] == []
    for image_id in (first_id, second_id):
        assert uploader.client.get(f"/api/images/{image_id}", headers=mine).status_code == 404
    assert _stored(s3, settings, first) | _stored(s3, settings, second) == before

    # With the store back, the same call ends it.
    again = uploader.client.delete("/api/users/me/images", headers=mine)
    assert again.status_code == 202, again.text
    assert {image["id"] for image in again.json()["images"]} == {first_id, second_id}
    _until(
        lambda: not uploader.client.delete("/api/users/me/images", headers=mine).json()["images"],
        "purged",
    )
    assert _stored(s3, settings, first) | _stored(s3, settings, second) == set()


def test_a_delete_and_an_erase_while_rabbitmq_is_unreachable_still_end(
    uploader: Uploader, s3: S3Client, settings: UploadSettings, processors: Any
) -> None:
    """The API cannot queue the purge; MinIO's own removal event (kept on disk until
    the broker takes it) does, as the reconciler would."""
    _, mine = _user(settings)
    first, second = (_finished(uploader, mine, s3, settings) for _ in range(2))
    first_id = uploader.client.get("/api/images", params={"key": first}, headers=mine).json()[
        "items"
    ][0]["id"]
    down = settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:1//"})
    with TestClient(create_app(down)) as client:
        deleted = client.delete(f"/api/images/{first_id}", headers=mine)
        assert deleted.status_code == 202, deleted.text
        erased = client.delete("/api/users/me/images", headers=mine)
        assert erased.status_code == 202, erased.text
    assert {image["key"] for image in erased.json()["images"]} == {first, second}

    _until(
        lambda: _stored(s3, settings, first) | _stored(s3, settings, second) == set(),
        "every object removed",
    )
    _until(
        lambda: not uploader.client.delete("/api/users/me/images", headers=mine).json()["images"],
        "purged",
    )
