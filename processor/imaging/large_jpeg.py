"""Big JPEGs decoded and shrunk by libvips in one streaming pass.

The display variants of a phone photo need a full decode and a shrink by 0.5-0.9, which
shrink-on-load cannot do: Pillow's draft() and libvips' ``shrink`` both offer only 1/2,
1/4 and 1/8. Pillow's resize of the full decode cost more than the decode itself;
libvips resizes behind its decoder, never holding the full-size picture, in less time
than Pillow's decode and resize together (``python -m bench.imaging`` shows both). Only
that first shrink of a plain 8-bit RGB JPEG comes here: headers, limits, orientation,
colour and every smaller derivative stay with Pillow, which reads every format we accept.
"""

from __future__ import annotations

import functools

import pyvips
from PIL import Image, ImageFile

from glowworm.errors import FailureKind, PermanentError
from processor.imaging.geometry import Size
from processor.imaging.resampling import HAMMING_ABOVE_PIXELS

# Decodes of at most this many pixels stay with Pillow: they are quick there, and the
# hand-over from libvips (one copy of the result) would eat what libvips saves.
MIN_DECODED_PIXELS = HAMMING_ABOVE_PIXELS

# The triangle filter, widened to the shrink as Pillow's kernels are: support 1, like the
# Hamming kernel Pillow used here, and as close to Lanczos on the bench's photo (about 50 dB PSNR).
KERNEL = "linear"

# libjpeg's shrink-on-load factors, largest first.
_LOAD_SHRINKS = (8, 4, 2)

# How libvips' JPEG loader prefixes what libjpeg says, and how it says it has no memory.
_LIBJPEG = "VipsJpeg: "
_OUT_OF_MEMORY = "out of memory"


@functools.cache
def configure_libvips() -> None:
    """Set libvips up once per process; every use of libvips calls this first."""
    # One job per process (the processor scales by replicas, not threads), and every
    # upload is new, so libvips' operation cache would only hold memory.
    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)


def wanted_here(image: Image.Image, wanted: Size) -> bool:
    """Whether ``image`` (opened, not decoded) is shrunk to ``wanted`` here, not by Pillow."""
    if image.format != "JPEG" or image.mode != "RGB":
        return False
    if not isinstance(image, ImageFile.ImageFile) or not image.tile:
        return False
    if image.width <= wanted[0] or image.height <= wanted[1]:
        return False
    factor = load_shrink(image.size, wanted)
    return (image.width // factor) * (image.height // factor) > MIN_DECODED_PIXELS


def load_shrink(size: Size, wanted: Size) -> int:
    """The largest shrink-on-load factor whose decode still covers ``wanted`` both ways.

    The same rule as Pillow's draft(), which ``steps.shrink_on_load`` uses.
    """
    for factor in _LOAD_SHRINKS:
        if size[0] >= factor * wanted[0] and size[1] >= factor * wanted[1]:
            return factor
    return 1


def decode_shrunk(data: bytes, size: Size, wanted: Size) -> Image.Image:
    """The JPEG ``data`` (``size`` pixels, 8-bit RGB) decoded at exactly ``wanted``.

    Pixels stay as stored: no orientation, colour profile or metadata is applied. Raises
    PermanentError(CORRUPT) for data libjpeg cannot decode, truncated data included
    (Pillow refuses it too), and MemoryError when libvips runs out of memory.
    """
    configure_libvips()
    try:
        loaded = pyvips.Image.new_from_buffer(
            data,
            "",
            access="sequential",
            fail_on="truncated",
            shrink=load_shrink(size, wanted),
        )
        resized = loaded.resize(
            wanted[0] / loaded.width, vscale=wanted[1] / loaded.height, kernel=KERNEL
        )
        pixels = resized.write_to_memory()
    except pyvips.Error as e:
        if _OUT_OF_MEMORY in (e.detail or ""):
            # Says nothing about the upload, as library_errors treats MemoryError.
            raise MemoryError(e.detail) from e
        raise PermanentError(
            FailureKind.CORRUPT, f"corrupt or truncated image data: {_reason(e)}"
        ) from e
    made = (resized.width, resized.height, resized.bands, resized.format)
    if made != (*wanted, 3, "uchar"):
        # Pillow said 8-bit RGB and the scales are exact: a mismatch is our bug, not the
        # upload's, so it must not read as a decoder error (library_errors).
        raise AssertionError(f"libvips made {made} instead of {wanted} RGB")
    # Pillow keeps RGB as 4 bytes a pixel, so it copies the pixels either way.
    return Image.frombytes("RGB", wanted, pixels)


def _reason(error: pyvips.Error) -> str:
    """libjpeg's last complaint, the one that stopped it: "premature end of JPEG image"."""
    complaints = [
        line.removeprefix(_LIBJPEG).strip()
        for line in (error.detail or "").splitlines()
        if line.startswith(_LIBJPEG)
    ]
    return complaints[-1] if complaints else str(error.message)
