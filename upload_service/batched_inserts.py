"""The upload route's inserts, many concurrent requests to one statement.

Every upload through ``POST /api/uploads`` makes one pending image row. Done one
request at a time on a worker thread, that row cost more CPU than everything else the
route does: a thread hop, a pool checkout with its health check, BEGIN, INSERT and
COMMIT, each a round trip to Postgres, and the thread then took turns at the GIL with
the event loop (bench.api).

Here each request queues its row and waits; one task on the event loop drains the
queue, inserting whatever has queued in one statement through the async driver, then
the rows that queued while it ran, and so on. A request on its own goes out at once, in
a batch of one: no timer, no added wait. Under load the batches grow by themselves, and
the round trips are shared.

A batch fails whole. When the database is down, every request in it gets that error.
When one row is refused (a constraint), the batch's rows are inserted again one by one,
so only the request that sent it fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from glowworm.models import Image

# Built once, so SQLAlchemy compiles it once. sort_by_parameter_order: the ids come
# back in the order of the rows given (SQLAlchemy's "insertmanyvalues" makes sure).
_INSERT_IMAGES = insert(Image).returning(Image.id, sort_by_parameter_order=True)

Row = Mapping[str, Any]


class BatchedInserts:
    """Inserts image rows from the event loop it is used on; ``insert`` returns the id.

    One batch is in flight at a time, so the engine needs one connection.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._queued: list[tuple[Row, asyncio.Future[int]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def insert(self, row: Row) -> int:
        """The id of ``row``, once it is committed; raises what the insert raised."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued.append((row, done))
        if self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        """Inserts batches until none is queued, then ends (the next insert starts another)."""
        batch: list[tuple[Row, asyncio.Future[int]]] = []
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    outcomes = await self._insert_rows([row for row, _ in batch])
                except Exception as e:  # every request in the batch gets the same error
                    outcomes = [e] * len(batch)
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if done.done():  # a request whose client left was cancelled
                        continue
                    if isinstance(outcome, Exception):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            self._drainer = None
            for _, done in batch + self._queued:  # only if the drainer itself was cancelled
                done.cancel()

    async def _insert_rows(self, rows: Sequence[Row]) -> list[int | Exception]:
        """The id of each row, or the error that refused it."""
        try:
            async with self.engine.begin() as connection:
                return list((await connection.execute(_INSERT_IMAGES, list(rows))).scalars())
        except (IntegrityError, DataError) as e:
            if len(rows) == 1:
                return [e]
        return [outcome for row in rows for outcome in await self._insert_rows([row])]
