"""One-shot set-up: schema, broker topology, both buckets, the rule aborting
abandoned multipart uploads, the bucket notification.

Run by ``glowworm setup`` (locally, in CI and in the compose ``setup`` service), so all
three places wire MinIO the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from alembic import command
from alembic.config import Config
from botocore.exceptions import ClientError
from kombu import Connection

from glowworm.lifecycle import MULTIPART_LIFETIME
from glowworm.settings import Settings
from glowworm.topology import Topology

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import LifecycleRuleTypeDef

log = structlog.get_logger(__name__)

# alembic.ini sits at the repository root, beside the packages.
ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def alembic_config(database_url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def migrate(database_url: str) -> None:
    """``alembic upgrade head`` on the given database."""
    command.upgrade(alembic_config(database_url), "head")


def ensure_bucket(s3: S3Client, bucket: str) -> None:
    try:
        s3.create_bucket(Bucket=bucket)
        log.info("setup.bucket_created", bucket=bucket)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise


# The lifecycle rule that aborts multipart uploads still incomplete after a day
# (``glowworm.lifecycle.MULTIPART_LIFETIME``).
ABORT_RULE_ID = "glowworm-abort-incomplete-uploads"


def abort_incomplete_uploads(s3: S3Client, bucket: str) -> bool:
    """Add the rule aborting a day-old incomplete multipart upload to ``bucket``'s
    lifecycle, beside any rules it has; False where the store refuses the rule.

    MinIO refuses it (it aborts uploads older than its ``stale_uploads_expiry``, 24 h
    by default, by itself); the reconciler aborts them there too.
    """
    days = MULTIPART_LIFETIME.days
    rule: LifecycleRuleTypeDef = {
        "ID": ABORT_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
    }
    try:
        try:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        if any(rule.get("ID") == ABORT_RULE_ID for rule in rules):
            return True
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [*rules, rule]}
        )
    except ClientError as e:
        log.info(
            "setup.no_abort_rule",
            bucket=bucket,
            reason=str(e),
            note="the reconciler aborts incomplete multipart uploads after a day",
        )
        return False
    log.info("setup.abort_rule_set", bucket=bucket, days=days)
    return True


def wire_notifications(s3: S3Client, bucket: str, queue_arn: str) -> None:
    """Send every object-created and object-removed event of ``bucket`` to the AMQP target
    (and nothing else).

    Only the originals bucket is wired, so writing a derivative never triggers work.
    """
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "glowworm-originals",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )
    log.info("setup.notification_wired", bucket=bucket, arn=queue_arn)


def provision(settings: Settings, s3: S3Client, *, schema: bool = True) -> None:
    """Everything the services need before they start; safe to run again."""
    if schema:
        migrate(settings.database_url)
    # Queues exist before the first event: RabbitMQ drops what a fanout exchange cannot route.
    with Connection(settings.amqp_url, connect_timeout=10) as connection:
        Topology.from_settings(settings).declare(connection)
    ensure_bucket(s3, settings.originals_bucket)
    ensure_bucket(s3, settings.derivatives_bucket)
    abort_incomplete_uploads(s3, settings.originals_bucket)
    if settings.s3_notify_arn:  # the demo's store sends no events; a watcher lists it instead
        wire_notifications(s3, settings.originals_bucket, settings.s3_notify_arn)
