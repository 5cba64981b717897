"""The two families of processing failure, named for what the caller must do.

A ``PermanentError`` fails the job now and spends no retries: the input itself is at
fault (not an image, corrupt, a decompression bomb, over a limit, a refused format).
A ``TransientError`` is retried with backoff: a dependency was unreachable or slow.
Library errors are translated into one of these where they enter our code.
"""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    """Why a job failed; stored beside the message so operators can group failures."""

    EMPTY = "empty"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    CORRUPT = "corrupt"
    DECOMPRESSION_BOMB = "decompression_bomb"
    TOO_LARGE = "too_large"
    NOT_FOUND = "not_found"
    STORAGE = "storage"
    DATABASE = "database"
    BROKER = "broker"
    TIMEOUT = "timeout"
    # Nobody planned for it: a bug of ours, a library's unexpected exception, MemoryError.
    INTERNAL = "internal"
    # The job's worker died on every try (a crash nothing in the process could catch).
    CRASHED = "crashed"
    # The stored bytes are not those whose SHA-256 the upload declared.
    CHECKSUM_MISMATCH = "checksum_mismatch"


class ProcessingError(Exception):
    """Base of both families; ``str(error)`` is the message shown to users."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class PermanentError(ProcessingError):
    """The input can never be processed: fail the job at once, no retries."""


class TransientError(ProcessingError):
    """A dependency failed; the same job may succeed later, so retry with backoff."""


class DependencyUnavailable(TransientError):
    """Storage, the database or the broker cannot be reached at all (refused, timed out,
    dropped): the one root of "unavailable" on both sides.

    Not the job's fault: it spends no attempt, and the processor stops taking work
    until the dependency answers again (the circuit breaker). The API answers 503 with
    a Retry-After (``upload_service/outages.py``).
    """


# Longest exception text kept in an internal error's reason (a traceback is in the log).
_MAX_DETAIL = 300


class InternalError(PermanentError):
    """A failure nobody planned for ends its one job, never the process: a bug of ours, a
    decoder's unexpected exception, ``MemoryError``, a database refusing what we wrote.
    The reason names the exception's class; retrying is one call once it is mended."""

    @classmethod
    def of(cls, error: BaseException) -> InternalError:
        # A database error's own words are the driver's (SQLAlchemy's ``orig``); its
        # text adds the statement and its parameters.
        said = getattr(error, "orig", None) or error
        detail = " ".join(str(said).replace("\x00", "").split())[:_MAX_DETAIL]
        name = type(error).__name__
        return cls(FailureKind.INTERNAL, f"internal error ({name}): {detail or name}")
