"""Fault tests on real services: crashes, outages, lost and repeated events, flaky storage.

Each prints its figures (images, time to recover, anything lost). Run with the rest of
the suite by `make test`; `pytest -m fault` runs only these.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from glowworm.layout import derivative_prefix
from glowworm.manifests import MANIFEST_NAME
from glowworm.models import Derivative, Image, JobAttempt, ProcessingJob, Status
from glowworm.sizes import ALL_SIZES
from tests.conftest import CORPUS, Uploader
from tests.fault.conftest import Pipeline, services, unique_jpeg, wait_until
from tests.integration.test_pipeline import minio_event, publish_events

pytestmark = pytest.mark.fault

PHOTO = (CORPUS / "orientation-landscape-6.jpg").read_bytes()


def settle(pipeline: Pipeline, expected: int, timeout: float) -> dict[Status, int]:
    """Wait until ``expected`` images of this pipeline are complete or failed."""
    engine = create_engine(pipeline.settings.database_url)

    def counts() -> dict[Status, int]:
        with Session(engine) as session:
            rows = session.execute(
                select(Image.processing_status, func.count())
                .where(Image.bucket == pipeline.settings.originals_bucket)
                .group_by(Image.processing_status)
            )
            return {status: n for status, n in rows}

    try:
        wait_until(
            lambda: counts().get(Status.COMPLETE, 0) + counts().get(Status.FAILED, 0) >= expected,
            timeout,
        )
        return counts()
    finally:
        engine.dispose()


def audit(pipeline: Pipeline) -> dict[str, Any]:
    """What a person would check after the storm: statuses, jobs, derivative objects."""
    engine = create_engine(pipeline.settings.database_url)
    with Session(engine) as session:
        images = session.scalars(
            select(Image).where(Image.bucket == pipeline.settings.originals_bucket)
        ).all()
        ids = [image.id for image in images]
        jobs = session.scalars(select(ProcessingJob).where(ProcessingJob.image_id.in_(ids))).all()
        derivatives = Counter(
            session.scalars(select(Derivative.image_id).where(Derivative.image_id.in_(ids))).all()
        )
        attempts = Counter(
            session.scalars(select(JobAttempt.job_id).where(JobAttempt.image_id.in_(ids))).all()
        )
    engine.dispose()
    # A derivative's key starts with its original's (glowworm/layout.py).
    by_prefix = {derivative_prefix(image.bucket, image.key): image.id for image in images}
    objects: Counter[int] = Counter()
    paginator = pipeline.s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=pipeline.settings.derivatives_bucket):
        for obj in page.get("Contents", []):
            prefix, name = obj["Key"].rsplit("/", 1)
            if name != MANIFEST_NAME:  # written after the commit; not part of the count
                objects[by_prefix[prefix + "/"]] += 1
    return {
        "images": len(images),
        "statuses": Counter(image.processing_status for image in images),
        "job_statuses": Counter(job.status for job in jobs),
        "jobs_per_image": Counter(Counter(job.image_id for job in jobs).values()),
        "derivative_rows": Counter(derivatives[i] for i in ids),
        "derivative_objects": Counter(objects[i] for i in ids),
        "max_attempts": max((job.attempts for job in jobs), default=0),
        "attempt_rows_per_job": Counter(attempts[job.id] for job in jobs),
    }


def assert_all_complete_once(report: dict[str, Any], n: int) -> None:
    sizes = len(ALL_SIZES)
    assert report["images"] == n
    assert report["statuses"] == {Status.COMPLETE: n}, report
    assert report["job_statuses"] == {Status.COMPLETE: 2 * n}, report
    assert report["jobs_per_image"] == {2: n}
    assert report["derivative_rows"] == {sizes: n}
    assert report["derivative_objects"] == {sizes: n}, "exactly one derivative set per image"


def upload_batch(uploader: Uploader, headers: dict[str, str], n: int) -> list[int]:
    return [
        uploader.upload(headers, unique_jpeg(PHOTO, i), f"batch {i}.jpg")["id"] for i in range(n)
    ]


def test_sigkill_a_processor_every_few_seconds_loses_nothing(
    pipeline: Pipeline, uploader: Uploader, make_token: Any
) -> None:
    steady = pipeline.start_processor()
    victim = pipeline.start_processor()
    headers = make_token()
    kills = 0
    stop = threading.Event()

    def killer() -> None:
        nonlocal victim, kills
        while not stop.wait(random.uniform(1.5, 3.0)):
            pipeline.kill(victim)
            kills += 1
            victim = pipeline.start_processor()

    thread = threading.Thread(target=killer)
    started = time.monotonic()
    thread.start()
    try:
        upload_batch(uploader, headers, 100)
        # Keep killing while the batch is being worked on.
        wait_until(lambda: time.monotonic() - started > 25, 60)
    finally:  # a failure above must not leave the killer running
        stop.set()
        thread.join()
    kills_stopped = time.monotonic()
    counts = settle(pipeline, 100, timeout=180)
    recovered = time.monotonic() - kills_stopped
    report = audit(pipeline)
    print(
        f"\nSIGKILL: 100 images, {kills} kills over {kills_stopped - started:.0f} s, "
        f"all settled {recovered:.1f} s after the last kill; {counts}; {report}"
    )
    assert steady.poll() is None
    assert_all_complete_once(report, 100)


def test_rabbitmq_down_for_30s_while_uploading(
    pipeline: Pipeline, uploader: Uploader, make_token: Any, own_services: None
) -> None:
    pipeline.start_processor()
    pipeline.start_processor()
    headers = make_token()
    stop_took = services("stop", "rabbitmq")
    down_at = time.monotonic()
    try:
        upload_batch(uploader, headers, 50)  # MinIO keeps the events in its queue_dir
        time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
    finally:
        services("start", "rabbitmq")
    back_at = time.monotonic()
    counts = settle(pipeline, 50, timeout=240)
    report = audit(pipeline)
    print(
        f"\nRabbitMQ outage: {back_at - down_at:.0f} s down (stop took {stop_took:.0f} s), "
        f"50 images settled {time.monotonic() - back_at:.1f} s after it returned; "
        f"{counts}; {report}"
    )
    assert_all_complete_once(report, 50)


@pytest.mark.parametrize("service", ["postgres", "minio"])
def test_a_store_down_for_30s_mid_batch_fails_nothing(
    pipeline: Pipeline, uploader: Uploader, make_token: Any, own_services: None, service: str
) -> None:
    """Postgres, or MinIO (originals being read, derivatives written): a store that does
    not answer is an outage, which spends no attempt, not a failed one."""
    pipeline.start_processor()
    pipeline.start_processor()
    headers = make_token()
    upload_batch(uploader, headers, 40)
    time.sleep(2)  # some done, some in flight
    services("stop", service)
    down_at = time.monotonic()
    try:
        if service == "postgres":
            # Someone uploading meanwhile (a token the API knows) is told to come back.
            refused = uploader.client.post(
                "/api/uploads",
                headers=headers,
                json={"filename": "during.jpg", "content_type": "image/jpeg", "size": 1000},
            )
            assert refused.status_code == 503, refused.text
            assert "try again" in refused.json()["detail"]
        time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
    finally:
        services("start", service)
    back_at = time.monotonic()
    images = 40
    if service == "postgres":
        # Uploads work again as soon as Postgres is back, not after a reconnect backoff
        # (the API's connections died with the server; new ones are made on demand).
        data = unique_jpeg(PHOTO, 40)
        announce = {"filename": "after.jpg", "content_type": "image/jpeg", "size": len(data)}

        def upload_once() -> dict[str, Any] | None:
            answer = uploader.client.post("/api/uploads", headers=headers, json=announce)
            return answer.json() if answer.status_code == 201 else None

        after = wait_until(upload_once, 10, every=0.5)
        put = uploader.http.put(
            after["upload"]["url"], content=data, headers=after["upload"]["headers"]
        )
        assert put.status_code == 200, put.text
        images += 1  # processed with the rest
    counts = settle(pipeline, images, timeout=180)
    report = audit(pipeline)
    print(
        f"\n{service} outage: {back_at - down_at:.0f} s down, {images} images settled "
        f"{time.monotonic() - back_at:.1f} s after it returned; {counts}; {report}"
    )
    assert_all_complete_once(report, images)
    assert report["max_attempts"] == 1, "an outage must spend no attempts"


def test_lost_events_are_found_by_one_reconciler_pass(pipeline: Pipeline) -> None:
    pipeline.start_processor()
    bucket = pipeline.settings.originals_bucket
    pipeline.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    for i in range(20):
        pipeline.s3.put_object(Bucket=bucket, Key=f"lost/{i} photo.jpg", Body=unique_jpeg(PHOTO, i))
    time.sleep(3)
    assert audit(pipeline)["images"] == 0, "no event, no row: the events really were lost"
    started = time.monotonic()
    printed = pipeline.reconcile()
    counts = settle(pipeline, 20, timeout=90)
    print(
        f"\nLost events: 20 objects, reconciler said {printed.strip()}, "
        f"all settled in {time.monotonic() - started:.1f} s; {counts}"
    )
    assert '"registered": 20' in printed
    assert_all_complete_once(audit(pipeline), 20)
    again = pipeline.reconcile()
    assert '"registered": 0' in again and '"resumed": 0' in again and '"redone": 0' in again


def test_every_event_three_times_shuffled_gives_one_result_each(pipeline: Pipeline) -> None:
    pipeline.start_processor()
    pipeline.start_processor()
    settings = pipeline.settings
    bucket = settings.originals_bucket
    pipeline.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    events = []
    for i in range(20):
        key = f"thrice/{i}.jpg"
        data = unique_jpeg(PHOTO, i)
        etag = pipeline.s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
        events += [minio_event(bucket, key, etag, len(data))] * 3
    random.shuffle(events)
    publish_events(settings, events)
    counts = settle(pipeline, 20, timeout=90)
    time.sleep(3)  # let the duplicates that are still queued arrive and be ignored
    report = audit(pipeline)
    print(f"\nThree deliveries each, shuffled: 60 events for 20 objects; {counts}; {report}")
    assert_all_complete_once(report, 20)
    assert report["attempt_rows_per_job"] == {1: 40}, "each job ran exactly once"


def _wait_status(
    uploader: Uploader, headers: dict[str, str], image_id: int, check: Any, timeout: float
) -> dict[str, Any]:
    def look() -> dict[str, Any] | None:
        status: dict[str, Any] = uploader.client.get(
            f"/api/images/{image_id}/processing-status", headers=headers
        ).json()
        return status if check(status) else None

    result: dict[str, Any] = wait_until(look, timeout, every=0.1)
    return result


def test_transient_failure_twice_then_success_backs_off(
    pipeline: Pipeline, uploader: Uploader, make_token: Any
) -> None:
    # A second delay long enough to mend the fault in, even on a busy machine.
    pipeline.env_overrides["GLOWWORM_RETRY_DELAYS"] = "[1.0, 6.0, 8.0]"
    pipeline.start_processor()
    headers = make_token()
    derivatives = pipeline.settings.derivatives_bucket
    pipeline.s3.delete_bucket(Bucket=derivatives)  # storage answers NoSuchBucket: transient
    image_id = uploader.upload(headers, PHOTO, "flaky.jpg")["id"]
    _wait_status(
        uploader,
        headers,
        image_id,
        lambda s: (
            s["jobs"] and s["jobs"][0]["attempts"] == 2 and s["jobs"][0]["status"] == "pending"
        ),
        timeout=30,
    )
    pipeline.s3.create_bucket(Bucket=derivatives)  # the fault is gone before attempt 3
    status = uploader.wait(headers, image_id, timeout=30)
    thumbnail = status["jobs"][0]
    history = thumbnail["history"]
    print(
        f"\nTransient twice: {[(a['attempt'], a['outcome']) for a in history]}, "
        f"{[(a['started_at'], a['finished_at']) for a in history]}"
    )
    assert status["processing_status"] == "complete"
    assert thumbnail["attempts"] == 3
    assert [a["outcome"] for a in history] == ["retry", "retry", "complete"]
    assert "NoSuchBucket" in history[0]["error"]
    gaps = [
        (
            datetime.fromisoformat(b["started_at"]) - datetime.fromisoformat(a["finished_at"])
        ).total_seconds()
        for a, b in itertools.pairwise(history)
    ]
    # Retry delays are 1 s and 6 s here, each +-20 % jitter: backoff grows between attempts.
    assert gaps[0] >= 0.8 and gaps[1] >= 4.8, gaps


def test_three_transient_failures_fail_then_retry_route_completes(
    pipeline: Pipeline, uploader: Uploader, make_token: Any
) -> None:
    pipeline.start_processor()
    headers = make_token()
    admin = make_token(admin=True)
    derivatives = pipeline.settings.derivatives_bucket
    pipeline.s3.delete_bucket(Bucket=derivatives)
    image_id = uploader.upload(headers, PHOTO, "doomed.jpg")["id"]
    failed = uploader.wait(headers, image_id, timeout=40)
    assert failed["processing_status"] == "failed"
    assert failed["jobs"][0]["attempts"] == 3
    assert "NoSuchBucket" in failed["processing_error"]

    def listing() -> dict[str, Any]:
        answer: dict[str, Any] = uploader.client.get(
            "/api/admin/processing-queue", params={"status": "failed", "limit": 500}, headers=admin
        ).json()
        return answer

    assert failed["jobs"][0]["id"] in {job["id"] for job in listing()["jobs"]}
    dead_letters = f"{pipeline.settings.queue_prefix}.dead"

    def dead_messages() -> int:
        found: int = next(q["messages"] for q in listing()["queues"] if q["name"] == dead_letters)
        return found

    # The failure is committed before the message is rejected into the dead-letter queue.
    assert wait_until(lambda: dead_messages() >= 1, 15), "the given-up message is kept there"
    pipeline.s3.create_bucket(Bucket=derivatives)
    answer = uploader.client.post(f"/api/images/{image_id}/retry-processing", headers=headers)
    assert answer.status_code == 202
    assert answer.json()["status"]["jobs"][0]["attempts"] == 0
    done = uploader.wait(headers, image_id, timeout=30)
    print(f"\nThree failures then retry: {done['processing_status']} after manual retry")
    assert done["processing_status"] == "complete"
    again = uploader.client.post(f"/api/images/{image_id}/retry-processing", headers=headers)
    assert again.status_code == 409
    assert "already processed" in again.json()["detail"]
