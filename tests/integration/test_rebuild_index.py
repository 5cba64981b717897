"""`glowworm rebuild-index` on real Postgres and MinIO: processed images, a database
emptied, and the rows made again from the buckets alone, so the API answers as before."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bench import scratch
from glowworm.db import make_engine, make_session_factory
from glowworm.manifests import Manifest, manifest_key
from glowworm.models import Image, User
from glowworm.provision import provision
from glowworm.storage import make_s3_client
from glowworm.tokens import issue_token
from processor.context import Context
from processor.ingest import ingest
from processor.jobs import run_job
from processor.notifications import ObjectCreated
from processor.outcomes import Finished
from processor.settings import ProcessorSettings
from tests.conftest import CORPUS
from upload_service.app import create_app
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parents[2]
# What a person sees of an image, whatever its row's id and times.
SHOWN = (
    *("key", "bucket", "filename", "owner", "format", "mime_type", "width", "height"),
    *("size_bytes", "sha256", "etag", "exif"),
    *("processing_status", "thumbnail_status", "variant_status"),
)


def _with_database(settings: UploadSettings, database: str, **more: Any) -> UploadSettings:
    url = scratch.database_url(settings.database_url, database)
    return UploadSettings.model_validate(settings.model_dump() | {"database_url": url} | more)


@pytest.fixture
def before_and_after(settings: UploadSettings) -> Iterator[tuple[UploadSettings, UploadSettings]]:
    """Two databases of this test's own on the same buckets (also its own, so no other
    test's manifests are in them): the first to process into, the second empty."""
    own = uuid.uuid4().hex[:8]
    names = (f"glowworm_rebuild_{own}_a", f"glowworm_rebuild_{own}_b")
    buckets = {
        "originals_bucket": f"gwt-rebuild-{own}-originals",
        "derivatives_bucket": f"gwt-rebuild-{own}-derivatives",
        "queue_prefix": f"{settings.queue_prefix}-{own}",
        "s3_notify_arn": "",  # nothing is sent to processors: the test runs the jobs
    }
    s3 = make_s3_client(settings)
    pair = []
    for name in names:
        scratch.create_database(settings.database_url, name)
        pair.append(_with_database(settings, name, **buckets))
        provision(pair[-1], s3)
    yield pair[0], pair[1]
    for bucket in (buckets["originals_bucket"], buckets["derivatives_bucket"]):
        scratch.empty_and_delete(s3, bucket)
    for name in names:
        scratch.drop_database(settings.database_url, name)


def _process(ctx: Context, s3: S3Client, key: str, data: bytes, owner: str | None) -> None:
    """Put ``data`` at ``key`` (registered for ``owner`` first, as the API does) and run
    every job, as processors would."""
    bucket = ctx.settings.originals_bucket
    if owner is not None:
        with ctx.database() as session:
            user = User(name=owner, is_admin=False)
            session.add(user)
            session.flush()
            session.add(Image(owner_id=user.id, bucket=bucket, key=key, original_filename="a.jpg"))
    etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
    job = ingest(ObjectCreated(bucket, key, etag, len(data), "ObjectCreated:Put"), ctx).follow_up
    while job is not None:
        outcome = run_job(job, ctx)
        assert isinstance(outcome, Finished), outcome
        job = outcome.follow_up


def _seen(client: TestClient, admin: dict[str, str], http: httpx.Client) -> dict[str, Any]:
    """Every image as the API shows it, by key, with the bytes of its small size."""
    seen = {}
    for item in client.get("/api/images", headers=admin, params={"limit": 200}).json()["items"]:
        image_id = item["id"]
        detail = client.get(f"/api/images/{image_id}", headers=admin).json()
        status = client.get(f"/api/images/{image_id}/processing-status", headers=admin).json()
        small = client.get(
            f"/api/images/{image_id}/file",
            params={"size": "small"},
            headers=admin,
            follow_redirects=False,
        ).headers["location"]
        seen[item["key"]] = {
            **{name: detail[name] for name in SHOWN},
            "sizes": sorted((d["size"], d["width"], d["height"]) for d in detail["derivatives"]),
            "status": status["processing_status"],
            "small": http.get(small).content,
        }
    return seen


def _rebuild_index(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``glowworm rebuild-index`` as an operator runs it, with ``env``'s settings."""
    return subprocess.run(
        [sys.executable, "-m", "glowworm.cli", "rebuild-index"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _admin(settings: UploadSettings) -> dict[str, str]:
    engine = make_engine(settings.database_url)
    with make_session_factory(engine).begin() as session:
        token = issue_token(session, f"admin-{uuid.uuid4().hex[:6]}", admin=True)
    engine.dispose()
    return {"Authorization": f"Bearer {token}"}


def test_the_buckets_alone_rebuild_every_image_the_api_shows(
    before_and_after: tuple[UploadSettings, UploadSettings], s3: S3Client
) -> None:
    first, empty = before_and_after
    photo = (CORPUS / "orientation-portrait-6.jpg").read_bytes()
    keys = {
        "alice/2026/beach day.jpg": (photo + b"1", "alice"),
        unicodedata.normalize("NFD", "tool uploads/café + 50%.jpg"): (photo + b"2", None),
        "tool uploads/the same again.jpg": (photo + b"2", None),  # a duplicate of the one above
        "tool uploads/its manifest is corrupt.jpg": (photo + b"3", None),
    }
    with Context.open(ProcessorSettings.model_validate(first.model_dump())) as ctx:
        for key, (data, owner) in keys.items():
            _process(ctx, s3, key, data, owner)
    broken = manifest_key(first.originals_bucket, "tool uploads/its manifest is corrupt.jpg")
    manifest = s3.get_object(Bucket=first.derivatives_bucket, Key=broken)["Body"].read()
    assert Manifest.parse(manifest).original.owner == first.default_owner
    s3.put_object(Bucket=first.derivatives_bucket, Key=broken, Body=b'{"manifest": 1, "orig')

    with httpx.Client(timeout=30) as http, TestClient(create_app(first)) as client:
        before = _seen(client, _admin(first), http)
    assert len(before) == len(keys)
    assert before["alice/2026/beach day.jpg"]["owner"] == "alice"

    env = scratch.child_env(empty)
    run = _rebuild_index(env)
    # The corrupt manifest is reported by its key, and the others are rebuilt.
    assert run.returncode == 1, run.stderr
    assert f"skipped {broken}: " in run.stderr
    assert '"restored": 3' in run.stdout, run.stdout

    with httpx.Client(timeout=30) as http, TestClient(create_app(empty)) as client:
        after = _seen(client, _admin(empty), http)
    del before["tool uploads/its manifest is corrupt.jpg"]
    assert after == before

    # Running it again changes nothing.
    again = _rebuild_index(env)
    assert '"restored": 0' in again.stdout and '"already_there": 3' in again.stdout, again.stdout
    engine = make_engine(empty.database_url)
    with make_session_factory(engine)() as session:
        assert len(session.scalars(select(Image)).all()) == 3
    engine.dispose()
