"""Why the demo cannot go on: the one failure ``python -m demo`` reports and exits on."""

from __future__ import annotations


class DemoError(Exception):
    """A start-up step or a background thread failed; the message is the one-line reason."""


def one_line(e: BaseException) -> str:
    """``Type: first line of the message``, for a reason that fits on one line of stderr."""
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__
