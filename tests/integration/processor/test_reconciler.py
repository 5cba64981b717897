"""The reconciler on the real Postgres, RabbitMQ and MinIO: a complete image whose
derivatives went missing is made again, and only once."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from kombu import Connection
from sqlalchemy import func, select, update

from glowworm.job_messages import JobMessage
from glowworm.manifests import MANIFEST_NAME, Manifest, manifest_key
from glowworm.models import Derivative, Image, ProcessingJob, Status
from glowworm.publishing import BrokerPublisher
from glowworm.sizes import ALL_SIZES, JobType
from glowworm.topology import Topology, routing_key
from processor.context import Context
from processor.ingest import ingest
from processor.jobs import run_job
from processor.outcomes import Finished
from processor.reconciler import ReconcileReport, reconcile
from tests.conftest import Tap
from tests.integration.processor.conftest import put_original

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _process(ctx: Context, job: JobMessage | None) -> None:
    """Run a job and the jobs it leads to, as a processor would."""
    while job is not None:
        outcome = run_job(job, ctx)
        assert isinstance(outcome, Finished), outcome
        job = outcome.follow_up


def _statuses(ctx: Context, image_id: int) -> tuple[Status, list[Status]]:
    with ctx.sessions() as session:
        image = session.get(Image, image_id)
        assert image is not None
        return image.processing_status, [job.status for job in image.jobs]


def _reconcile(ctx: Context, connection: Connection) -> ReconcileReport:
    publisher = BrokerPublisher(connection.Producer(), Topology.from_settings(ctx.settings))
    return reconcile(ctx, publisher, verify_objects=True)


def test_a_complete_image_missing_a_derivative_is_redone_once(ctx: Context, s3: S3Client) -> None:
    first = ingest(put_original(ctx, s3, "uploads/1/r/photo.jpg"), ctx).follow_up
    assert first is not None
    _process(ctx, first)
    assert _statuses(ctx, first.image_id) == (Status.COMPLETE, [Status.COMPLETE] * 2)
    with ctx.database() as session:  # finished an hour ago, long past the stale_after
        session.execute(
            update(ProcessingJob)
            .where(ProcessingJob.image_id == first.image_id)
            .values(
                created_at=func.now() - timedelta(hours=1),
                started_at=func.now() - timedelta(hours=1),
            )
        )
    with ctx.database() as session:
        smallest = session.scalars(
            select(Derivative).where(
                Derivative.image_id == first.image_id, Derivative.size == ALL_SIZES[0].name
            )
        ).one()
        bucket, key = smallest.bucket, smallest.key
    s3.delete_object(Bucket=bucket, Key=key)

    topology = Topology.from_settings(ctx.settings)
    with Connection(ctx.settings.amqp_url) as connection:
        tap = Tap(
            connection,
            topology.jobs,
            routing_key(JobType.THUMBNAIL),
            lambda body: [JobMessage.from_body(body)],
            lambda job: job.image_id,
        )
        report = _reconcile(ctx, connection)
        assert report.redone == 1, report
        assert _statuses(ctx, first.image_id) == (Status.PENDING, [Status.PENDING] * 2)
        [queued] = tap.wait_for(first.image_id)
        assert queued == first
        # Its jobs are queued now: a second pass neither redoes nor resumes them.
        again = _reconcile(ctx, connection)
        assert (again.redone, again.resumed) == (0, 0), again

    _process(ctx, queued)
    assert _statuses(ctx, first.image_id) == (Status.COMPLETE, [Status.COMPLETE] * 2)
    prefix = key.rsplit("/", 1)[0] + "/"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    names = sorted(obj["Key"].removeprefix(prefix) for obj in listed.get("Contents", []))
    assert len(names) == len(ALL_SIZES) + 1 and MANIFEST_NAME in names, names


def test_a_complete_set_without_its_manifest_gets_it_written_again(
    ctx: Context, s3: S3Client
) -> None:
    first = ingest(put_original(ctx, s3, "uploads/1/r/no manifest.jpg"), ctx).follow_up
    assert first is not None
    _process(ctx, first)
    with ctx.sessions() as session:
        image = session.get(Image, first.image_id)
        assert image is not None
        where = (ctx.settings.derivatives_bucket, manifest_key(image.bucket, image.key))
    written = s3.get_object(Bucket=where[0], Key=where[1])["Body"].read()
    s3.delete_object(Bucket=where[0], Key=where[1])  # as if its write had failed

    with Connection(ctx.settings.amqp_url) as connection:
        report = _reconcile(ctx, connection)
        assert (report.manifests, report.redone) == (1, 0), report
        assert _reconcile(ctx, connection).manifests == 0  # there now

    again = Manifest.parse(s3.get_object(Bucket=where[0], Key=where[1])["Body"].read())
    assert again.derivatives == Manifest.parse(written).derivatives
    assert again.original == Manifest.parse(written).original
