"""Pillow and pillow-heif failures, translated into PermanentError where they enter."""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, TiffTags, UnidentifiedImageError

from glowworm.errors import FailureKind, PermanentError
from processor.imaging.formats import Limits

# What decoders raise on damaged data: truncation and bad streams are OSError; broken
# headers SyntaxError, struct.error, IndexError and TypeError (the four Image.open itself
# treats as "this plugin cannot parse it"); odd field values ValueError, KeyError or
# arithmetic errors; libheif failures RuntimeError.
DECODER_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    struct.error,
    IndexError,
    TypeError,
    ValueError,
    KeyError,
    ArithmeticError,
    EOFError,
    RuntimeError,
)

# Decoders' own words that mean nothing to a person -> what they mean, in ours.
_PLAIN_WORDS = {
    "Missing dimensions": "the header gives no width or height",
    "unknown pixel mode": "its pixel layout (bits and samples per pixel) cannot be read",
    "index out of range": "a table in the file points past the end of its data",
    "unpack requires a buffer": "a header field ends before its value does",
}

# Pillow says "Image size (N pixels) exceeds limit of M pixels, ...".
_PILLOW_BOMB = re.compile(r"\((\d+) pixels\) exceeds limit of (\d+) pixels")


def bomb_message(pixels: int, limit: int, size: tuple[int, int] | None = None) -> str:
    """The user-facing reason for a picture that claims too many pixels."""
    shape = f"{size[0]}x{size[1]} = " if size else ""
    return (
        f"image of {shape}{pixels:,} pixels exceeds the limit of {limit:,} pixels "
        "(possible decompression bomb)"
    )


def _pillow_bomb_message(error: Exception, limits: Limits) -> str:
    """Pillow's verdict in our words, naming our limit when the image is over it too."""
    found = _PILLOW_BOMB.search(str(error))
    if found is None:
        return f"image exceeds the pixel limit (possible decompression bomb): {error}"
    pixels, pillow_limit = int(found[1]), int(found[2])
    limit = limits.max_pixels if pixels > limits.max_pixels else pillow_limit
    return bomb_message(pixels, limit)


@contextmanager
def library_errors(limits: Limits) -> Iterator[None]:
    """Run Pillow code so that every failure leaves as a PermanentError.

    Pillow checks its own global pixel limit in ``Image.open`` and ``seek``: past twice
    that limit it raises DecompressionBombError, past the limit it only warns. The warning
    is turned into an error here; our own ``limits`` are checked separately and do not
    depend on that global. Pillow's UserWarnings (a damaged EXIF or TIFF tag it skipped)
    are silenced: the picture is still usable and the caller cannot act on them.
    MemoryError is left alone: it says nothing about the input.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            message = _pillow_bomb_message(e, limits)
            raise PermanentError(FailureKind.DECOMPRESSION_BOMB, message) from e
        except UnidentifiedImageError as e:
            raise PermanentError(FailureKind.NOT_AN_IMAGE, "not a recognised image format") from e
        except DECODER_ERRORS as e:
            raise PermanentError(
                FailureKind.CORRUPT, f"corrupt or truncated image data: {readable(e)}"
            ) from e


def readable(error: Exception) -> str:
    """A decoder's complaint as a person can read it: never a bare number or bare jargon.

    A KeyError holding a number is a TIFF tag the file lacks (Pillow looks tags up by
    number); any other KeyError is a header value no decoder knows; a message without a
    single word names the error's class.
    """
    said = str(error.args[0]) if len(error.args) == 1 else str(error)
    if isinstance(error, KeyError) and error.args:
        if isinstance(error.args[0], int):
            tag = error.args[0]
            return f"a required TIFF tag is missing ({TiffTags.lookup(tag).name}, tag {tag})"
        return f"a header field holds a value no decoder knows ({said})"
    for words, meaning in _PLAIN_WORDS.items():
        if words in said:
            return f"{meaning} ({said})"
    if not any(char.isalpha() for char in said):
        detail = f"{type(error).__name__} {said}".strip()
        return f"the decoder stopped without saying why ({detail})"
    return said
