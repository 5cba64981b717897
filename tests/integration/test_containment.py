"""One bad input costs one job, never a process (docs/ARCHITECTURE.md rule 12).

Real processors on the real services, with faults planted from outside
(tests/integration/faulty_processor.py): an original whose bytes carry a fault marker
fails that way inside its job. What a user must see: that image failed with a reason
naming what went wrong, its original kept, the processors still the same processes,
and the next image complete. A job that kills its processor on every try fails after
CRASH_LIMIT tries instead of killing processors forever.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kombu import Connection
from PIL import Image

from glowworm.job_messages import JobMessage
from glowworm.settings import Settings
from glowworm.sizes import JobType
from glowworm.topology import INGEST_KEY, URGENT_KEY, Topology, routing_key
from processor.jobs import CRASH_LIMIT
from processor.settings import ProcessorSettings
from tests.conftest import Uploader, running_processors, start_processor
from tests.integration.faulty_processor import CRASH_STATUS, MARK

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FAULTY = "tests.integration.faulty_processor"


def _photo(n: int, fault: str | None = None) -> bytes:
    """A JPEG of its own (same bytes twice would be a duplicate), the fault marker after it."""
    image = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    image.putpixel((n, n), (255, 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue() + (MARK + fault.encode() if fault else b"")


@pytest.fixture
def faulty_env(processor_env: dict[str, str]) -> dict[str, str]:
    # A short lease: a crashed attempt is taken over (and counted) 2 s after it began.
    return {**processor_env, "GLOWWORM_JOB_LEASE_SECONDS": "2"}


@pytest.fixture
def faulty_processors(
    faulty_env: dict[str, str],
    settings: Settings,
    processor_logs: Path,
    request: pytest.FixtureRequest,
) -> Iterator[list[Any]]:
    with running_processors(
        faulty_env, settings, processor_logs, request.node.nodeid, module=FAULTY
    ) as procs:
        yield procs


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("bug", "internal error (RuntimeError): a bug of ours"),
        ("MemoryError", "internal error (MemoryError)"),
        ("nul", "internal error (DataError): PostgreSQL text fields cannot contain NUL"),
        ("IntegrityError", "internal error (IntegrityError)"),
        ("decoder", "internal error (ValueError): tile cannot extend outside image"),
    ],
)
def test_an_unplanned_failure_fails_its_job_and_the_processor_goes_on(
    fault: str,
    reason: str,
    uploader: Uploader,
    make_token: Any,
    faulty_processors: list[Any],
) -> None:
    headers = make_token()
    pids = [proc.pid for proc in faulty_processors]
    data = _photo(1, fault)
    bad = uploader.upload(headers, data, f"{fault}.jpg")

    failed = uploader.wait(headers, bad["id"])
    assert failed["processing_status"] == "failed"
    assert failed["processing_error"].startswith(reason), failed["processing_error"]
    thumbnail = next(job for job in failed["jobs"] if job["job_type"] == "thumbnail")
    assert thumbnail["error_kind"] == "internal"
    # The original is kept, byte for byte, and still served.
    assert uploader.fetch(headers, bad["id"], "original").content == data

    good = uploader.upload(headers, _photo(2), "good.jpg")
    assert uploader.wait(headers, good["id"])["processing_status"] == "complete"
    assert [proc.pid for proc in faulty_processors if proc.poll() is None] == pids


def test_a_job_that_kills_its_processor_every_time_fails_after_the_limit(
    uploader: Uploader,
    make_token: Any,
    settings: Settings,
    faulty_env: dict[str, str],
    faulty_processors: list[Any],
    processor_logs: Path,
    request: pytest.FixtureRequest,
) -> None:
    headers, admin = make_token(), make_token(admin=True)
    crashing = uploader.upload(headers, _photo(1, "exit"), "crashes.jpg")
    others = [uploader.upload(headers, _photo(n), f"fine-{n}.jpg")["id"] for n in range(2, 5)]

    # Whatever runs processors starts a dead one again (make stack, compose, Kubernetes).
    crashes = 0
    deadline = time.monotonic() + 120
    while True:
        status = uploader.client.get(
            f"/api/images/{crashing['id']}/processing-status", headers=headers
        ).json()
        if status["processing_status"] == "failed":
            break
        assert time.monotonic() < deadline, f"still {status['processing_status']}: {status}"
        for n, proc in enumerate(faulty_processors):
            if proc.poll() is not None:
                assert proc.returncode == CRASH_STATUS, proc.returncode
                crashes += 1
                label = f"{request.node.nodeid} (restart {crashes})"
                faulty_processors[n] = start_processor(faulty_env, processor_logs, label, n, FAULTY)
        time.sleep(0.2)

    assert crashes == CRASH_LIMIT
    assert status["processing_error"] == f"crashed the processor {CRASH_LIMIT} times"
    for image_id in others:
        assert uploader.wait(headers, image_id)["processing_status"] == "complete"
    # An operator sees it among the failed jobs, and its message is kept for a person.
    failed = uploader.client.get(
        "/api/admin/processing-queue", params={"status": "failed"}, headers=admin
    ).json()
    mine = {job["job_type"]: job for job in failed["jobs"] if job["image_id"] == crashing["id"]}
    # The thumbnail job crashed; a failed thumbnail job fails the variant job with it.
    assert {kind: (job["error_kind"], job["error_message"]) for kind, job in mine.items()} == {
        kind: ("crashed", f"crashed the processor {CRASH_LIMIT} times")
        for kind in ("thumbnail", "variant")
    }
    with Connection(settings.amqp_url) as connection:
        dead = Topology.from_settings(settings).dead_letters(connection.default_channel)
        message = dead.get(no_ack=True)
        assert message is not None, "the message is in the dead-letter queue"
        assert JobMessage.from_body(message.body).image_id == crashing["id"]
    # Nobody restarts processors any more: none of them died.
    assert all(proc.poll() is None for proc in faulty_processors)


def _dead_bodies(settings: Settings, wanted: list[bytes], timeout: float = 30) -> list[bytes]:
    """Those of ``wanted`` that reach the dead-letter queue within ``timeout`` (taking
    every message, and keeping only those: another test's may be there too)."""
    found: list[bytes] = []
    deadline = time.monotonic() + timeout
    with Connection(settings.amqp_url) as connection:
        dead = Topology.from_settings(settings).dead_letters(connection.default_channel)
        while len(found) < len(wanted) and time.monotonic() < deadline:
            message = dead.get(no_ack=True)
            if message is None:
                time.sleep(0.2)
                continue
            body = message.body if isinstance(message.body, bytes) else message.body.encode()
            if body in wanted:
                found.append(body)
    return found


def test_poison_messages_are_dead_lettered_and_the_processors_go_on(
    uploader: Uploader, make_token: Any, settings: Settings, processors: list[Any]
) -> None:
    """Messages no processor can read, on every queue a processor consumes: each is put
    aside (the dead-letter queue, or dropped for a control message) and the same
    processes go on to complete the next upload."""
    pids = [proc.pid for proc in processors]
    topology = Topology.from_settings(settings)
    record = {
        "eventName": "s3:ObjectCreated:Put",
        "s3": {
            "bucket": {"name": settings.originals_bucket},
            "object": {"key": "poison/size.jpg", "eTag": "e", "size": "not a number"},
        },
    }
    poison = [
        # An ingest record whose size is not an integer.
        (topology.jobs, INGEST_KEY, json.dumps({"Records": [record]}).encode(), "application/json"),
        # Not JSON at all, on the ingest and on the job queues.
        (topology.jobs, INGEST_KEY, b"{{{ poison ingest", "application/json"),
        (topology.jobs, routing_key(JobType.THUMBNAIL), b"poison job", "application/json"),
        (topology.jobs, URGENT_KEY, b'{"job_id": "x"}', "application/json"),
    ]
    with Connection(settings.amqp_url) as connection:
        producer = connection.Producer()
        for exchange, key, body, content_type in poison:
            producer.publish(
                body,
                exchange=exchange,
                routing_key=key,
                content_type=content_type,
                content_encoding="binary",
                delivery_mode=2,
            )
        # A control message in a content type the processors refuse (pickle).
        producer.publish(
            b"\x80\x04poison",
            exchange=topology.control,
            routing_key="",
            content_type="application/x-python-serialize",
            content_encoding="binary",
        )

    sent = [body for _, _, body, _ in poison]
    assert sorted(_dead_bodies(settings, sent)) == sorted(sent)
    headers = make_token()
    good = uploader.upload(headers, _photo(3), "after the poison.jpg")
    assert uploader.wait(headers, good["id"])["processing_status"] == "complete"
    assert [proc.pid for proc in processors if proc.poll() is None] == pids


def _peak_rss(pid: int) -> int:
    """The most memory the process has held, in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_an_original_over_the_byte_limit_fails_without_being_read(
    uploader: Uploader,
    make_token: Any,
    settings: Settings,
    s3: S3Client,
    processors: list[Any],
) -> None:
    """60 MB put with an S3 tool, past the processor's 50 MB limit: refused from its
    size before its bytes are read, so no processor's memory grows by it."""
    limit = ProcessorSettings.model_fields["max_bytes"].default  # processor_env sets none
    size = limit + 10 * 1024 * 1024
    admin = make_token(admin=True)
    key = f"tool uploads/too large {time.monotonic_ns()}.jpg"
    # Both processors started and warm (imports, decoders) before measuring.
    for n in (4, 5):
        warm = uploader.upload(admin, _photo(n), f"warm {n}.jpg")
        assert uploader.wait(admin, warm["id"])["processing_status"] == "complete"
    peaks = [_peak_rss(proc.pid) for proc in processors]

    s3.put_object(Bucket=settings.originals_bucket, Key=key, Body=b"\xff\xd8" + bytes(size - 2))

    deadline = time.monotonic() + 60
    while not (listed := _by_key(uploader, admin, key)):
        assert time.monotonic() < deadline, f"{key!r} never registered"
        time.sleep(0.2)
    failed = uploader.wait(admin, listed[0]["id"])
    assert failed["processing_status"] == "failed"
    assert (
        failed["processing_error"] == f"file of {size:,} bytes exceeds the limit of {limit:,} bytes"
    )
    grown = [_peak_rss(proc.pid) - peak for proc, peak in zip(processors, peaks, strict=True)]
    assert max(grown) < size // 4, f"peak memory grew by {grown} bytes"


def _by_key(uploader: Uploader, headers: dict[str, str], key: str) -> list[dict[str, Any]]:
    answer = uploader.client.get("/api/images", params={"key": key}, headers=headers)
    items: list[dict[str, Any]] = answer.json()["items"]
    return items
