"""The upload route's batched inserts on real databases (the test's Postgres, and the
demo's SQLite): every request gets its own row's id, a refused row fails only its own
request, an outage fails each one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from glowworm.db import make_engine
from glowworm.models import Base, Image, User
from upload_service.batched_inserts import DatabaseUnavailable, open_batched_inserts
from upload_service.pending import pending_row
from upload_service.settings import UploadSettings

# Rows inserted at once: they all queue before the drain task first runs, one batch.
CONCURRENT = 40


@dataclass
class Database:
    url: str
    engine: Engine
    owner_id: int


@pytest.fixture(params=["postgres", "sqlite"])
def database(
    request: pytest.FixtureRequest, settings: UploadSettings, tmp_path: Path
) -> Iterator[Database]:
    if request.param == "postgres":
        url = settings.database_url
        engine = make_engine(url)
    else:
        url = f"sqlite:///{tmp_path / 'demo.db'}"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
    with engine.begin() as connection:
        owner_id = connection.execute(
            insert(User).returning(User.id), {"name": f"batch-{uuid.uuid4().hex}"}
        ).scalar_one()
    yield Database(url, engine, owner_id)
    engine.dispose()


def _rows(owner_id: int, names: list[str]) -> list[dict[str, object]]:
    until = datetime.now(UTC) + timedelta(minutes=15)
    return [
        pending_row(owner_id, "originals", name, "image/jpeg", 1000, usable_until=until)
        for name in names
    ]


def _inserted(database: Database, rows: list[dict[str, object]]) -> list[int | BaseException]:
    """The outcome of inserting each row, all at once, as concurrent requests do."""

    async def insert_all() -> list[int | BaseException]:
        inserts = open_batched_inserts(database.url, database.engine)
        try:
            return list(
                await asyncio.gather(*(inserts.insert(r) for r in rows), return_exceptions=True)
            )
        finally:
            await inserts.close()

    return asyncio.run(insert_all())


def _names(database: Database, ids: list[int]) -> dict[int, tuple[str, str]]:
    with database.engine.connect() as connection:
        found = connection.execute(
            select(Image.id, Image.key, Image.original_filename).where(Image.id.in_(ids))
        )
        return {image_id: (key, name) for image_id, key, name in found}


def test_concurrent_inserts_each_get_the_id_of_their_own_row(database: Database) -> None:
    rows = _rows(database.owner_id, [f"photo-{n}.jpg" for n in range(CONCURRENT)])

    outcomes = _inserted(database, rows)

    ids = [o for o in outcomes if isinstance(o, int)]
    assert len(set(ids)) == CONCURRENT, outcomes
    stored = _names(database, ids)
    assert [stored[i] for i in ids] == [(r["key"], r["original_filename"]) for r in rows]


def test_a_refused_row_fails_only_its_own_request(database: Database) -> None:
    good = _rows(database.owner_id, ["first.jpg", "second.jpg"])
    unknown_owner = _rows(database.owner_id + 1_000_000, ["orphan.jpg"])[0]

    first, refused, second = _inserted(database, [good[0], unknown_owner, good[1]])

    assert isinstance(refused, Exception)
    assert "foreign key" in str(refused).lower()
    assert isinstance(first, int) and isinstance(second, int)
    stored = _names(database, [first, second])
    assert sorted(name for _, name in stored.values()) == ["first.jpg", "second.jpg"]


def test_an_unreachable_database_fails_every_request(settings: UploadSettings) -> None:
    down = "postgresql+psycopg://glowworm:glowworm@127.0.0.1:1/glowworm"
    engine = make_engine(down)  # not used for Postgres; the writer has its own connection
    rows = _rows(1, ["a.jpg", "b.jpg", "c.jpg"])

    outcomes = _inserted(Database(down, engine, 1), rows)

    assert all(isinstance(o, DatabaseUnavailable) for o in outcomes), outcomes
    assert all("Connection refused" in str(o) for o in outcomes), outcomes


# SQLite does not enforce a column's length.
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_value_too_long_for_its_column_is_refused_not_cut_short(database: Database) -> None:
    good, too_long = _rows(database.owner_id, ["fine.jpg", "x" * 300 + ".jpg"])

    stored, refused = _inserted(database, [good, too_long])

    assert isinstance(stored, int)
    assert isinstance(refused, Exception)
    assert "too long" in str(refused)
