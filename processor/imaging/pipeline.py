"""Bytes and size specs in, JPEG derivatives out: the imaging pipeline as a table of contents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from glowworm.errors import PermanentError
from glowworm.sizes import SizeSpec
from processor.imaging import second_decoder
from processor.imaging.exif import read_exif
from processor.imaging.failures import library_errors
from processor.imaging.formats import DEFAULT_LIMITS, Limits
from processor.imaging.geometry import Size, fit, turn
from processor.imaging.header import open_image
from processor.imaging.resampling import shrink
from processor.imaging.steps import (
    Canvas,
    Step,
    decode,
    encode_jpeg,
    first_frame,
    fit_largest,
    orient,
    shrink_large_jpeg,
    shrink_on_load,
    strip_metadata,
    to_srgb,
    to_working_mode,
)

# From the opened header to the largest derivative, upright, sRGB and bare; every smaller
# derivative is then resized from the one before it and encoded.
PIPELINE: tuple[Step, ...] = (
    first_frame,
    shrink_large_jpeg,
    shrink_on_load,
    decode,
    to_working_mode,
    fit_largest,
    orient,
    to_srgb,
    strip_metadata,
)

# The content type of every derivative.
JPEG = "image/jpeg"

_QUALITY_RANGE = range(1, 101)


@dataclass(frozen=True)
class Rendition:
    """One encoded derivative."""

    size: str
    width: int
    height: int
    data: bytes
    content_type: str
    # "decoded with recoverable errors: ..." when only the second decoder read the upload.
    warning: str | None = None


def render(
    data: bytes,
    sizes: Sequence[SizeSpec],
    *,
    quality: int = 85,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Rendition]:
    """One JPEG per spec, in the order given, each fitted inside ``spec.box_for``.

    The image is decoded once: upright by its EXIF orientation, in sRGB, flattened onto
    white, stripped of metadata and never upscaled. A file Pillow refuses as corrupt or
    unrecognised is tried once more with libvips (``second_decoder``); its renditions
    then carry the warning. Raises PermanentError for anything the input is to blame for
    (see ``header.open_image`` for the kinds); ValueError for an empty ``sizes`` or a
    quality outside 1..100.
    """
    if not sizes:
        raise ValueError("no sizes requested")
    if quality not in _QUALITY_RANGE:
        raise ValueError(f"JPEG quality must be 1..100, not {quality}")
    try:
        canvas, plan = _start(data, sizes, limits)
        canvas = _run_pipeline(canvas, limits)
    except PermanentError as refused:
        if refused.kind not in second_decoder.RESCUABLE:
            raise
        canvas, plan = _start_again(data, sizes, limits, refused)
        canvas = _run_pipeline(canvas, limits)
    with library_errors(limits):
        made = _derive(canvas, plan, quality)
    return [made[spec.name] for spec in sizes]


def _run_pipeline(canvas: Canvas, limits: Limits) -> Canvas:
    with library_errors(limits):
        for step in PIPELINE:
            canvas = step(canvas)
    return canvas


def _start(
    data: bytes, sizes: Sequence[SizeSpec], limits: Limits
) -> tuple[Canvas, list[tuple[SizeSpec, Size]]]:
    """The opened image on a canvas, and the plan; the canvas holds the only reference,
    so the full-size decode is freed as soon as the first resize replaces it."""
    image = open_image(data, limits)
    orientation = read_exif(image).orientation
    plan = _plan(turn(image.size, orientation), sizes)
    canvas = Canvas(
        image=image,
        orientation=orientation,
        icc_profile=image.info.get("icc_profile") or None,
        target=plan[0][1],
        source=data,
    )
    return canvas, plan


def _start_again(
    data: bytes, sizes: Sequence[SizeSpec], limits: Limits, refused: PermanentError
) -> tuple[Canvas, list[tuple[SizeSpec, Size]]]:
    """The canvas from the second decoder: upright sRGB already, so only resizing is left.

    Raises ``refused`` again when the second decoder cannot read the file either.
    """
    image = second_decoder.decode(data, limits, refused)
    plan = _plan(image.size, sizes)
    canvas = Canvas(
        image=image,
        orientation=1,
        icc_profile=None,
        target=plan[0][1],
        source=data,
        warning=second_decoder.warning(refused),
    )
    return canvas, plan


def _plan(upright: Size, sizes: Sequence[SizeSpec]) -> list[tuple[SizeSpec, Size]]:
    """Each spec with its pixel size, largest first: the order the cascade runs in."""
    planned = [(spec, fit(upright, spec.box_for(*upright))) for spec in sizes]
    return sorted(planned, key=lambda item: item[1][0] * item[1][1], reverse=True)


def _derive(
    canvas: Canvas, plan: Sequence[tuple[SizeSpec, Size]], quality: int
) -> dict[str, Rendition]:
    """Resize each derivative from the previous, larger one, and encode it."""
    made: dict[str, Rendition] = {}
    image = canvas.image
    for spec, size in plan:
        image = shrink(image, size)
        data = encode_jpeg(image, quality)
        made[spec.name] = Rendition(spec.name, *size, data, JPEG, canvas.warning)
    return made
