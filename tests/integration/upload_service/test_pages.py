"""The web app's pages, assets, session cookie and the cookie-authorised /media redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import CORPUS, ApiServer, Uploader
from upload_service.settings import UploadSettings


@pytest.mark.parametrize(
    ("path", "script"),
    [("/upload", "upload.js"), ("/gallery", "gallery.js"), ("/admin", "admin.js")],
)
def test_pages_are_plain_html_with_their_module(
    app_client: TestClient, path: str, script: str
) -> None:
    page = app_client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert f'<script type="module" src="/static/{script}">' in page.text
    assert '<html lang="en">' in page.text
    asset = app_client.get(f"/static/{script}")
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]


@pytest.mark.parametrize("path", ["/upload", "/gallery", "/admin"])
def test_pages_allow_only_their_own_scripts_and_the_store_and_cannot_be_framed(
    app_client: TestClient, settings: UploadSettings, path: str
) -> None:
    page = app_client.get(path)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    store = settings.s3_public_endpoint.rstrip("/")
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["img-src"] == f"'self' {store}"
    assert policy["connect-src"] == f"'self' {store}"
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"


def test_every_answer_says_nosniff_and_keeps_the_referrer_home(
    app_client: TestClient, make_token: Any
) -> None:
    for answer in (
        app_client.get("/api/images", headers=make_token()),
        app_client.get("/api/images"),  # a refusal too
        app_client.get("/static/common.js"),
        app_client.get("/healthz"),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["referrer-policy"] == "same-origin", answer.url


def test_home_redirects_to_the_upload_page(app_client: TestClient) -> None:
    answer = app_client.get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/upload"


def test_sign_in_sets_an_httponly_strict_cookie_and_names_the_user(
    app_client: TestClient, make_token: Any
) -> None:
    browser = TestClient(app_client.app)
    assert browser.post("/api/session").status_code in (401, 403)
    assert browser.post("/api/session", headers={"Authorization": "Bearer nope"}).status_code == 401
    admin = make_token(admin=True)
    answer = browser.post("/api/session", headers=admin)
    assert answer.status_code == 200
    assert answer.json()["admin"] is True
    assert answer.json()["user"].startswith("user-")
    cookie = answer.headers["set-cookie"]
    # An opaque session of its own, never the token itself.
    assert cookie.startswith("glowworm_session=gws_")
    assert admin["Authorization"].removeprefix("Bearer ") not in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; see the TLS test below
    copied = cookie.split(";", 1)[0].split("=", 1)[1]
    cleared = browser.delete("/api/session")
    assert cleared.status_code == 204
    assert 'glowworm_session=""' in cleared.headers["set-cookie"]
    # Signing out ended the session itself: a copy of the cookie no longer works.
    thief = TestClient(app_client.app, cookies={"glowworm_session": copied})
    refused = thief.get("/s3/params", params={"filename": "c.jpg", "type": "image/jpeg"})
    assert refused.status_code == 401
    assert refused.json()["detail"] == "signed out: sign in on a page again"


def test_the_session_cookie_is_secure_behind_a_tls_proxy(
    api_server: Callable[..., ApiServer], make_token: Any
) -> None:
    server = api_server()
    headers = make_token()
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1 (its --forwarded-allow-ips default).
    behind_tls = httpx.post(
        f"{server.url}/api/session", headers={**headers, "X-Forwarded-Proto": "https"}
    )
    assert behind_tls.status_code == 200
    assert "Secure" in behind_tls.headers["set-cookie"]
    plain = httpx.post(f"{server.url}/api/session", headers=headers)
    assert "Secure" not in plain.headers["set-cookie"]


def test_media_follows_the_cookie_to_the_original_until_thumbnails_exist(
    uploader: Uploader, make_token: Any
) -> None:
    headers = make_token()
    body = uploader.upload(headers, (CORPUS / "pillow-gray.jpg").read_bytes(), "gray.jpg")
    browser = TestClient(uploader.client.app)
    assert browser.get(f"/media/{body['id']}/small", follow_redirects=False).status_code == 401
    browser.post("/api/session", headers=headers)
    redirect = browser.get(f"/media/{body['id']}/original", follow_redirects=False)
    assert redirect.status_code == 302
    assert body["key"].split("/")[-1] in redirect.headers["location"]
    assert "X-Amz-Signature=" in redirect.headers["location"]
    other = TestClient(uploader.client.app)
    other.post("/api/session", headers=make_token())
    assert other.get(f"/media/{body['id']}/original", follow_redirects=False).status_code == 404
    assert browser.get(f"/media/{body['id']}/huge", follow_redirects=False).status_code == 422
