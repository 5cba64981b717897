"""`glowworm migrate-layout` on real Postgres and MinIO: three hundred images stored in
the first layout ({image id}/{size}.jpg), the command killed part way and run again, and
every derivative then under its original's prefix with its headers and a manifest."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench import scratch
from glowworm.db import make_engine, make_session_factory
from glowworm.layout import CACHE_CONTROL, derivative_prefix
from glowworm.manifests import Manifest, manifest_key
from glowworm.models import Derivative, Image, ProcessingJob, Status, User
from glowworm.provision import provision
from glowworm.sizes import ALL_SIZES, JobType
from glowworm.storage import make_s3_client
from glowworm.tokens import issue_token
from processor.migration import OLD_KEY
from upload_service.app import create_app
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parents[2]
IMAGES = 300


@pytest.fixture
def own(settings: UploadSettings) -> Iterator[UploadSettings]:
    """A database and two buckets of this test's own, with no bucket notification."""
    tag = uuid.uuid4().hex[:8]
    database = f"glowworm_migrate_{tag}"
    scratch.create_database(settings.database_url, database)
    mine = UploadSettings.model_validate(
        settings.model_dump()
        | {
            "database_url": scratch.database_url(settings.database_url, database),
            "originals_bucket": f"gwt-migrate-{tag}-originals",
            "derivatives_bucket": f"gwt-migrate-{tag}-derivatives",
            "queue_prefix": f"{settings.queue_prefix}-{tag}",
            "s3_notify_arn": "",
        }
    )
    s3 = make_s3_client(settings)
    provision(mine, s3)
    yield mine
    for bucket in (mine.originals_bucket, mine.derivatives_bucket):
        scratch.empty_and_delete(s3, bucket)
    scratch.drop_database(settings.database_url, database)


def _old_layout(
    settings: UploadSettings, s3: S3Client, images: int = IMAGES
) -> dict[tuple[int, str], bytes]:
    """Complete images as the first layout stored them; the bytes of each derivative,
    by image id and size. Every tenth has no SHA-256 on its row (kept only later); the
    last is a duplicate of the first whose rows name the first's objects."""
    stored = {}
    engine = make_engine(settings.database_url)
    with make_session_factory(engine).begin() as session:
        owner = User(name="alice", is_admin=False)
        session.add(owner)
        session.flush()
        first_id: int | None = None
        for n in range(images):
            key = f"alice/2024/photo {n:03} + café.jpg"
            original = f"original {n}".encode()
            etag = s3.put_object(Bucket=settings.originals_bucket, Key=key, Body=original)["ETag"]
            image = Image(
                owner_id=owner.id,
                bucket=settings.originals_bucket,
                key=key,
                original_filename=key.rsplit("/", 1)[1],
                etag=etag.strip('"'),
                size_bytes=len(original),
                sha256=None if n % 10 == 9 else f"{n:064x}",
                format="JPEG",
                mime_type="image/jpeg",
                width=4000,
                height=3000,
                processing_status=Status.COMPLETE,
                thumbnail_status=Status.COMPLETE,
                variant_status=Status.COMPLETE,
            )
            session.add(image)
            session.flush()
            session.add_all(
                ProcessingJob(
                    image_id=image.id,
                    job_type=job_type,
                    status=Status.COMPLETE,
                    etag=image.etag,
                    attempts=1,
                )
                for job_type in JobType
            )
            first_id = first_id or image.id
            source = first_id if n == images - 1 else image.id
            for spec in ALL_SIZES:
                data = f"{spec.name} of image {source}".encode()
                old = f"{source}/{spec.name}.jpg"
                if source == image.id:
                    s3.put_object(Bucket=settings.derivatives_bucket, Key=old, Body=data)
                stored[(image.id, spec.name)] = data
                session.add(
                    Derivative(
                        image_id=image.id,
                        size=spec.name,
                        bucket=settings.derivatives_bucket,
                        key=old,
                        width=spec.width,
                        height=spec.height,
                        bytes=len(data),
                        content_type="image/jpeg",
                    )
                )
    engine.dispose()
    # An old object whose image is long gone.
    s3.put_object(Bucket=settings.derivatives_bucket, Key="999999/small.jpg", Body=b"orphan")
    return stored


def _env(settings: UploadSettings) -> dict[str, str]:
    return scratch.child_env(settings)


COMMAND = [sys.executable, "-m", "glowworm.cli", "migrate-layout"]


def _moved(settings: UploadSettings) -> int:
    """How many derivative rows name a key of the new layout."""
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Derivative)
            .where(Derivative.key.like(f"{settings.originals_bucket}/%"))
        )
    engine.dispose()
    return count or 0


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(COMMAND, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_old_derivatives_move_under_their_original_and_a_killed_run_resumes(
    own: UploadSettings, s3: S3Client, tmp_path: Path
) -> None:
    stored = _old_layout(own, s3)
    env = _env(own)

    # Killed part way: some images moved, the others not.
    log = tmp_path / "killed.log"
    with (
        log.open("wb") as err,
        subprocess.Popen(
            COMMAND, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err
        ) as killed,
    ):
        deadline = time.monotonic() + 120
        while _moved(own) < 50 * len(ALL_SIZES):
            assert killed.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "nothing moved in 120 s"
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
    assert 0 < _moved(own) < IMAGES * len(ALL_SIZES)

    resumed = _run(env)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["skipped"] == {}
    assert 0 < report["images"] < IMAGES  # only those the killed run had not finished
    assert report["leftovers"] >= 1  # the orphan, and any the kill left
    assert "migrate-layout: 100%" in resumed.stderr  # the progress bar
    again = json.loads(_run(env).stdout)
    assert (again["images"], again["objects"], again["leftovers"]) == (0, 0, 0)

    bucket = own.derivatives_bucket
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    assert not [key for key in keys if OLD_KEY.match(key)]
    engine = make_engine(own.database_url)
    with make_session_factory(engine)() as session:
        images = session.scalars(select(Image).order_by(Image.id)).all()
        rows = {
            image.id: (image.key, sorted(image.derivatives, key=lambda d: d.size))
            for image in images
        }
    engine.dispose()
    assert len(rows) == IMAGES
    for image_id, (key, derivatives) in rows.items():
        prefix = derivative_prefix(own.originals_bucket, key)
        assert len(derivatives) == len(ALL_SIZES)
        for row in derivatives:
            assert row.key.startswith(prefix) and row.key.rsplit("/", 1)[1].startswith(row.size)
            got = s3.get_object(Bucket=bucket, Key=row.key)
            assert got["Body"].read() == stored[(image_id, row.size)]
            assert unquote(got["Metadata"]["source-key"]) == key
            assert got["CacheControl"] == CACHE_CONTROL
            # Named as bytes of an earlier renderer: a re-render gets keys of its own.
            assert got["Metadata"]["pipeline"].endswith(", render 0")
        manifest = s3.get_object(Bucket=bucket, Key=manifest_key(own.originals_bucket, key))
        listed_keys = {d.key for d in Manifest.parse(manifest["Body"].read()).derivatives}
        assert listed_keys == {row.key for row in derivatives}

    # The API serves the moved objects.
    engine = make_engine(own.database_url)
    with make_session_factory(engine).begin() as session:
        token = issue_token(session, "alice")
    engine.dispose()
    first = min(rows)
    with TestClient(create_app(own)) as client, httpx.Client() as http:
        answer = client.get(
            f"/api/images/{first}/file",
            params={"size": "small"},
            headers={"Authorization": f"Bearer {token}"},
            follow_redirects=False,
        )
        assert answer.status_code == 302, answer.text
        assert http.get(answer.headers["location"]).content == stored[(first, "small")]


def test_an_image_with_an_object_missing_is_reported_and_the_rest_move(
    own: UploadSettings, s3: S3Client
) -> None:
    stored = _old_layout(own, s3, images=4)
    broken = sorted({image_id for image_id, _ in stored})[1]
    s3.delete_object(Bucket=own.derivatives_bucket, Key=f"{broken}/medium.jpg")

    run = _run(_env(own))

    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert list(report["skipped"]) == [str(broken)]
    assert "the object no longer exists" in report["skipped"][str(broken)]
    assert f"left image {broken}: " in run.stderr
    assert report["images"] == 3
