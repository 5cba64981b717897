"""The upload route's inserts, many concurrent requests to one statement.

Every upload through ``POST /api/uploads`` makes one pending image row. Done one
request at a time on a worker thread, that row cost more CPU than everything else the
route does: a thread hop, a pool checkout with its health check, BEGIN, INSERT and
COMMIT, each a round trip to Postgres, and the thread then took turns at the GIL with
the event loop (bench.api).

Here each request queues its row and waits; one task on the event loop drains the
queue, writing whatever has queued in one go, then the rows that queued while it ran,
and so on. A request on its own goes out at once, in a batch of one: no timer, no added
wait. Under load the batches grow by themselves, and the round trips are shared.

Postgres gets the batch from psycopg's async driver on the event loop, as one INSERT
statement for all its rows: atomic without BEGIN and COMMIT, so a batch costs a check of
its connection and the statement, two round trips. Side by side on 2 workers
and 50 connections, the route answered 855-995 requests a second through SQLAlchemy's
asyncio engine and 1,119-1,151 through psycopg; one statement per batch instead of one
INSERT per row then took Postgres from 0.21 to 0.13 CPUs at about 1,050 a second. The
demo's SQLite gets the batch through the ordinary engine on a worker thread.

A batch fails whole. When the database is down or slow (no connection within
CONNECT_TIMEOUT, no answer within WRITE_TIMEOUT), every request in it gets a
``DatabaseUnavailable`` of its own (the API answers 503), any other failure a
``BatchFailed``. When one row is refused (a constraint), the batch's rows are written
again one by one, so only the request that sent it fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache
from typing import Any, Protocol

import anyio
import psycopg
from sqlalchemy import (
    ARRAY,
    Engine,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    make_url,
    select,
)
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from glowworm.errors import DependencyUnavailable, FailureKind
from glowworm.models import Image

Row = Mapping[str, Any]
# The SQL of the Postgres inserts is SQLAlchemy's, compiled once for psycopg; the
# connection arguments are the ones SQLAlchemy's engines use too.
_PSYCOPG = make_url("postgresql+psycopg://").get_dialect()()
# Seconds a batch waits for the database connection before its requests fail.
CONNECT_TIMEOUT = 5.0
# Seconds a batch's statement may take (a lock held by a migration, a dead link): past
# them its requests fail rather than hold up every upload behind them.
WRITE_TIMEOUT = 10.0


class BatchFailed(Exception):
    """The batch holding a request's row failed whole; ``__cause__`` says why."""


class DatabaseUnavailable(BatchFailed, DependencyUnavailable):
    """No connection to the database, or no answer from it in time: try again shortly."""

    def __init__(self, message: str) -> None:
        DependencyUnavailable.__init__(self, FailureKind.DATABASE, message)


class RowWriter(Protocol):
    # Errors that refuse one row (a constraint, a value), not the whole batch.
    refusals: tuple[type[Exception], ...]
    # Errors that say the database is down or too slow.
    unavailable: tuple[type[Exception], ...]

    async def write(self, rows: Sequence[Row]) -> list[int]:
        """The ids of ``rows``, in their order, committed together."""
        ...

    async def close(self) -> None: ...


class BatchedInserts:
    """Inserts image rows from the event loop it is used on; ``insert`` returns the id.

    One batch is in flight at a time, so the writer needs one connection.
    """

    def __init__(self, writer: RowWriter) -> None:
        self.writer = writer
        self._queued: list[tuple[Row, asyncio.Future[int]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._closed = False

    async def insert(self, row: Row) -> int:
        """The id of ``row``, once it is committed; raises what the insert raised."""
        if self._closed:  # a late request must not reopen the writer's connection
            raise RuntimeError(_SHUTTING_DOWN)
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued.append((row, done))
        if self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        return await done

    async def close(self) -> None:
        """Stops the drain task and closes the writer; waiting requests get an error."""
        self._closed = True
        if self._drainer is not None:
            self._drainer.cancel()
            await asyncio.gather(self._drainer, return_exceptions=True)
            self._drainer = None  # a task cancelled before it started never cleared it
        _shut(self._queued)  # a drain task cancelled before it started left them queued
        self._queued = []
        await self.writer.close()

    async def _drain(self) -> None:
        """Writes batches until none is queued, then ends (the next insert starts another)."""
        batch: list[tuple[Row, asyncio.Future[int]]] = []
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                outcomes = await self._outcomes([row for row, _ in batch])
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if done.done():  # a request whose client left was cancelled
                        continue
                    if isinstance(outcome, Exception):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            self._drainer = None
            _shut(batch + self._queued)  # only if the drain task itself was cancelled
            self._queued = []

    async def _outcomes(self, rows: Sequence[Row]) -> Sequence[int | Exception]:
        """The id of each row, or the error that refused it."""
        try:
            return await self.writer.write(rows)
        except self.writer.refusals as e:
            if len(rows) == 1:
                return [e]
            return [outcome for row in rows for outcome in await self._outcomes([row])]
        except self.writer.unavailable as e:
            return _each(DatabaseUnavailable, e, len(rows))
        except Exception as e:
            return _each(BatchFailed, e, len(rows))


def _each(kind: type[BatchFailed], cause: Exception, count: int) -> list[Exception]:
    """An error for each request of a failed batch, caused by ``cause``: one exception
    object raised in many requests would gather all their tracebacks."""
    errors: list[Exception] = []
    for _ in range(count):
        error = kind(f"writing the image row failed ({count} in its batch): {cause}")
        error.__cause__ = cause
        errors.append(error)
    return errors


_SHUTTING_DOWN = "the API is shutting down; upload again"


def _shut(waiting: Sequence[tuple[Row, asyncio.Future[int]]]) -> None:
    for _, done in waiting:
        if not done.done():
            done.set_exception(RuntimeError(_SHUTTING_DOWN))


class PostgresWriter:
    """Rows into Postgres through one connection of its own, made when a batch needs one.

    Before each batch the connection is checked with an empty statement, so one that
    died with a restarted server is replaced, not written to. Without a connection, the
    batch makes one: the first upload after an outage reconnects at once. (psycopg_pool,
    used before, reconnects in the background with exponential backoff: after a 30 s
    outage, the Postgres fault test saw uploads still refused 14 s after it ended.)
    """

    refusals: tuple[type[Exception], ...] = (psycopg.IntegrityError, psycopg.DataError)
    # A connection refused, lost or timed out (psycopg's connect_timeout included);
    # TimeoutError is WRITE_TIMEOUT's.
    unavailable: tuple[type[Exception], ...] = (psycopg.OperationalError, TimeoutError)

    def __init__(self, database_url: str) -> None:
        _, connect_args = _PSYCOPG.create_connect_args(make_url(database_url))
        # One statement a batch: it commits alone.
        self.connect_args = {
            "connect_timeout": round(CONNECT_TIMEOUT),
            **connect_args,
            "autocommit": True,
        }
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def write(self, rows: Sequence[Row]) -> list[int]:
        columns = tuple(rows[0])
        arrays = {name: [_plain(row[name]) for row in rows] for name in columns}
        connection = await self._connected()
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                cursor = await connection.execute(_insert_sql(columns), arrays)
                returned = await cursor.fetchall()
        except self.refusals:
            raise  # the connection is fine: autocommit left no transaction open
        except BaseException:
            await self.close()  # a statement cut off, or a connection lost: start afresh
            raise
        ids = {(bucket, key): image_id for image_id, bucket, key in returned}
        if len(ids) != len(rows):
            raise RuntimeError(f"{len(rows)} image rows inserted, {len(ids)} returned")
        return [ids[row["bucket"], row["key"]] for row in rows]

    async def _connected(self) -> psycopg.AsyncConnection[Any]:
        """The connection, checked; a new one when there is none or it no longer answers.
        Check and connect together take at most CONNECT_TIMEOUT."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                if self._connection is not None:
                    try:
                        await self._connection.execute("")
                        return self._connection
                    except psycopg.Error:
                        await self.close()
                self._connection = await psycopg.AsyncConnection.connect(**self.connect_args)
                return self._connection
        except BaseException:
            await self.close()  # a check or a connect cut off: nothing half-made is kept
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


class EngineWriter:
    """Rows through a SQLAlchemy engine on a worker thread: the demo's SQLite."""

    refusals: tuple[type[Exception], ...] = (IntegrityError, DataError)
    # SQLite busy or locked, or no connection free in the engine's pool.
    unavailable: tuple[type[Exception], ...] = (OperationalError, PoolTimeout)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def write(self, rows: Sequence[Row]) -> list[int]:
        return await anyio.to_thread.run_sync(self._write, rows)

    def _write(self, rows: Sequence[Row]) -> list[int]:
        # sort_by_parameter_order: the ids in the order of the rows ("insertmanyvalues").
        statement = insert(Image).returning(Image.id, sort_by_parameter_order=True)
        with self.engine.begin() as connection:
            return list(connection.execute(statement, list(rows)).scalars())

    async def close(self) -> None:
        pass  # the engine is the app's


@cache
def _insert_sql(columns: tuple[str, ...]) -> str:
    """One INSERT for any number of rows: a column's values as one array each, unnested.

    RETURNING gives (id, bucket, key), matched to the rows by their unique bucket and key
    (Postgres does not promise to return rows in the order they were given). The arrays are cast to
    the columns' base types (text, not varchar(n), which would cut a long value short
    where the column refuses it).
    """
    table = Image.__table__
    unfilled = {c.name for c in table.c if c.default is not None} - set(columns)
    if unfilled:  # a column with a Python-side default, which only SQLAlchemy would fill
        raise ValueError(f"an image row needs {sorted(unfilled)} too")
    arrays = [
        cast(bindparam(name), ARRAY(Text() if isinstance(column.type, String) else column.type))
        for name, column in ((name, table.c[name]) for name in columns)
    ]
    rows: Select[Any] = select(literal_column("*")).select_from(func.unnest(*arrays))
    statement = (
        insert(Image).from_select(list(columns), rows).returning(Image.id, Image.bucket, Image.key)
    )
    return str(statement.compile(dialect=_PSYCOPG))


def _plain(value: Any) -> Any:
    """Enum members as the strings the columns hold (the ORM's types do this elsewhere)."""
    return value.value if isinstance(value, Enum) else value


def open_batched_inserts(database_url: str, engine: Engine) -> BatchedInserts:
    """Batched inserts for this database: Postgres's own async driver, else ``engine``.
    Nothing connects yet: the API starts even while the database is down."""
    if make_url(database_url).get_backend_name() != "postgresql":
        return BatchedInserts(EngineWriter(engine))
    return BatchedInserts(PostgresWriter(database_url))
