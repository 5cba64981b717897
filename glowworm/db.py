"""Engine and session factory; made once at start-up and passed down."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(database_url: str) -> Engine:
    """An engine with a health-checked pool, so a restarted Postgres is noticed per checkout."""
    return create_engine(database_url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are read after we commit)."""
    return sessionmaker(engine, expire_on_commit=False)
