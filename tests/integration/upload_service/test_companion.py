"""Uppy Companion's S3 routes on real MinIO: POST policy, multipart, abort, refusals.

Each test does what Uppy's AwsS3 plugin does (``CompanionS3.ts`` in @uppy/aws-s3 6.3):
ask the route, then send the bytes to MinIO with a plain HTTP client.
"""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from glowworm.settings import Settings
from tests.conftest import CORPUS, EventTap, Uploader

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1024 * 1024


def _row(client: TestClient, headers: dict[str, str], key: str) -> dict[str, Any]:
    items = client.get("/api/images", headers=headers, params={"key": key}).json()["items"]
    assert len(items) == 1, items
    row: dict[str, Any] = items[0]
    return row


def _rows(client: TestClient, headers: dict[str, str], key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(
        "/api/images", headers=headers, params={"key": key}
    ).json()["items"]
    return items


def test_params_answers_a_post_policy_that_lands_and_is_processed(
    uploader: Uploader, make_token: Any, settings: Settings, processors: Any
) -> None:
    client, headers = uploader.client, make_token()
    me = client.get("/api/users/me", headers=headers).json()
    data = (CORPUS / "orientation-portrait-3.jpg").read_bytes()
    answer = client.get(
        "/s3/params",
        headers=headers,
        params={"filename": "portrait.jpg", "type": "image/jpeg", "metadata[name]": "portrait.jpg"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["method"] == "POST"
    assert body["expires"] == 900
    assert body["url"].rstrip("/").endswith(settings.originals_bucket)
    fields = body["fields"]
    assert fields["key"].startswith("uploads/") and fields["key"].endswith("/portrait.jpg")
    assert fields["Content-Type"] == "image/jpeg"
    assert fields["success_action_status"] == "201"
    assert {"policy", "x-amz-signature", "x-amz-credential"} <= set(fields)
    assert fields["x-amz-meta-glowworm-claim"].startswith(f"{me['id']}.")
    # A GET changes nothing: the row comes when the object lands.
    assert client.get("/api/images", headers=headers).json()["total"] == 0

    # The policy binds the content type and the size limit.
    wrong_type = uploader.http.post(
        body["url"],
        data={**fields, "Content-Type": "text/html"},
        files={"file": ("portrait.jpg", data, "text/html")},
    )
    assert wrong_type.status_code == 403, wrong_type.text
    empty = uploader.http.post(
        body["url"], data=fields, files={"file": ("portrait.jpg", b"", "image/jpeg")}
    )
    assert empty.status_code == 400, empty.text
    # The claim is bound by the policy too.
    forged = {**fields, "x-amz-meta-glowworm-claim": "1.0000"}
    refused = uploader.http.post(
        body["url"], data=forged, files={"file": ("portrait.jpg", data, "image/jpeg")}
    )
    assert refused.status_code == 403, refused.text
    posted = uploader.http.post(
        body["url"], data=fields, files={"file": ("portrait.jpg", data, "image/jpeg")}
    )
    assert posted.status_code == 201, posted.text
    deadline = time.monotonic() + 30
    while not (rows := _rows(client, headers, fields["key"])):
        assert time.monotonic() < deadline, "no row once the object landed"
        time.sleep(0.2)
    row = rows[0]
    assert row["filename"] == "portrait.jpg"
    assert row["owner"] == me["user"]
    status = uploader.wait(headers, row["id"])
    assert status["processing_status"] == "complete", status
    detail = client.get(f"/api/images/{row['id']}", headers=headers).json()
    assert (detail["width"], detail["height"]) == (1200, 1800)


def _multipart_body() -> bytes:
    """A real JPEG padded past two 5 MiB parts (decoders stop at the end-of-image marker)."""
    data = (CORPUS / "big-6000x4000-orientation-6.jpg").read_bytes()
    return data + b"\0" * (11 * MiB - len(data))


def test_multipart_create_sign_list_complete_lands_and_is_processed(
    uploader: Uploader, make_token: Any, settings: Settings, processors: Any, ingest_tap: EventTap
) -> None:
    client, headers = uploader.client, make_token()
    data = _multipart_body()
    created = client.post(
        "/s3/multipart",
        headers=headers,
        json={
            "filename": "big one.jpg",
            "type": "image/jpeg",
            "metadata": {"name": "big one.jpg", "size": len(data)},  # as Uppy sends it
        },
    )
    assert created.status_code == 200, created.text
    body = created.json()
    key, upload_id = body["key"], body["uploadId"]
    assert body["bucket"] == settings.originals_bucket
    assert key.endswith("/big one.jpg")
    row = _row(client, headers, key)
    assert row["processing_status"] == "pending"

    chunks = [data[i : i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
    assert len(chunks) == 3
    parts = []
    for number, chunk in enumerate(chunks, start=1):
        signed = client.get(
            f"/s3/multipart/{upload_id}/{number}", headers=headers, params={"key": key}
        )
        assert signed.status_code == 200, signed.text
        assert signed.json()["expires"] == 900
        put = uploader.http.put(signed.json()["url"], content=chunk)
        assert put.status_code == 200, put.text
        parts.append({"PartNumber": number, "ETag": put.headers["etag"].strip('"')})

    listed = client.get(f"/s3/multipart/{upload_id}", headers=headers, params={"key": key})
    assert listed.status_code == 200, listed.text
    assert [(p["PartNumber"], p["Size"]) for p in listed.json()] == [
        (n, len(c)) for n, c in enumerate(chunks, start=1)
    ]
    batch = client.get(
        f"/s3/multipart/{upload_id}/batch",
        headers=headers,
        params={"key": key, "partNumbers": "1,2"},
    )
    assert sorted(batch.json()["presignedUrls"]) == ["1", "2"]

    done = client.post(
        f"/s3/multipart/{upload_id}/complete",
        headers=headers,
        params={"key": key},
        json={"parts": parts},
    )
    assert done.status_code == 200, done.text
    assert done.json()["key"] == key
    assert done.json()["location"] == (
        f"{settings.s3_public_endpoint}/{settings.originals_bucket}/{quote(key)}"
    )
    # The API joined the parts, so it queued the ingest itself, without MinIO's event.
    [queued] = ingest_tap.taken(key)
    assert queued.etag.endswith("-3") and queued.size == len(data)
    status = uploader.wait(headers, row["id"], timeout=120)
    assert status["processing_status"] == "complete", status
    detail = client.get(f"/api/images/{row['id']}", headers=headers).json()
    assert detail["etag"].endswith("-3")
    assert (detail["width"], detail["height"]) == (4000, 6000)
    large = uploader.fetch(headers, row["id"], "large")
    assert Image.open(io.BytesIO(large.content)).size == (400, 600)


def test_abort_removes_the_upload_and_its_row(uploader: Uploader, make_token: Any) -> None:
    client, headers = uploader.client, make_token()
    body = client.post(
        "/s3/multipart",
        headers=headers,
        json={"filename": "gone.png", "type": "image/png", "size": 1234},
    ).json()
    key, upload_id = body["key"], body["uploadId"]
    aborted = client.delete(f"/s3/multipart/{upload_id}", headers=headers, params={"key": key})
    assert aborted.status_code == 200, aborted.text
    assert aborted.json() == {}
    assert client.get("/api/images", headers=headers, params={"key": key}).json()["total"] == 0
    again = client.get(f"/s3/multipart/{upload_id}", headers=headers, params={"key": key})
    assert again.status_code == 404


def test_complete_over_the_size_limit_is_refused_and_aborted(
    uploader: Uploader, make_token: Any, settings: Settings
) -> None:
    client, headers = uploader.client, make_token()
    body = client.post(
        "/s3/multipart",
        headers=headers,
        json={"filename": "huge.jpg", "type": "image/jpeg", "size": 1},
    ).json()
    key, upload_id = body["key"], body["uploadId"]
    resources = client.app.state.resources  # type: ignore[attr-defined]
    part = resources.s3.upload_part(
        Bucket=settings.originals_bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x"
    )
    limit = resources.settings.max_upload_bytes
    resources.settings.max_upload_bytes = 0
    try:
        refused = client.post(
            f"/s3/multipart/{upload_id}/complete",
            headers=headers,
            params={"key": key},
            json={"parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    finally:
        resources.settings.max_upload_bytes = limit
    assert refused.status_code == 413, refused.text
    assert "largest accepted" in refused.json()["detail"]
    assert client.get("/api/images", headers=headers, params={"key": key}).json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({"filename": "notes.txt", "type": "text/plain"}, 415, "not an image type"),
        ({"filename": "...", "type": "image/jpeg"}, 422, "no letters or digits"),
        ({"filename": "cat\u202egnp.jpg", "type": "image/jpeg"}, 422, "invisible formatting"),
        ({"type": "image/jpeg"}, 422, "filename"),
    ],
)
def test_params_refuses_what_post_api_uploads_refuses(
    app_client: TestClient, make_token: Any, params: dict[str, str], code: int, words: str
) -> None:
    headers = make_token()
    answer = app_client.get("/s3/params", headers=headers, params=params)
    assert answer.status_code == code, answer.text
    assert words in answer.text
    assert app_client.get("/api/images", headers=headers).json()["total"] == 0


def test_routes_need_a_token_and_keys_are_per_user(app_client: TestClient, make_token: Any) -> None:
    alice, bob = make_token(), make_token()
    fresh = TestClient(app_client.app)  # no cookies from other tests
    assert (
        fresh.get("/s3/params", params={"filename": "a.jpg", "type": "image/jpeg"}).status_code
        == 401
    )
    assert (
        fresh.post("/s3/multipart", json={"filename": "a.jpg", "type": "image/jpeg"}).status_code
        == 401
    )
    body = app_client.post(
        "/s3/multipart",
        headers=alice,
        json={"filename": "mine.jpg", "type": "image/jpeg", "size": 1234},
    ).json()
    key, upload_id = body["key"], body["uploadId"]
    for method, path in (
        ("GET", f"/s3/multipart/{upload_id}"),
        ("GET", f"/s3/multipart/{upload_id}/1"),
        ("POST", f"/s3/multipart/{upload_id}/complete"),
        ("DELETE", f"/s3/multipart/{upload_id}"),
    ):
        answer = app_client.request(
            method,
            path,
            headers=bob,
            params={"key": key},
            json={"parts": [{"PartNumber": 1, "ETag": "x"}]} if method == "POST" else None,
        )
        assert answer.status_code == 404, (method, path, answer.text)
    bad_part = app_client.get(f"/s3/multipart/{upload_id}/0", headers=alice, params={"key": key})
    assert bad_part.status_code == 422
    app_client.delete(f"/s3/multipart/{upload_id}", headers=alice, params={"key": key})


def test_the_page_session_cookie_authorises_companion_calls(
    app_client: TestClient, make_token: Any
) -> None:
    headers = make_token()
    browser = TestClient(app_client.app)
    signed_in = browser.post("/api/session", headers=headers)
    assert signed_in.status_code == 200
    answer = browser.get("/s3/params", params={"filename": "c.jpg", "type": "image/jpeg"})
    assert answer.status_code == 200, answer.text
    assert browser.delete("/api/session").status_code == 204
    assert (
        browser.get("/s3/params", params={"filename": "c.jpg", "type": "image/jpeg"}).status_code
        == 401
    )


def _create(client: TestClient, headers: dict[str, str], size: int | None) -> tuple[str, str]:
    body: dict[str, Any] = {"filename": "bounded.jpg", "type": "image/jpeg"}
    if size is not None:
        body["size"] = size
    created = client.post("/s3/multipart", headers=headers, json=body)
    assert created.status_code == 200, created.text
    return created.json()["key"], created.json()["uploadId"]


def test_each_part_url_holds_exactly_its_part_and_no_more_parts_are_signed(
    uploader: Uploader, make_token: Any, settings: Settings
) -> None:
    client, headers = uploader.client, make_token()
    size = 11 * MiB  # parts of 5, 5 and 1 MiB, as Uppy cuts it
    key, upload_id = _create(client, headers, size)

    def sign(number: int) -> str:
        signed = client.get(
            f"/s3/multipart/{upload_id}/{number}", headers=headers, params={"key": key}
        )
        assert signed.status_code == 200, signed.text
        url: str = signed.json()["url"]
        return url

    # MinIO refuses a part of any length but the one its URL was signed for.
    first = sign(1)
    assert uploader.http.put(first, content=b"x" * (5 * MiB + 1)).status_code == 403
    assert uploader.http.put(first, content=b"x" * (5 * MiB - 1)).status_code == 403
    assert uploader.http.put(first, content=b"x" * 5 * MiB).status_code == 200
    last = sign(3)
    assert uploader.http.put(last, content=b"x" * 5 * MiB).status_code == 403
    assert uploader.http.put(last, content=b"x" * MiB).status_code == 200

    # Only the parts the declared size needs are signed, one by one or in a batch.
    beyond = client.get(f"/s3/multipart/{upload_id}/4", headers=headers, params={"key": key})
    assert beyond.status_code == 422
    assert "parts 1 to 3" in beyond.json()["detail"]
    batch = client.get(
        f"/s3/multipart/{upload_id}/batch",
        headers=headers,
        params={"key": key, "partNumbers": "2,3,4"},
    )
    assert batch.status_code == 422
    many = ",".join(str(n) for n in range(1, 102))
    too_many = client.get(
        f"/s3/multipart/{upload_id}/batch",
        headers=headers,
        params={"key": key, "partNumbers": many},
    )
    assert too_many.status_code == 422
    assert "at most 100 a request" in too_many.json()["detail"]

    # Completing before every part is there is refused, and the upload is kept.
    listed = client.get(f"/s3/multipart/{upload_id}", headers=headers, params={"key": key})
    parts = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed.json()]
    early = client.post(
        f"/s3/multipart/{upload_id}/complete",
        headers=headers,
        params={"key": key},
        json={"parts": parts},
    )
    assert early.status_code == 422, early.text
    assert "parts not uploaded yet: [2]" in early.json()["detail"]
    still = client.get(f"/s3/multipart/{upload_id}", headers=headers, params={"key": key})
    assert [p["PartNumber"] for p in still.json()] == [1, 3]
    client.delete(f"/s3/multipart/{upload_id}", headers=headers, params={"key": key})


def test_a_multipart_upload_declares_its_size_within_the_limit(
    uploader: Uploader, make_token: Any, settings: Settings
) -> None:
    client, headers = uploader.client, make_token()
    undeclared = client.post(
        "/s3/multipart", headers=headers, json={"filename": "what.jpg", "type": "image/jpeg"}
    )
    assert undeclared.status_code == 422
    assert "declare the file's size" in undeclared.json()["detail"]
    limit = client.app.state.resources.settings.max_upload_bytes  # type: ignore[attr-defined]
    over = client.post(
        "/s3/multipart",
        headers=headers,
        json={"filename": "huge.jpg", "type": "image/jpeg", "metadata": {"size": limit + 1}},
    )
    assert over.status_code == 413
    assert "largest accepted" in over.json()["detail"]
    assert client.get("/api/images", headers=headers).json()["total"] == 0
    # Nothing was started in the store either.
    uploads = uploader.client.app.state.resources.s3.list_multipart_uploads(  # type: ignore[attr-defined]
        Bucket=settings.originals_bucket, Prefix="uploads/"
    )
    assert not any(u["Key"].endswith("/huge.jpg") for u in uploads.get("Uploads", []))


def test_an_upload_id_works_only_with_the_row_it_was_made_for(
    app_client: TestClient, make_token: Any
) -> None:
    alice, bob = make_token(), make_token()
    alice_key, alice_id = _create(app_client, alice, 1234)
    other_key, other_id = _create(app_client, alice, 1234)
    bob_key, _ = _create(app_client, bob, 1234)
    # Alice's own key with her other upload's id, and Bob's key with Alice's id: not found.
    for key, upload_id, headers in (
        (alice_key, other_id, alice),
        (bob_key, alice_id, bob),
    ):
        for method, path, more in (
            ("GET", f"/s3/multipart/{upload_id}", {}),
            ("GET", f"/s3/multipart/{upload_id}/1", {}),
            ("GET", f"/s3/multipart/{upload_id}/batch", {"partNumbers": "1"}),
            ("POST", f"/s3/multipart/{upload_id}/complete", {}),
            ("DELETE", f"/s3/multipart/{upload_id}", {}),
        ):
            answer = app_client.request(
                method,
                path,
                headers=headers,
                params={"key": key, **more},
                json={"parts": [{"PartNumber": 1, "ETag": "x"}]} if method == "POST" else None,
            )
            assert answer.status_code == 404, (method, path, answer.text)
    # Alice's upload is untouched: its parts still list, under its own id.
    for key, upload_id in ((alice_key, alice_id), (other_key, other_id)):
        listed = app_client.get(f"/s3/multipart/{upload_id}", headers=alice, params={"key": key})
        assert listed.status_code == 200, listed.text
        app_client.delete(f"/s3/multipart/{upload_id}", headers=alice, params={"key": key})


def test_an_object_with_a_claim_it_was_not_signed_for_goes_to_the_default_owner(
    uploader: Uploader, make_token: Any, settings: Settings, processors: Any, s3: S3Client
) -> None:
    """A tool user copies someone's claim onto another key, or makes one up: the object
    is registered, as any tool upload is, for the default owner, never for the victim."""
    client, headers = uploader.client, make_token()
    me = client.get("/api/users/me", headers=headers).json()
    fields = client.get(
        "/s3/params", headers=headers, params={"filename": "mine.jpg", "type": "image/jpeg"}
    ).json()["fields"]
    data = (CORPUS / "orientation-portrait-5.jpg").read_bytes()
    elsewhere = fields["key"].replace("/mine.jpg", "/planted.jpg")
    made_up = f"uploads/{me['id']}/{'0' * 32}/made-up.jpg"
    for key, claim in (
        (elsewhere, fields["x-amz-meta-glowworm-claim"]),
        (made_up, f"{me['id']}.{'0' * 64}"),
    ):
        s3.put_object(
            Bucket=settings.originals_bucket,
            Key=key,
            Body=data + key.encode(),
            ContentType="image/jpeg",
            Metadata={"glowworm-claim": claim},
        )
    admin = make_token(admin=True)
    for key in (elsewhere, made_up):
        deadline = time.monotonic() + 30
        while not (rows := _rows(client, admin, key)):
            assert time.monotonic() < deadline, f"{key} never registered"
            time.sleep(0.2)
        assert rows[0]["owner"] == settings.default_owner
    assert client.get("/api/images", headers=headers).json()["total"] == 0


def test_a_policy_holds_its_exact_key_whatever_the_file_is_called(
    uploader: Uploader, make_token: Any
) -> None:
    """A key ending in "${filename}" would make botocore sign "starts-with" instead of
    the key (S3's placeholder for the uploaded file's name); the policy still names the
    one key, so MinIO refuses any other."""
    headers = make_token()
    body = uploader.client.get(
        "/s3/params", headers=headers, params={"filename": "${filename}", "type": "image/jpeg"}
    ).json()
    fields = body["fields"]
    assert fields["key"].endswith("/${filename}")
    data = (CORPUS / "orientation-portrait-2.jpg").read_bytes()
    other = {**fields, "key": fields["key"].replace("${filename}", "other.jpg")}
    refused = uploader.http.post(
        body["url"], data=other, files={"file": ("other.jpg", data, "image/jpeg")}
    )
    assert refused.status_code == 403, refused.text
