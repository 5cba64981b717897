"""ETags on the JSON status routes: a client that asks again with If-None-Match is told
304 with no body while nothing changed, and gets the new body once something has."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import CORPUS, Uploader

PHOTO = CORPUS / "orientation-landscape-1.jpg"


def _asked_again(client: TestClient, path: str, headers: dict[str, str], etag: str) -> Any:
    return client.get(path, headers={**headers, "If-None-Match": etag})


def test_an_unchanged_image_is_not_sent_again(app_client: TestClient, make_token: Any) -> None:
    headers = make_token()
    body = app_client.post(
        "/api/uploads",
        headers=headers,
        json={"filename": "etag.jpg", "content_type": "image/jpeg", "size": 1000},
    ).json()
    for path in (f"/api/images/{body['id']}", f"/api/images/{body['id']}/processing-status"):
        first = app_client.get(path, headers=headers)
        assert first.status_code == 200
        assert first.json()["processing_status"] == "pending"
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"')
        assert first.headers["cache-control"] == "private, no-cache"

        again = _asked_again(app_client, path, headers, etag)
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "private, no-cache"
        # A weak form of the tag, or a list naming it, matches too; another tag does not.
        assert _asked_again(app_client, path, headers, f'"x", W/{etag}').status_code == 304
        other = _asked_again(app_client, path, headers, '"something-else"')
        assert other.status_code == 200
        assert other.json() == first.json()
        assert other.headers["etag"] == etag


def test_another_users_tag_does_not_reveal_an_image(
    app_client: TestClient, make_token: Any
) -> None:
    owner, stranger = make_token(), make_token()
    body = app_client.post(
        "/api/uploads",
        headers=owner,
        json={"filename": "mine.jpg", "content_type": "image/jpeg", "size": 1000},
    ).json()
    path = f"/api/images/{body['id']}"
    etag = app_client.get(path, headers=owner).headers["etag"]
    assert _asked_again(app_client, path, stranger, etag).status_code == 404
    assert _asked_again(app_client, path, stranger, "*").status_code == 404


def test_the_tag_changes_when_the_status_does(
    uploader: Uploader, make_token: Any, processors: Any
) -> None:
    headers = make_token()
    body = uploader.upload(headers, PHOTO.read_bytes(), "etag-status.jpg")
    paths = [f"/api/images/{body['id']}", f"/api/images/{body['id']}/processing-status"]
    # MinIO announces the upload a second or more later: the image is not complete yet.
    before = {path: uploader.client.get(path, headers=headers) for path in paths}
    assert all(a.json()["processing_status"] != "complete" for a in before.values())
    assert uploader.wait(headers, body["id"])["processing_status"] == "complete"
    for path, first in before.items():
        now = _asked_again(uploader.client, path, headers, first.headers["etag"])
        assert now.status_code == 200
        assert now.json()["processing_status"] == "complete"
        assert now.headers["etag"] != first.headers["etag"]
        assert _asked_again(uploader.client, path, headers, now.headers["etag"]).status_code == 304


def test_the_list_is_tagged_and_its_tag_changes_with_a_new_image(
    app_client: TestClient, make_token: Any
) -> None:
    headers = make_token()
    first = app_client.get("/api/images", headers=headers)
    assert first.json()["total"] == 0
    etag = first.headers["etag"]
    assert _asked_again(app_client, "/api/images", headers, etag).status_code == 304
    app_client.post(
        "/api/uploads",
        headers=headers,
        json={"filename": "new.jpg", "content_type": "image/jpeg", "size": 1000},
    )
    now = _asked_again(app_client, "/api/images", headers, etag)
    assert now.status_code == 200
    assert now.json()["total"] == 1
    assert now.headers["etag"] != etag
