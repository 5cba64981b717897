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
    """Storage or the database cannot be reached at all (refused, timed out, dropped).

    Not the job's fault: it spends no attempt, and the processor stops taking work
    until the dependency answers again (the circuit breaker).
    """
