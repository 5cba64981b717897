"""Run one thumbnail or variant job: claim, fetch, derive, store, record.

The job row in Postgres is the truth; the message only points at it. Claiming takes
a lease, so a job left in ``processing`` by a worker that died is taken over once the
lease runs out; the takeover spends no new attempt, since the last one never ended.
An unreachable dependency spends none either: the claim is handed back.
Derivatives are written before the commit that makes them visible, and the message is
acknowledged after that commit (docs/ARCHITECTURE.md rule 2). How the rows change
state is ``glowworm.lifecycle``'s; this module decides when.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from glowworm import lifecycle
from glowworm.errors import (
    DependencyUnavailable,
    FailureKind,
    InternalError,
    PermanentError,
    ProcessingError,
    TransientError,
)
from glowworm.job_messages import JobMessage
from glowworm.layout import DerivativeName, derivative_headers
from glowworm.models import Derivative, Image, JobAttempt, ProcessingJob, Status
from glowworm.sizes import SIZES_BY_NAME, JobType, sizes_for
from glowworm.status_events import StatusEvent, StatusEventType
from processor import blobs, manifests
from processor.backoff import compute_backoff
from processor.context import Context
from processor.imaging.pipeline import Rendition, render
from processor.imaging.probe import ImageInfo, probe
from processor.outcomes import Finished, Outcome, RetryLater
from processor.removal import discard

log = structlog.get_logger(__name__)

# Attempts of one job whose worker died before ending them; at this many the job fails
# instead of killing another worker (a decoder's segfault, the OOM killer on a bomb).
CRASH_LIMIT = 3


@dataclass(frozen=True)
class _Claim:
    bucket: str
    key: str
    attempt: int
    max_attempts: int
    started_at: datetime
    # "started", when this is the image's first attempt; published with the outcome.
    event: StatusEvent | None


class _Gone(Exception):
    """The image or job is gone, or the original was replaced or the job reset while we
    worked: nothing of ours is recorded."""


def run_job(msg: JobMessage, ctx: Context) -> Outcome:
    """Do one attempt of the job ``msg`` points at, and say what to do with the message.

    Raises ``DependencyUnavailable`` when storage or the database cannot be reached;
    the attempt, if one was claimed, is handed back first, so nothing is spent.
    """
    try:
        claim = _claim(msg, ctx)
    except _Gone:
        log.info("job.stale", job_id=msg.job_id, image_id=msg.image_id)
        return Finished()
    if not isinstance(claim, _Claim):
        return claim
    started = time.monotonic()
    error: ProcessingError | None = None
    outcome: Outcome | None
    try:
        try:
            outcome, result = _attempt(msg, claim, ctx), "complete"
        except _Gone:
            raise
        except PermanentError as e:
            error, result = e, "failed"
            outcome = _record_failure(msg, claim, e, ctx)
        except DependencyUnavailable as e:
            error, result, outcome = e, "postponed", None
            _hand_back(msg, claim, ctx)
        except TransientError as e:
            error = e
            if claim.attempt >= claim.max_attempts:
                result = "failed"
                outcome = _record_failure(msg, claim, e, ctx, dead=True)
            else:
                result = "retry"
                outcome = _record_retry(msg, claim, e, ctx)
        except Exception as e:
            # Nobody planned for it (a bug, a decoder's surprise, MemoryError, a database
            # refusing a value): this job fails, the worker goes on.
            log.exception("job.internal_error", image_id=msg.image_id, job_id=msg.job_id)
            error, result = InternalError.of(e), "failed"
            outcome = _record_failure(msg, claim, error, ctx)
    except _Gone:
        outcome, result = Finished(), "superseded"
    _log_outcome(msg, claim, started, result, error)
    if outcome is None:
        assert isinstance(error, DependencyUnavailable)
        raise error
    if claim.event is None or result == "superseded":
        return outcome  # no "started" for an image that is gone or replaced
    return replace(outcome, events=(claim.event, *outcome.events))


def _log_outcome(
    msg: JobMessage, claim: _Claim, started: float, result: str, error: ProcessingError | None
) -> None:
    log.info(
        "job.attempt",
        image_id=msg.image_id,
        job_id=msg.job_id,
        job_type=msg.job_type.value,
        attempt=claim.attempt,
        outcome=result,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        error=str(error) if error else None,
        error_kind=error.kind.value if error else None,
    )


# Derivatives load only where they are read (recording a success): the eager loads were
# ~16% of a processor's Python time (py-spy, 1,000-image run), half of it unread.
_LOCK_OPTIONS = (lazyload(Image.derivatives),)


@contextmanager
def _locked(msg: JobMessage, ctx: Context) -> Iterator[tuple[Session, Image, ProcessingJob]]:
    """One transaction holding the image row's lock, with the job ``msg`` points at.

    Raises ``_Gone`` when either is gone or now holds another version. The image's lock
    covers its jobs: every writer of job rows (ingest, the retry routes, these handlers)
    locks the image first, and the jobs are read after the lock is held. A lock on the
    job row as well cost a third statement per transaction, five per image.
    """
    with ctx.database() as session:
        image = session.get(
            Image, msg.image_id, with_for_update=True, populate_existing=True, options=_LOCK_OPTIONS
        )
        job = next((j for j in image.jobs if j.id == msg.job_id), None) if image else None
        if image is None or job is None or job.etag != msg.etag or image.deleted_at:
            raise _Gone
        yield session, image, job


def _claim(msg: JobMessage, ctx: Context) -> _Claim | Outcome:
    now = datetime.now(UTC)
    with _locked(msg, ctx) as (_, image, job):
        if job.status is Status.COMPLETE:
            # A repeated message; make sure the chain went on (the publish may have been lost).
            return Finished(lifecycle.next_message(image, job))
        if job.status is Status.FAILED:
            return Finished()
        if job.status is Status.PROCESSING and job.lease_expires_at and job.lease_expires_at > now:
            # Another worker holds it (or died holding it): look again when the lease ends.
            return RetryLater(delay=(job.lease_expires_at - now).total_seconds() + 1.0)
        lease = timedelta(seconds=ctx.settings.job_lease_seconds)
        event = lifecycle.claim(image, job, now, lease)
        if job.crashes >= CRASH_LIMIT:
            crashed = PermanentError(
                FailureKind.CRASHED, f"crashed the processor {job.crashes} times"
            )
            log.error("job.crashed", image_id=image.id, job_id=job.id, crashes=job.crashes)
            return Finished(events=(lifecycle.fail(image, job, crashed, now),), dead=True)
        return _Claim(image.bucket, image.key, job.attempts, job.max_attempts, now, event)


def _attempt(msg: JobMessage, claim: _Claim, ctx: Context) -> Finished:
    data, etag = blobs.read(ctx.s3, claim.bucket, claim.key, max_bytes=ctx.settings.max_bytes)
    if etag and etag != msg.etag:
        raise _Gone
    digest = hashlib.sha256(data).hexdigest()
    if msg.job_type is JobType.THUMBNAIL:
        duplicate = _record_metadata(msg, claim, digest, probe(data, ctx.limits), ctx)
        if duplicate is not None:
            _write_manifest(ctx, msg)
            return duplicate
    quality = ctx.settings.jpeg_quality
    renditions = render(data, sizes_for(msg.job_type), quality=quality, limits=ctx.limits)
    written: list[tuple[Rendition, str]] = []
    for rendition in renditions:
        name = DerivativeName(
            claim.bucket,
            claim.key,
            digest,
            SIZES_BY_NAME[rendition.size],
            rendition.content_type,
            quality,
        )
        blobs.write(
            ctx.s3,
            ctx.settings.derivatives_bucket,
            name.key_in_derivatives,
            rendition.data,
            rendition.content_type,
            derivative_headers(
                name,
                msg.etag,
                rendition.width,
                rendition.height,
                hashlib.sha256(rendition.data).hexdigest(),
            ),
        )
        written.append((rendition, name.key_in_derivatives))
    try:
        # Every rendition of one decode carries the same warning, or none.
        finished, replaced = _record_success(msg, claim, written, ctx, renditions[0].warning)
    except _Gone:
        # Deleted or replaced while we worked: what we wrote belongs to nothing.
        discard(ctx, (key for _, key in written))
        raise
    # The new keys are committed: the old version's objects go, unless a row of another
    # image still names them (a duplicate from before duplicates had copies of their own).
    discard(ctx, replaced)
    if any(event.type is StatusEventType.COMPLETE for event in finished.events):
        _write_manifest(ctx, msg)
    return finished


def _write_manifest(ctx: Context, msg: JobMessage) -> None:
    """Write the manifest of the image just completed (``processor.manifests``). The
    job is committed, so a failure here ends nothing: it is logged, and the image has
    no manifest until it is processed again."""
    try:
        manifests.write(ctx, msg.image_id)
    except ProcessingError as e:
        log.warning("manifest.not_written", image_id=msg.image_id, error=str(e))


@dataclass(frozen=True)
class _Source:
    """A derivative of the first copy of the same bytes, to copy for a duplicate."""

    size: str
    key: str
    content_type: str
    width: int
    height: int
    nbytes: int


def _record_metadata(
    msg: JobMessage, claim: _Claim, digest: str, info: ImageInfo, ctx: Context
) -> Finished | None:
    """Store what the bytes say. When the image duplicates a finished one of the owner,
    that one's derivatives are copied under this image's own prefix (inside the store)
    and the image is complete; None when it must be rendered."""
    with _locked(msg, ctx) as (session, image, job):
        if image.declared_sha256 and image.declared_sha256 != digest:
            raise PermanentError(
                FailureKind.CHECKSUM_MISMATCH,
                f"the stored file's SHA-256 is {digest}, not the {image.declared_sha256} "
                "declared for the upload; upload the file again",
            )
        image.sha256 = digest
        image.format, image.mime_type = info.format, info.mime_type
        image.width, image.height, image.orientation = info.width, info.height, info.orientation
        image.taken_at = info.taken_at
        image.camera_make, image.camera_model = info.camera_make, info.camera_model
        original = session.scalars(
            select(Image)
            .where(
                Image.owner_id == image.owner_id,
                Image.sha256 == digest,
                Image.id != image.id,
                Image.duplicate_of_id.is_(None),
                Image.deleted_at.is_(None),
                Image.processing_status == Status.COMPLETE,
            )
            .order_by(Image.id)
            .limit(1)
        ).first()
        if original is None:
            return None
        original_id = original.id
        sources = [
            _Source(d.size, d.key, d.content_type, d.width, d.height, d.bytes)
            for d in original.derivatives
            if d.bucket == ctx.settings.derivatives_bucket
            # Rendered as this image would be now (same quality and renderer).
            and d.key == _name(original.bucket, original.key, digest, d.size, d.content_type, ctx)
        ]
        if not sources or len(sources) != len(original.derivatives):
            return None
    try:
        copied = [_copy(ctx, msg, claim, digest, source) for source in sources]
    except PermanentError as e:  # the first copy's objects went meanwhile
        log.info("job.duplicate_source_gone", image_id=msg.image_id, error=str(e))
        return None
    try:
        with _locked(msg, ctx) as (session, image, job):
            now = datetime.now(UTC)
            replaced = [
                _upsert_derivative(
                    session,
                    image,
                    s.size,
                    ctx.settings.derivatives_bucket,
                    key,
                    s.width,
                    s.height,
                    s.nbytes,
                )
                for s, key in zip(sources, copied, strict=True)
            ]
            first = session.get(Image, original_id)  # None if deleted since: still a copy
            event = lifecycle.complete_as_duplicate(image, first, now)
            _log_attempt(session, job, claim, "complete", None, now)
            log.info("job.duplicate", image_id=image.id, duplicate_of=original_id)
    except _Gone:
        discard(ctx, copied)
        raise
    discard(ctx, (key for key in replaced if key))
    return Finished(events=(event,))


def _name(bucket: str, key: str, digest: str, size: str, content_type: str, ctx: Context) -> str:
    """The key of the derivative of bucket/key in ``size``, as rendered now."""
    spec = SIZES_BY_NAME[size]
    return DerivativeName(
        bucket, key, digest, spec, content_type, ctx.settings.jpeg_quality
    ).key_in_derivatives


def _copy(ctx: Context, msg: JobMessage, claim: _Claim, digest: str, source: _Source) -> str:
    """Copy one derivative of the first copy under this image's prefix, describing this
    image (its key, its ETag); the new key."""
    bucket = ctx.settings.derivatives_bucket
    spec = SIZES_BY_NAME[source.size]
    name = DerivativeName(
        claim.bucket, claim.key, digest, spec, source.content_type, ctx.settings.jpeg_quality
    )
    own_digest = blobs.metadata(ctx.s3, bucket, source.key).get("sha256", "")
    headers = derivative_headers(name, msg.etag, source.width, source.height, own_digest)
    blobs.copy(ctx.s3, bucket, source.key, name.key_in_derivatives, source.content_type, headers)
    return name.key_in_derivatives


def _upsert_derivative(
    session: Session,
    image: Image,
    size: str,
    bucket: str,
    key: str,
    width: int,
    height: int,
    nbytes: int,
) -> str | None:
    """Point the image's row of ``size`` at bucket/key; the key it named before, if
    that was another."""
    row = next((d for d in image.derivatives if d.size == size), None)
    if row is None:
        row = Derivative(image_id=image.id, size=size, content_type="image/jpeg")
        session.add(row)
        image.derivatives.append(row)
    before = row.key if row.key != key else None
    row.bucket, row.key = bucket, key
    row.width, row.height, row.bytes = width, height, nbytes
    return before


def _log_attempt(
    session: Session,
    job: ProcessingJob,
    claim: _Claim,
    outcome: str,
    error: ProcessingError | str | None,
    now: datetime,
) -> None:
    """Add the attempt to the history; ``error`` says why it failed, or for a complete
    one the warning it ended with ("decoded with recoverable errors: ...")."""
    session.add(
        JobAttempt(
            job_id=job.id,
            image_id=job.image_id,
            attempt=claim.attempt,
            outcome=outcome,
            error=str(error) if error else None,
            started_at=claim.started_at,
            finished_at=now,
        )
    )


def _record_success(
    msg: JobMessage,
    claim: _Claim,
    written: list[tuple[Rendition, str]],
    ctx: Context,
    warning: str | None,
) -> tuple[Finished, list[str]]:
    """Point the image's rows at the derivatives ``written`` (each with its key); a
    ``warning`` is kept in the attempt's history, where the status shows it. Also
    returns the keys the rows named before (an earlier version's)."""
    now = datetime.now(UTC)
    replaced: list[str] = []
    with _locked(msg, ctx) as (session, image, job):
        for r, key in written:
            before = _upsert_derivative(
                session,
                image,
                r.size,
                ctx.settings.derivatives_bucket,
                key,
                r.width,
                r.height,
                len(r.data),
            )
            if before is not None:
                replaced.append(before)
        event = lifecycle.complete(image, job, now)
        _log_attempt(session, job, claim, "complete", warning, now)
        return Finished(lifecycle.next_message(image, job), events=(event,)), replaced


def _record_failure(
    msg: JobMessage, claim: _Claim, error: ProcessingError, ctx: Context, *, dead: bool = False
) -> Finished:
    now = datetime.now(UTC)
    with _locked(msg, ctx) as (session, image, job):
        event = lifecycle.fail(image, job, error, now)
        _log_attempt(session, job, claim, "failed", error, now)
    return Finished(events=(event,), dead=dead)


def _record_retry(
    msg: JobMessage, claim: _Claim, error: TransientError, ctx: Context
) -> RetryLater:
    delay = compute_backoff(claim.attempt, ctx.settings.retry_delays)
    now = datetime.now(UTC)
    with _locked(msg, ctx) as (session, image, job):
        lifecycle.retry_later(image, job, claim.attempt, error, now, delay)
        _log_attempt(session, job, claim, "retry", error, now)
    return RetryLater(delay=delay)


def _hand_back(msg: JobMessage, claim: _Claim, ctx: Context) -> None:
    """A dependency is down: release the job with its attempt refunded."""
    with _locked(msg, ctx) as (_, image, job):
        lifecycle.hand_back(image, job, claim.attempt, datetime.now(UTC))
