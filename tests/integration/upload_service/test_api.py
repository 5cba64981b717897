"""The HTTP API against the real database and MinIO: auth, ownership, validation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url
from starlette.websockets import WebSocketDisconnect

from glowworm.db import make_engine
from upload_service.app import create_app
from upload_service.batched_inserts import open_batched_inserts
from upload_service.settings import UploadSettings

GOOD = {"filename": "cat.jpg", "content_type": "image/jpeg", "size": 1000}


def _my_image_count(client: TestClient, headers: dict[str, str]) -> int:
    total: int = client.get("/api/images", headers=headers).json()["total"]
    return total


def test_routes_need_a_token(app_client: TestClient) -> None:
    answer = app_client.post("/api/uploads", json=GOOD)
    assert answer.status_code == 401
    assert "bearer token" in answer.json()["detail"]
    bad = app_client.get("/api/images", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_the_api_docs_say_which_routes_need_a_token(app_client: TestClient) -> None:
    paths = app_client.get("/openapi.json").json()["paths"]
    for path, method in [
        ("/api/uploads", "post"),
        ("/api/uploads/{image_id}/complete", "post"),
        ("/api/images", "get"),
    ]:
        assert paths[path][method]["security"] == [{"HTTPBearer": []}], (path, method)


def test_upload_answers_a_presigned_put_and_a_pending_image(
    app_client: TestClient, make_token: Any
) -> None:
    headers = make_token()
    answer = app_client.post("/api/uploads", headers=headers, json=GOOD)
    assert answer.status_code == 201
    body = answer.json()
    assert isinstance(body["id"], int)
    assert body["key"].endswith("/cat.jpg")
    assert body["upload"]["method"] == "PUT"
    assert body["upload"]["url"].startswith("http://")
    assert "X-Amz-Signature=" in body["upload"]["url"]
    assert "X-Amz-Expires=900" in body["upload"]["url"]
    assert body["upload"]["headers"] == {"Content-Type": "image/jpeg", "If-None-Match": "*"}
    assert body["data"] == {
        "id": body["id"],
        "processing_status": "pending",
        "thumbnail_status": "pending",
        "variant_status": "pending",
        "thumbnail_url": None,
    }
    listed = app_client.get("/api/images", headers=headers, params={"key": body["key"]}).json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"content_type": "application/pdf"}, 415, "not an image type"),
        ({"content_type": "image/svg+xml"}, 415, "not an image type"),
        ({"size": 50 * 1024 * 1024 + 1}, 413, "largest accepted"),
        ({"size": 0}, 422, "greater than 0"),
        ({"filename": ""}, 422, "at least 1 character"),
        ({"filename": "..."}, 422, "no letters or digits"),
        ({"filename": "a\x00b.jpg"}, 422, "control characters"),
        # A right-to-left override shows "photo\u202egpj.exe" as "photoexe.jpg".
        ({"filename": "photo\u202egpj.exe"}, 422, "invisible formatting characters (U+202E)"),
        ({"filename": "zero\u200bwidth\ufeff.jpg"}, 422, "(U+200B, U+FEFF)"),
        ({"filename": "x" * 300 + ".jpg"}, 422, "at most 255 characters"),
        ({"sha256": "abc"}, 422, "pattern"),
    ],
)
def test_bad_upload_requests_are_refused_and_create_nothing(
    app_client: TestClient, make_token: Any, change: dict[str, Any], code: int, words: str
) -> None:
    headers = make_token()
    answer = app_client.post("/api/uploads", headers=headers, json={**GOOD, **change})
    assert answer.status_code == code, answer.text
    assert words in answer.text
    assert _my_image_count(app_client, headers) == 0


def test_other_users_get_404_and_admins_see_everything(
    app_client: TestClient, make_token: Any
) -> None:
    alice, bob, admin = make_token(), make_token(), make_token(admin=True)
    image_id = app_client.post("/api/uploads", headers=alice, json=GOOD).json()["id"]
    for path in ("", "/processing-status", "/file?size=original"):
        answer = app_client.get(
            f"/api/images/{image_id}{path}", headers=bob, follow_redirects=False
        )
        assert answer.status_code == 404, path
        assert app_client.get(
            f"/api/images/{image_id}{path}", headers=alice, follow_redirects=False
        ).status_code in (200, 302)
    assert (
        app_client.post(f"/api/images/{image_id}/retry-processing", headers=bob).status_code == 404
    )
    assert _my_image_count(app_client, bob) == 0
    assert (
        app_client.get(f"/api/images/{image_id}", headers=admin).json()["owner"].startswith("user-")
    )


def test_admin_routes_need_an_admin_token(app_client: TestClient, make_token: Any) -> None:
    answer = app_client.get("/api/admin/processing-queue", headers=make_token())
    assert answer.status_code == 403
    assert answer.json()["detail"] == "this route needs an admin token"
    queue = app_client.get("/api/admin/processing-queue", headers=make_token(admin=True))
    assert queue.status_code == 200
    names = {q["name"] for q in queue.json()["queues"]}
    assert any(name.endswith(".thumbnails") for name in names)


def test_file_redirects_to_the_original_until_derivatives_exist(
    app_client: TestClient, make_token: Any
) -> None:
    headers = make_token()
    body = app_client.post("/api/uploads", headers=headers, json=GOOD).json()
    answer = app_client.get(
        f"/api/images/{body['id']}/file?size=small", headers=headers, follow_redirects=False
    )
    assert answer.status_code == 302
    assert f"/{body['bucket']}/" in answer.headers["location"]
    assert "cat.jpg" in answer.headers["location"]
    wrong = app_client.get(f"/api/images/{body['id']}/file?size=huge", headers=headers)
    assert wrong.status_code == 422


def _unreachable(settings: UploadSettings) -> str:
    """The database URL of ``settings`` with a port nothing listens on."""
    return make_url(settings.database_url).set(host="127.0.0.1", port=1).render_as_string(False)


OUTAGE = {"detail": "the database is unavailable; try again in a few seconds"}


def test_a_database_outage_is_a_503_to_try_again_not_a_500(settings: UploadSettings) -> None:
    down = settings.model_copy(update={"database_url": _unreachable(settings)})
    headers = {"Authorization": "Bearer any-token"}
    with TestClient(create_app(down)) as client:
        answers = [
            client.get("/api/images", headers=headers),
            client.post("/api/uploads", headers=headers, json=GOOD),
        ]
        with client.websocket_connect("/api/ws") as ws:
            ws.send_json({"type": "auth", "token": "any-token"})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json() == OUTAGE
        assert answer.headers["Retry-After"] == "5"
    assert (closed.value.code, closed.value.reason) == (1013, OUTAGE["detail"])


def test_an_upload_whose_row_cannot_be_written_is_a_503_too(
    settings: UploadSettings, make_token: Any
) -> None:
    """A caller the API already knows (so letting them in needs no database), while the
    upload route's own connection cannot reach the database: a real writer, pointed at a
    port nothing listens on (it never connects, so there is nothing to close)."""
    headers = make_token()
    unreachable = _unreachable(settings)
    with TestClient(create_app(settings)) as client:
        assert client.post("/api/uploads", headers=headers, json=GOOD).status_code == 201
        state = client.app.state  # type: ignore[attr-defined]
        working = state.resources
        unwritable = open_batched_inserts(unreachable, make_engine(unreachable))
        state.resources = replace(working, inserts=unwritable)
        try:
            answer = client.post("/api/uploads", headers=headers, json=GOOD)
        finally:
            state.resources = working
    assert answer.status_code == 503, answer.text
    assert answer.json() == OUTAGE
