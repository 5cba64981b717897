"""What a handler needs, made once in ``main()`` and passed down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from minio import Minio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from glowworm.db import make_engine, make_session_factory
from glowworm.errors import DependencyUnavailable, FailureKind
from glowworm.storage import make_minio_client
from processor import blobs
from processor.imaging.formats import Limits
from processor.settings import ProcessorSettings


@dataclass(frozen=True)
class Context:
    settings: ProcessorSettings
    sessions: sessionmaker[Session]
    # The object store, through MinIO's client (processor/blobs.py says why).
    s3: Minio

    @classmethod
    @contextmanager
    def open(cls, settings: ProcessorSettings) -> Iterator[Context]:
        """The database engine and store client ``settings`` name; the engine's
        connections are closed on leaving. Connects lazily: nothing is reached yet."""
        engine = make_engine(settings.database_url)
        try:
            yield cls(settings, make_session_factory(engine), make_minio_client(settings))
        finally:
            engine.dispose()

    @property
    def limits(self) -> Limits:
        return Limits(max_pixels=self.settings.max_pixels, max_bytes=self.settings.max_bytes)

    def probe(self) -> None:
        """Raise unless both the database and the store answer (the breaker's probe)."""
        with self.sessions() as session:
            session.execute(text("SELECT 1"))
        blobs.check_bucket(self.s3, self.settings.originals_bucket)

    @contextmanager
    def database(self) -> Iterator[Session]:
        """One transaction; an unreachable database surfaces as ``DependencyUnavailable``."""
        try:
            with self.sessions.begin() as session:
                yield session
        except DBAPIError as e:
            # OperationalError covers refused and dropped connections; anything else
            # (a constraint, a bad statement) is a bug and must surface as itself.
            if isinstance(e, OperationalError) or e.connection_invalidated:
                raise DependencyUnavailable(
                    FailureKind.DATABASE, f"database unreachable: {e.orig}"
                ) from e
            raise
