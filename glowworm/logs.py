"""Structured logging: one JSON object a line on stdout, for every deployable."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "INFO") -> None:
    """Route structlog and the standard library through one JSON renderer."""
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # libvips' warnings about a damaged upload ("read gave 7 warnings") arrive as plain
    # text through pyvips' logger; the job's own log line already gives the reason.
    logging.getLogger("pyvips").setLevel(logging.ERROR)
