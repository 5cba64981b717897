"""Settings of the processor deployable (``GLOWWORM_*`` variables)."""

from __future__ import annotations

from pydantic import Field

from glowworm.settings import Settings


class ProcessorSettings(Settings):
    # Attempts per job before it is marked failed (transient failures only).
    max_attempts: int = Field(default=3, ge=1)
    # Seconds before the 1st, 2nd, 3rd... retry; jitter is added on top.
    retry_delays: tuple[float, ...] = (5.0, 30.0, 120.0)
    # A job in `processing` longer than this belongs to a dead worker and is taken over.
    job_lease_seconds: float = Field(default=60.0, gt=0)
    # Largest original accepted, in bytes and in pixels (checked before decoding).
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000
    # Seconds between reconciler passes inside the processor (0 turns them off).
    reconcile_interval_seconds: float = Field(default=300.0, ge=0)
    # A pending job untouched this long is taken for lost and queued again.
    stale_after_seconds: float = Field(default=600.0, gt=0)
    # An upload that stored nothing is expired this long after its URL expired: a PUT
    # begun before then may still be sending, and its bucket event may be late.
    abandoned_grace_seconds: float = Field(default=3600.0, ge=0)
    # CPU priority given up to the request path (os.nice increment, 0-19): on a machine the
    # processors share with the API and the stores, uploads are answered first and the
    # background work takes the rest of the CPU. Only felt when the CPUs are all busy.
    processor_nice: int = Field(default=10, ge=0, le=19)
