"""Engine and session factory; made once at start-up and passed down."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(database_url: str, *, pool_size: int = 5, max_overflow: int = 5) -> Engine:
    """An engine with a health-checked pool, so a restarted Postgres is noticed per checkout.

    SQLite (the demo) gets WAL and transactions that take the write lock when they
    begin: threads then queue for it instead of failing to upgrade a read lock.
    """
    if not database_url.startswith("sqlite"):
        return create_engine(
            database_url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow
        )
    engine = create_engine(database_url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves, below
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are read after we commit)."""
    return sessionmaker(engine, expire_on_commit=False)
