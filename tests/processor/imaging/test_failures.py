"""Library exceptions come out as PermanentError, chained, with the reason in words."""

from __future__ import annotations

import warnings

import pytest
from PIL import Image, UnidentifiedImageError

from glowworm.errors import FailureKind, PermanentError
from processor.imaging import Limits
from processor.imaging.failures import library_errors

LIMITS = Limits(max_pixels=1_000_000)


@pytest.mark.parametrize(
    ("raised", "kind", "reason"),
    [
        (UnidentifiedImageError("cannot identify"), FailureKind.NOT_AN_IMAGE, "not a recognised"),
        (OSError("image file is truncated"), FailureKind.CORRUPT, "image file is truncated"),
        (SyntaxError("not a TIFF file"), FailureKind.CORRUPT, "corrupt or truncated"),
        (ValueError("bad palette"), FailureKind.CORRUPT, "bad palette"),
        (
            Image.DecompressionBombError(
                "Image size (4364696535 pixels) exceeds limit of 178956970 pixels, could be..."
            ),
            FailureKind.DECOMPRESSION_BOMB,
            "4,364,696,535 pixels exceeds the limit of 1,000,000 pixels",
        ),
    ],
)
def test_library_exceptions_become_permanent(
    raised: Exception, kind: FailureKind, reason: str
) -> None:
    with pytest.raises(PermanentError) as failure, library_errors(LIMITS):
        raise raised
    assert failure.value.kind is kind
    assert reason in failure.value.message
    assert failure.value.__cause__ is raised


@pytest.mark.parametrize(
    ("raised", "reason"),
    [
        (KeyError(273), "a required TIFF tag is missing (StripOffsets, tag 273)"),
        (KeyError(("II", 1)), "a header field holds a value no decoder knows (('II', 1))"),
        (
            IndexError("index out of range"),
            "a table in the file points past the end of its data (index out of range)",
        ),
        (ValueError("Missing dimensions"), "the header gives no width or height"),
        (SyntaxError("unknown pixel mode"), "its pixel layout (bits and samples per pixel)"),
        (OSError(-2), "the decoder stopped without saying why (OSError -2)"),
        (ValueError(), "the decoder stopped without saying why (ValueError)"),
        (KeyError(), "the decoder stopped without saying why (KeyError)"),
    ],
)
def test_a_decoders_jargon_reads_as_words(raised: Exception, reason: str) -> None:
    with pytest.raises(PermanentError) as failure, library_errors(LIMITS):
        raise raised
    assert failure.value.kind is FailureKind.CORRUPT
    assert failure.value.message.startswith(f"corrupt or truncated image data: {reason}")


def test_bomb_warning_is_an_error_naming_pillows_limit_when_under_ours() -> None:
    with pytest.raises(PermanentError) as failure, library_errors(Limits()):
        warnings.warn(
            "Image size (2160000 pixels) exceeds limit of 1500000 pixels, could be...",
            Image.DecompressionBombWarning,
            stacklevel=1,
        )
    assert failure.value.kind is FailureKind.DECOMPRESSION_BOMB
    assert "2,160,000 pixels exceeds the limit of 1,500,000 pixels" in failure.value.message


def test_pillows_metadata_warnings_are_silenced() -> None:
    with library_errors(LIMITS):
        warnings.warn("Corrupt EXIF data", UserWarning, stacklevel=1)


@pytest.mark.parametrize("raised", [MemoryError(), AttributeError("a bug of ours")])
def test_other_exceptions_are_not_blamed_on_the_input(raised: Exception) -> None:
    with pytest.raises(type(raised)), library_errors(LIMITS):
        raise raised
