"""A real processor with faults planted, for the containment tests.

``python -m tests.integration.faulty_processor`` runs ``processor.main`` as deployed, on
the real services, except that an original whose bytes end with ``glowworm-fault:WHAT``
fails the way WHAT says, inside its job: at the probe of its thumbnail job (``exit``,
``bug``, ``MemoryError``, ``IntegrityError``, ``nul``) or in the imaging core
(``decoder``). The faults are put in from outside; the product has no hook for them.
"""

from __future__ import annotations

import dataclasses
import os
import runpy
from typing import Any

from sqlalchemy.exc import IntegrityError

from processor import jobs
from processor.imaging.pipeline import Rendition
from processor.imaging.pipeline import render as real_render
from processor.imaging.probe import ImageInfo
from processor.imaging.probe import probe as real_probe

MARK = b"glowworm-fault:"
# The exit status of a planted crash: what a segfault or the OOM killer looks like from
# outside, a process gone without a word.
CRASH_STATUS = 70


def _planted(data: bytes) -> str | None:
    at = data.rfind(MARK)
    return data[at + len(MARK) :].decode() if at >= 0 else None


def probe(data: bytes, *args: Any, **kwargs: Any) -> ImageInfo:
    info = real_probe(data, *args, **kwargs)
    match _planted(data):
        case "exit":
            os._exit(CRASH_STATUS)
        case "bug":
            raise RuntimeError("a bug of ours")
        case "MemoryError":
            raise MemoryError
        case "IntegrityError":
            raise IntegrityError(
                "INSERT INTO derivatives ...", {}, Exception("duplicate key value")
            )
        case "nul":
            # What a camera writes (ION230\0F); Postgres refuses it with a DataError.
            return dataclasses.replace(info, camera_model="ION230\x00F")
    return info


def render(data: bytes, *args: Any, **kwargs: Any) -> list[Rendition]:
    if _planted(data) == "decoder":
        raise ValueError("tile cannot extend outside image")  # one of Pillow's surprises
    return real_render(data, *args, **kwargs)


# The names processor.jobs calls, swapped before the processor starts.
vars(jobs).update(probe=probe, render=render)

if __name__ == "__main__":
    runpy.run_module("processor.main", run_name="__main__")
