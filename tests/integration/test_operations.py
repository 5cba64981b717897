"""What operators do: watch the queue, pause and resume processing, retry."""

from __future__ import annotations

import os
import time
from typing import Any

from tests.conftest import CORPUS, Uploader


def test_pause_holds_work_in_the_queue_and_resume_finishes_it(
    uploader: Uploader, make_token: Any, processors: Any
) -> None:
    headers, admin = make_token(), make_token(admin=True)
    client = uploader.client
    assert client.post("/api/admin/processing-queue/pause", headers=headers).status_code == 403
    paused = client.post("/api/admin/processing-queue/pause", headers=admin)
    assert paused.status_code == 202
    assert paused.json() == {"paused": True}

    def queued() -> tuple[bool, int]:
        queue = client.get("/api/admin/processing-queue", headers=admin).json()
        ingest = next(q for q in queue["queues"] if q["name"].endswith(".ingest"))
        return queue["paused"], ingest["messages"]

    try:
        time.sleep(1)  # the processors hear the nudge
        before = queued()[1]
        body = uploader.upload(
            headers, (CORPUS / "pillow-rgb.bmp").read_bytes(), "held.bmp", "image/bmp"
        )
        # MinIO sends its event on a 3 s timer (nobody calls complete here).
        deadline = time.monotonic() + 30
        while (now := queued())[1] <= before and time.monotonic() < deadline:
            time.sleep(0.2)
        still_paused, waiting = now
        assert still_paused is True
        assert waiting > before, "the event waits in its queue"
        time.sleep(1)  # long enough for a processor that took work to claim it
        held = client.get(f"/api/images/{body['id']}/processing-status", headers=headers).json()
        assert held["processing_status"] == "pending", "nothing is processed while paused"
    finally:
        resumed = client.post("/api/admin/processing-queue/resume", headers=admin)
    assert resumed.json() == {"paused": False}
    done = uploader.wait(headers, body["id"])
    assert done["processing_status"] == "complete"


def test_admin_queue_view_counts_and_filters(
    uploader: Uploader, make_token: Any, processors: Any
) -> None:
    headers, admin = make_token(), make_token(admin=True)
    body = uploader.upload(headers, (CORPUS / "pillow-gray.jpg").read_bytes(), "gray.jpg")
    uploader.wait(headers, body["id"])
    queue = uploader.client.get(
        "/api/admin/processing-queue",
        params={"job_type": "variant", "status": "complete", "limit": 5},
        headers=admin,
    ).json()
    assert set(queue) >= {
        "queue_size",
        "processing_count",
        "failed_count",
        "oldest_job_age_seconds",
        "jobs",
        "queues",
    }
    assert queue["limit"] == 5 and len(queue["jobs"]) <= 5
    assert all(
        job["job_type"] == "variant" and job["status"] == "complete" for job in queue["jobs"]
    )
    assert queue["total_jobs"] >= 1
    names = {q["name"].rsplit(".", 1)[-1] for q in queue["queues"]}
    assert {"urgent", "ingest", "thumbnails", "variants", "dead"} <= names


def test_retry_of_a_failed_image_reports_the_same_reason_and_spends_no_retries(
    uploader: Uploader, make_token: Any, processors: Any
) -> None:
    headers = make_token()
    data = (CORPUS / "fake.jpg").read_bytes()
    body = uploader.upload(headers, data, "fake.jpg")
    failed = uploader.wait(headers, body["id"])
    assert failed["processing_status"] == "failed"
    retried = uploader.client.post(f"/api/images/{body['id']}/retry-processing", headers=headers)
    assert retried.status_code == 202
    assert retried.json()["status"]["processing_status"] == "pending"
    again = uploader.wait(headers, body["id"])
    assert again["processing_status"] == "failed"
    assert "not a recognised image" in again["processing_error"]
    assert again["jobs"][0]["attempts"] == 1


def test_processors_give_way_to_the_request_path(processors: Any) -> None:
    """Processors run 10 nice levels below the API: uploads are answered first when the
    CPUs are busy with image work."""
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    deadline = time.monotonic() + 30
    while True:
        levels = [os.getpriority(os.PRIO_PROCESS, proc.pid) for proc in processors]
        if all(level == ours + 10 for level in levels) or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # just started: main() has not reached os.nice yet
    assert levels == [ours + 10] * len(processors)
