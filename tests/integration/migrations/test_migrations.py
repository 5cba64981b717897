"""Alembic is the only way the schema changes: up from nothing, down to nothing, no drift."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from bench.scratch import create_database, database_url, drop_database
from glowworm.models import Base
from glowworm.provision import alembic_config
from glowworm.settings import Settings


@pytest.fixture
def empty_database(base_settings: Settings) -> Iterator[str]:
    name = f"glowworm_migrations_{uuid.uuid4().hex[:8]}"
    create_database(base_settings.database_url, name)
    yield database_url(base_settings.database_url, name)
    drop_database(base_settings.database_url, name)


def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(empty_database: str) -> None:
    config = alembic_config(empty_database)
    engine = create_engine(empty_database, poolclass=NullPool)
    command.upgrade(config, "head")
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with engine.connect() as connection:
        drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert drift == [], f"models and migrations disagree: {drift}"
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
