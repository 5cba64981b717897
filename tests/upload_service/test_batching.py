"""How BatchedInserts groups and answers requests, with a writer that the test holds
up: a lone request goes at once, requests that arrive meanwhile go together next, and
a shutdown answers every waiting request, a failed batch each of its requests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from upload_service.batched_inserts import BatchedInserts, BatchFailed, DatabaseUnavailable, Row


class HeldWriter:
    """Gives row n the id 1000 + n; each write waits until the test lets it go."""

    refusals: tuple[type[Exception], ...] = (ValueError,)
    unavailable: tuple[type[Exception], ...] = (ConnectionError,)

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.closed = False

    async def write(self, rows: Sequence[Row]) -> list[int]:
        self.batches.append([row["name"] for row in rows])
        await self.release.wait()
        return [1000 + int(row["name"]) for row in rows]

    async def close(self) -> None:
        self.closed = True


def _three_at_once(writer: HeldWriter) -> tuple[list[int | BaseException], list[list[str]]]:
    """Rows "0", "1" and "2" inserted at once through ``writer``: each request's outcome,
    and the batches the writer was given."""

    async def scenario() -> list[int | BaseException]:
        inserts = BatchedInserts(writer)
        return list(
            await asyncio.gather(
                *(inserts.insert({"name": str(n)}) for n in range(3)), return_exceptions=True
            )
        )

    return asyncio.run(scenario()), writer.batches


def test_requests_that_arrive_during_a_write_go_together_in_the_next() -> None:
    async def scenario() -> tuple[list[int], list[list[str]]]:
        writer = HeldWriter()
        inserts = BatchedInserts(writer)
        first = asyncio.create_task(inserts.insert({"name": "0"}))
        await asyncio.sleep(0)  # the lone request's batch is written at once
        await asyncio.sleep(0)
        later = [asyncio.create_task(inserts.insert({"name": str(n)})) for n in range(1, 6)]
        await asyncio.sleep(0)
        writer.release.set()
        ids = await asyncio.gather(first, *later)
        # The drain task has ended; a new request starts another.
        ids.append(await inserts.insert({"name": "6"}))
        return ids, writer.batches

    ids, batches = asyncio.run(scenario())

    assert ids == [1000, 1001, 1002, 1003, 1004, 1005, 1006]
    assert batches == [["0"], ["1", "2", "3", "4", "5"], ["6"]]


# Steps of the event loop before closing: the drain task not started yet, or writing.
@pytest.mark.parametrize("steps", [1, 2])
def test_closing_answers_the_waiting_requests_and_closes_the_writer(steps: int) -> None:
    async def scenario() -> tuple[list[int | BaseException], bool]:
        writer = HeldWriter()
        inserts = BatchedInserts(writer)
        waiting = [asyncio.create_task(inserts.insert({"name": str(n)})) for n in range(3)]
        for _ in range(steps):
            await asyncio.sleep(0)
        assert len(writer.batches) == steps - 1
        await inserts.close()
        waiting.append(asyncio.create_task(inserts.insert({"name": "late"})))
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        return list(outcomes), writer.closed

    outcomes, closed = asyncio.run(scenario())

    assert closed
    assert len(outcomes) == 4, "the request after closing is refused too"
    for outcome in outcomes:
        assert isinstance(outcome, RuntimeError)
        assert "shutting down" in str(outcome)


def test_a_request_whose_client_left_does_not_disturb_the_others() -> None:
    async def scenario() -> tuple[list[int | BaseException], list[list[str]]]:
        writer = HeldWriter()
        inserts = BatchedInserts(writer)
        tasks = [asyncio.create_task(inserts.insert({"name": str(n)})) for n in range(3)]
        await asyncio.sleep(0)
        tasks[1].cancel()
        writer.release.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        return list(outcomes), writer.batches

    outcomes, batches = asyncio.run(scenario())

    assert outcomes[0] == 1000 and outcomes[2] == 1002
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert batches == [["0", "1", "2"]]


@pytest.mark.parametrize("refused", ["1", "2"])
def test_a_refused_row_is_retried_alone_and_fails_alone(refused: str) -> None:
    class Picky(HeldWriter):
        async def write(self, rows: Sequence[Row]) -> list[int]:
            if any(row["name"] == refused for row in rows):
                self.batches.append([row["name"] for row in rows])
                raise ValueError(f"row {refused} refused")
            self.release.set()
            return await super().write(rows)

    outcomes, batches = _three_at_once(Picky())

    assert [o for o in outcomes if isinstance(o, int)] == [
        1000 + n for n in range(3) if str(n) != refused
    ]
    assert str(outcomes[int(refused)]) == f"row {refused} refused"
    assert batches == [["0", "1", "2"], ["0"], ["1"], ["2"]]


@pytest.mark.parametrize(
    ("error", "kind"),
    [(ConnectionRefusedError("refused"), DatabaseUnavailable), (OSError("disk full"), BatchFailed)],
)
def test_a_failed_batch_gives_each_request_an_error_of_its_own(
    error: Exception, kind: type[BatchFailed]
) -> None:
    class Failing(HeldWriter):
        async def write(self, rows: Sequence[Row]) -> list[int]:
            self.batches.append([row["name"] for row in rows])
            raise error

    outcomes, batches = _three_at_once(Failing())

    assert batches == [["0", "1", "2"]], "not a refusal: no row is written again alone"
    assert all(type(o) is kind for o in outcomes), outcomes
    # One exception raised in three requests would carry all three tracebacks.
    assert len({id(o) for o in outcomes}) == 3
    for outcome in outcomes:
        assert isinstance(outcome, kind)
        assert outcome.__cause__ is error
        assert str(outcome) == f"writing the image row failed (3 in its batch): {error}"
