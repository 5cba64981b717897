"""The reconciler on a large bucket: one pass over N objects, time and memory.

Puts N tiny objects into a bucket of its own (no notification, no rows: every one is
"lost"), then runs one reconciler pass with a publisher that only counts, sampling this
process's RSS while it lists and queries page by page. Constant memory means the RSS
during the pass does not grow with N.

    python -m bench.reconcile [--objects 100000]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from glowworm.job_messages import JobMessage
from glowworm.provision import migrate
from glowworm.storage import make_s3_client
from processor.context import Context
from processor.reconciler import reconcile
from processor.settings import ProcessorSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class CountingPublisher:
    def __init__(self) -> None:
        self.ingest = 0
        self.jobs = 0

    def publish_ingest(self, body: str) -> None:
        self.ingest += 1

    def publish_job(self, job: JobMessage) -> None:
        self.jobs += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    args = parser.parse_args()
    base = ProcessorSettings()
    bucket = f"bench-reconcile-{uuid.uuid4().hex[:8]}"
    settings = base.model_copy(update={"originals_bucket": bucket})
    migrate(settings.database_url)
    s3 = make_s3_client(settings)
    s3.create_bucket(Bucket=bucket)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(
            pool.map(
                lambda i: s3.put_object(Bucket=bucket, Key=f"lost/{i:07d}.jpg", Body=b"x"),
                range(args.objects),
            )
        )
    print(f"put {args.objects} objects in {time.monotonic() - started:.0f} s")

    with Context.open(settings) as ctx:
        _measure(ctx, s3, bucket)


def _measure(ctx: Context, s3: S3Client, bucket: str) -> None:
    publisher = CountingPublisher()
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            samples.append(rss_mb())

    before = rss_mb()
    sampler = threading.Thread(target=sample)
    sampler.start()
    report = reconcile(ctx, publisher)
    done.set()
    sampler.join()
    print(
        f"one pass: {report.objects} objects in {report.seconds:.1f} s "
        f"({report.objects / max(report.seconds, 0.001):.0f} objects/s), "
        f"queued {publisher.ingest} ingest events"
    )
    quarter = max(1, len(samples) // 4)
    print(
        f"RSS before the pass {before:.0f} MB; during it: first quarter max "
        f"{max(samples[:quarter], default=before):.0f} MB, last quarter max "
        f"{max(samples[-quarter:], default=before):.0f} MB, "
        f"peak {max(samples, default=before):.0f} MB"
    )

    started = time.monotonic()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [o["Key"] for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    s3.delete_bucket(Bucket=bucket)
    print(f"cleaned up in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
