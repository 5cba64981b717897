"""Engine and session factory; made once at start-up and passed down."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
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
    _sqlite_as_we_use_it(engine)
    return engine


def make_async_engine(database_url: str, *, pool_size: int = 1) -> AsyncEngine:
    """The same database for code on the event loop (psycopg's async mode; aiosqlite)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(
            url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size
        )
    engine = create_async_engine(
        url.set(drivername="sqlite+aiosqlite"), connect_args={"timeout": 30}
    )
    _sqlite_as_we_use_it(engine.sync_engine)
    return engine


def _sqlite_as_we_use_it(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are read after we commit)."""
    return sessionmaker(engine, expire_on_commit=False)
