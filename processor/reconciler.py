"""The reconciler: the originals bucket listed against Postgres, the last safety net.

MinIO may drop an event, a worker may die between commit and publish, a derivative may
be deleted by hand. One pass, page by page in constant memory, queues again:
- every object with no image row, or whose row knows another ETag (an ingest event);
- every unfinished job nobody is working on: ``processing`` past its lease, or
  ``pending`` for longer than ``stale_after`` (a job message);
- every complete image whose derivatives are missing (all its jobs redone).
It also finishes deletions cut short (``processor.removal``), removes derivatives
whose original and row are both gone, marks expired the uploads that stored nothing
before their URL expired, and aborts multipart uploads left incomplete for a day.
Failed jobs are left for a person to retry. Running it twice queues nothing new for
work already queued: the handlers are idempotent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import groupby, islice
from typing import TYPE_CHECKING, Protocol

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from kombu import Connection
from minio import Minio
from sqlalchemy import and_, or_, select, text

from glowworm import lifecycle
from glowworm.ingest_messages import object_created_body
from glowworm.job_messages import JobMessage
from glowworm.layout import original_of
from glowworm.lifecycle import LONGEST_PRESIGN, MULTIPART_LIFETIME
from glowworm.manifests import manifest_key
from glowworm.models import Image, ProcessingJob, Status
from glowworm.publishing import BrokerPublisher
from glowworm.settings import Settings
from glowworm.sizes import ALL_SIZES
from glowworm.storage import make_s3_client
from glowworm.topology import Topology
from processor import blobs, manifests
from processor.context import Context
from processor.removal import discard, purge
from processor.settings import ProcessorSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = structlog.get_logger(__name__)

# Objects per listing page and per database query.
PAGE_SIZE = 1000


class Publisher(Protocol):
    def publish_ingest(self, body: str) -> None: ...

    def publish_job(self, job: JobMessage) -> None: ...


@dataclass
class ReconcileReport:
    objects: int = 0
    registered: int = 0
    resumed: int = 0
    redone: int = 0
    # Soft-deleted images purged, and derivatives removed whose original is gone.
    purged: int = 0
    swept: int = 0
    # Manifests written again (``verify_objects`` only: a complete set with none).
    manifests: int = 0
    # Uploads marked expired, and incomplete multipart uploads aborted.
    expired: int = 0
    aborted: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _pages(store: Minio, bucket: str, page_size: int) -> Iterator[list[tuple[str, str, int]]]:
    objects = blobs.listing(store, bucket)
    while page := list(islice(objects, page_size)):
        yield page


def _stuck(job: ProcessingJob, now: datetime, stale_after: timedelta) -> bool:
    if job.status is Status.PROCESSING:
        return job.lease_expires_at is None or job.lease_expires_at < now
    if job.status is Status.PENDING:
        since = job.next_attempt_at or job.started_at or job.created_at
        return since < now - stale_after
    return False


def _stored(store: Minio, image: Image) -> set[tuple[str, str]]:
    """What is in the store under the prefixes the image's derivatives are under
    (its own, where its manifest is too)."""
    wanted = {(d.bucket, d.key) for d in image.derivatives}
    return {
        (bucket, key)
        for bucket, prefix in {(b, k.rsplit("/", 1)[0] + "/") for b, k in wanted}
        for key, _, _ in blobs.listing(store, bucket, prefix)
    }


def reconcile(
    ctx: Context,
    publisher: Publisher,
    *,
    stale_after: timedelta = timedelta(minutes=10),
    verify_objects: bool = False,
    page_size: int = PAGE_SIZE,
    abandoned_grace: timedelta = timedelta(hours=1),
    multipart_lifetime: timedelta = MULTIPART_LIFETIME,
) -> ReconcileReport:
    """One pass over the originals bucket; returns what it queued.

    ``verify_objects`` also lists each complete image's derivatives in the store (one
    request per image), rather than trusting the derivative rows, and writes the
    manifest of a complete set that has none (its write failed after the commit). An
    upload that stored nothing is expired ``abandoned_grace`` after its URL expired; a
    multipart upload still incomplete ``multipart_lifetime`` after it began is aborted.
    """
    report = ReconcileReport()
    started = datetime.now(UTC)
    bucket = ctx.settings.originals_bucket
    for page in _pages(ctx.s3, bucket, page_size):
        report.objects += len(page)
        now = datetime.now(UTC)
        to_publish: list[JobMessage] = []
        unlisted: list[int] = []
        with ctx.database() as session:
            rows = {
                image.key: image
                for image in session.scalars(
                    select(Image).where(
                        Image.bucket == bucket, Image.key.in_([k for k, _, _ in page])
                    )
                )
            }
            for key, etag, size in page:
                image = rows.get(key)
                if image is not None and image.deleted_at is not None:
                    continue  # being deleted: the purges below finish it
                if image is None or image.etag != etag or not image.jobs:
                    publisher.publish_ingest(
                        object_created_body(bucket, key, etag, size, "glowworm:reconciler")
                    )
                    report.registered += 1
                    continue
                if image.processing_status is Status.COMPLETE:
                    sizes = {d.size for d in image.derivatives}
                    stored = _stored(ctx.s3, image) if verify_objects else None
                    wanted = {(d.bucket, d.key) for d in image.derivatives}
                    if sizes >= {s.name for s in ALL_SIZES} and (
                        stored is None or wanted <= stored
                    ):
                        manifest = (ctx.settings.derivatives_bucket, manifest_key(bucket, key))
                        if (
                            stored is not None
                            and manifest not in stored
                            and not blobs.exists(ctx.s3, *manifest)  # not listed above
                        ):
                            unlisted.append(image.id)  # its manifest's write failed
                        continue
                    # Lock it as every writer of its jobs does, and look again: a new
                    # version may have come in since the page was read.
                    session.refresh(image, with_for_update=True)
                    if image.processing_status is not Status.COMPLETE:
                        continue
                    redo = lifecycle.reset(image, now, redo_all=True).message
                    assert redo is not None  # every job was reset
                    to_publish.append(redo)
                    report.redone += 1
                    continue
                unfinished = [j for j in image.jobs if j.status is not Status.COMPLETE]
                if unfinished and _stuck(unfinished[0], now, stale_after):
                    to_publish.append(lifecycle.message_for(unfinished[0]))
                    report.resumed += 1
        # After the commit, so a handler that takes the message finds the reset rows.
        for message in to_publish:
            publisher.publish_job(message)
        report.manifests += sum(manifests.write(ctx, image_id) for image_id in unlisted)
    report.purged = _purge_deleted(ctx, started - stale_after)
    report.swept = _sweep_derivatives(ctx)
    # Aborted first: an upload aborted now expires its image in this same pass.
    report.aborted = _abort_incomplete_uploads(ctx, started - multipart_lifetime)
    report.expired = _expire_abandoned(ctx, started - abandoned_grace, page_size)
    report.seconds = round((datetime.now(UTC) - started).total_seconds(), 2)
    queued = report.registered + report.resumed + report.redone + report.purged + report.swept
    (log.info if queued else log.debug)("reconcile.done", **report.as_dict())
    return report


def _purge_deleted(ctx: Context, before: datetime) -> int:
    """Finish every deletion that started before ``before`` and is not done (its
    purge was cut short, or its removal message lost). Returns how many ended."""
    with ctx.database() as session:
        rows = session.execute(
            select(Image.bucket, Image.key).where(
                Image.deleted_at.is_not(None), Image.deleted_at < before
            )
        ).all()
    return sum(1 for bucket, key in rows if purge(ctx, bucket, key).events)


def _sweep_derivatives(ctx: Context, page_size: int = PAGE_SIZE) -> int:
    """Remove the derivatives whose original and row are both gone (a delete whose
    event never came, objects left by hand). Returns how many were removed.

    The listing is read in key order, one prefix's derivatives at a time, and looked
    up a page of prefixes per query, so memory stays constant. A cut prefix
    (``glowworm.layout``) does not name its original; only the rows keep those.
    """
    bucket = ctx.settings.originals_bucket
    listed = blobs.listing(ctx.s3, ctx.settings.derivatives_bucket)
    groups = groupby((key for key, _, _ in listed), lambda k: k.rsplit("/", 1)[0])
    named = (
        (found[1], list(keys))
        for prefix, keys in groups
        if (found := original_of(prefix)) is not None and found[0] == bucket
    )
    removed = 0
    while page := list(islice(named, page_size)):
        with ctx.database() as session:
            known = set(
                session.scalars(
                    select(Image.key).where(
                        Image.bucket == bucket, Image.key.in_([key for key, _ in page])
                    )
                )
            )
        for key, keys in page:
            if key in known or blobs.exists(ctx.s3, bucket, key):
                continue  # registered, or not yet: the pass above queued its ingest
            removed += discard(ctx, keys)
    return removed


def _abort_incomplete_uploads(ctx: Context, began_before: datetime) -> int:
    """Abort the multipart uploads into the originals bucket that began before
    ``began_before`` and are still incomplete (where the store runs no lifecycle rule
    for them; MinIO has none). Returns how many were aborted."""
    # boto3, not MinIO's client: only boto3 lists multipart uploads in its public API.
    s3 = _multipart_client(ctx.settings)
    bucket = ctx.settings.originals_bucket
    aborted = 0
    try:
        pages = list(s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket))
    except (BotoCoreError, ClientError) as e:
        # The rest of the pass matters more: say so, and leave them to the next one.
        log.warning("reconcile.uploads_not_listed", bucket=bucket, error=str(e))
        return 0
    for upload in (upload for page in pages for upload in page.get("Uploads", [])):
        if upload["Initiated"] >= began_before:
            continue
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        except ClientError as e:  # NoSuchUpload: the store's own clean-up came first
            if e.response.get("Error", {}).get("Code") != "NoSuchUpload":
                log.warning("reconcile.upload_not_aborted", key=upload["Key"], error=str(e))
            continue
        except BotoCoreError as e:
            log.warning("reconcile.upload_not_aborted", key=upload["Key"], error=str(e))
            continue
        log.info("reconcile.upload_aborted", key=upload["Key"], began=upload["Initiated"])
        aborted += 1
    return aborted


def _multipart_client(settings: ProcessorSettings) -> S3Client:
    """One boto3 client per store for the whole process (passes run every second in
    the demo, and a client costs tens of milliseconds to make)."""
    store = (settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key)
    return _client_for(*store, settings.s3_region)


@cache
def _client_for(endpoint: str, access_key: str, secret_key: str, region: str) -> S3Client:
    return make_s3_client(
        Settings(
            s3_endpoint=endpoint,
            s3_access_key=access_key,
            s3_secret_key=secret_key,
            s3_region=region,
        )
    )


def _expire_abandoned(ctx: Context, usable_before: datetime, page_size: int) -> int:
    """Mark expired every upload into the originals bucket that stored nothing and
    could store nothing after ``usable_before`` (``glowworm.lifecycle.expire``).
    Returns how many were marked.

    An object under the key after all (a PUT whose bucket event is late) is left to the
    pass above, which queued its ingest.
    """
    past_use = or_(
        Image.upload_expires_at < usable_before,
        and_(
            Image.upload_expires_at.is_(None),
            Image.created_at < usable_before - LONGEST_PRESIGN,
        ),
    )
    abandoned = (
        Image.bucket == ctx.settings.originals_bucket,
        Image.etag.is_(None),
        Image.deleted_at.is_(None),
        Image.processing_status == Status.PENDING,
        past_use,
    )
    page_query = select(Image.id, Image.key).where(*abandoned).order_by(Image.id).limit(page_size)
    expired, last = 0, 0
    while True:
        # Read without locks, ask the store outside any transaction, then lock each
        # row for a moment and look again: a late PUT's ingest never waits on a page.
        with ctx.sessions() as session:
            page = session.execute(page_query.where(Image.id > last)).all()
        for image_id, key in page:
            if blobs.exists(ctx.s3, ctx.settings.originals_bucket, key):
                continue
            with ctx.database() as session:
                image = session.scalars(
                    select(Image).where(Image.id == image_id, *abandoned).with_for_update()
                ).one_or_none()
                if image is None or image.jobs:
                    continue
                lifecycle.expire(
                    image, image.upload_expires_at or image.created_at + LONGEST_PRESIGN
                )
            log.info("reconcile.upload_expired", image_id=image_id, key=key)
            expired += 1
        if len(page) < page_size:
            return expired
        last = page[-1].id


# Postgres advisory lock key: one reconciler pass at a time across all processors.
_LOCK_KEY = 0x6C6F77  # "low", as in glowworm


@contextmanager
def exclusive(ctx: Context) -> Iterator[bool]:
    """True for the one caller holding the reconciler lock (always True off Postgres)."""
    with ctx.sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            yield True
            return
        held = bool(session.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}))
        try:
            yield held
        finally:
            if held:
                session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})


def run_once(
    ctx: Context, topology: Topology, *, verify_objects: bool = False
) -> ReconcileReport | None:
    """One pass if no other processor is running one; None when another holds the lock."""
    with exclusive(ctx) as mine:
        if not mine:
            return None
        with Connection(ctx.settings.amqp_url, transport_options={"confirm_publish": True}) as conn:
            publisher = BrokerPublisher(conn.Producer(), topology)
            return reconcile(
                ctx,
                publisher,
                stale_after=timedelta(seconds=ctx.settings.stale_after_seconds),
                verify_objects=verify_objects,
                abandoned_grace=timedelta(seconds=ctx.settings.abandoned_grace_seconds),
            )


def start_periodic(
    ctx: Context, topology: Topology, stop: threading.Event
) -> threading.Thread | None:
    """A daemon thread that reconciles every ``reconcile_interval_seconds`` until ``stop``."""
    interval = ctx.settings.reconcile_interval_seconds
    if interval <= 0:
        return None

    def loop() -> None:
        while not stop.wait(interval):
            try:
                run_once(ctx, topology)
            except Exception:  # the next pass tries again; never take the worker down
                log.exception("reconcile.failed")

    thread = threading.Thread(target=loop, name="reconciler", daemon=True)
    thread.start()
    return thread
