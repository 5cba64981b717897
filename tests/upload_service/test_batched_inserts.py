"""The upload route's batched inserts, on the real database: every request gets its
own row's id, a refused row fails only its own request, an outage fails each one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from glowworm.db import make_async_engine, make_engine
from glowworm.models import Image, User
from upload_service.batched_inserts import BatchedInserts
from upload_service.routes.uploads import pending_row
from upload_service.settings import UploadSettings

pytestmark = pytest.mark.integration

# Enough rows at once that they queue behind the first batch and go out together.
CONCURRENT = 40


@pytest.fixture
def engine(settings: UploadSettings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def owner_id(engine: Engine) -> int:
    with engine.begin() as connection:
        return int(
            connection.execute(
                insert(User).returning(User.id), {"name": f"batch-{uuid.uuid4().hex}"}
            ).scalar_one()
        )


def _rows(owner_id: int, names: list[str]) -> list[dict[str, object]]:
    return [pending_row(owner_id, "originals", name, "image/jpeg", 1000) for name in names]


async def _inserted(database_url: str, rows: list[dict[str, object]]) -> list[int | BaseException]:
    """The outcome of inserting each row, all at once, as concurrent requests do."""
    inserts = BatchedInserts(make_async_engine(database_url))
    try:
        return list(
            await asyncio.gather(*(inserts.insert(row) for row in rows), return_exceptions=True)
        )
    finally:
        await inserts.engine.dispose()


def test_concurrent_inserts_each_get_the_id_of_their_own_row(
    settings: UploadSettings, engine: Engine, owner_id: int
) -> None:
    rows = _rows(owner_id, [f"photo-{n}.jpg" for n in range(CONCURRENT)])

    outcomes = asyncio.run(_inserted(settings.database_url, rows))

    ids = [o for o in outcomes if isinstance(o, int)]
    assert len(set(ids)) == CONCURRENT, outcomes
    with engine.connect() as connection:
        stored = {
            image_id: (key, name)
            for image_id, key, name in connection.execute(
                select(Image.id, Image.key, Image.original_filename).where(Image.id.in_(ids))
            )
        }
    assert [stored[i] for i in ids] == [(r["key"], r["original_filename"]) for r in rows]


def test_a_refused_row_fails_only_its_own_request(
    settings: UploadSettings, engine: Engine, owner_id: int
) -> None:
    good = _rows(owner_id, ["first.jpg", "second.jpg"])
    unknown_owner = _rows(owner_id + 1_000_000, ["orphan.jpg"])[0]

    first, refused, second = asyncio.run(
        _inserted(settings.database_url, [good[0], unknown_owner, good[1]])
    )

    assert isinstance(refused, IntegrityError)
    assert "owner_id" in str(refused)
    assert isinstance(first, int) and isinstance(second, int)
    with engine.connect() as connection:
        names = connection.execute(
            select(Image.original_filename).where(Image.id.in_([first, second]))
        ).scalars()
        assert sorted(names) == ["first.jpg", "second.jpg"]


def test_an_unreachable_database_fails_every_request(owner_id: int) -> None:
    down = "postgresql+psycopg://glowworm:glowworm@127.0.0.1:1/glowworm"
    rows = _rows(owner_id, ["a.jpg", "b.jpg", "c.jpg"])

    outcomes = asyncio.run(_inserted(down, rows))

    assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
    assert "port 1 failed" in str(outcomes[0])
