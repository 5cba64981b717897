"""Room of one's own on the shared services: are they up, a scratch database, bucket removal.

The test suite (tests/conftest.py) and the benchmarks (bench/sandbox.py) each run a
pipeline of their own beside a developer's data and take it down after, so both need these.
They live here rather than in the glowworm package because no deployable ever creates or
drops a database or empties a bucket; beside product code they would only invite that.
They live in bench/ rather than tests/ because the benchmarks must not depend on the test
suite, while the suite already imports bench/ (tests/bench tests its code). There is no
pytest here: each caller decides what a missing service means (the suite skips or fails, a
benchmark refuses to start).
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from glowworm.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Seconds to wait for a service to take a TCP connection before calling it down.
CONNECT_TIMEOUT_S = 2


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of a child process (a processor, an API server, the CLI) that
    works with exactly ``settings``: this process's, its GLOWWORM_* replaced by them.
    A setting that is None (unset, e.g. no quota) is left out, so the child's is too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOWWORM_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"GLOWWORM_{name.upper()}"] = str(value)
    return env


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), CONNECT_TIMEOUT_S
        ):
            return True
    except OSError:
        return False


def unreachable(settings: Settings) -> list[str]:
    """Names of the services (Postgres, RabbitMQ, MinIO) that take no TCP connection."""
    return [
        name
        for name, url, port in (
            ("Postgres", settings.database_url, 5432),
            ("RabbitMQ", settings.amqp_url, 5672),
            ("MinIO", settings.s3_endpoint, 9000),
        )
        if not _reachable(url, port)
    ]


def database_url(server_url: str, database: str) -> str:
    """The URL of ``database`` on the server ``server_url`` names, password kept for settings."""
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def _execute_as_admin(server_url: str, statement: str) -> None:
    # An engine per statement and no pool: the fault tests restart Postgres between the
    # create and the drop, and a connection kept from before would be dead.
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def create_database(server_url: str, database: str) -> None:
    """Create an empty ``database`` on the server ``server_url`` names; raises if it exists."""
    _execute_as_admin(server_url, f'CREATE DATABASE "{database}"')


def drop_database(server_url: str, database: str) -> None:
    """Drop ``database`` if it exists, closing whatever connections are still open to it."""
    _execute_as_admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def empty_and_delete(s3: S3Client, bucket: str) -> None:
    """Delete every object of ``bucket``, then the bucket (S3 deletes only empty ones)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [obj["Key"] for obj in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys]})
    s3.delete_bucket(Bucket=bucket)
