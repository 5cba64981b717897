"""The sizes a header may claim: at least one pixel, at most MAX_SIDE a side (header.py)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from glowworm.errors import FailureKind, PermanentError
from processor.imaging import Limits, probe
from processor.imaging.header import MAX_SIDE, check_pixels


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size).save(buffer, "PNG")
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims any size, which Pillow would refuse to write."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("size", [(MAX_SIDE, 1), (1, MAX_SIDE)])
def test_a_side_of_max_side_is_accepted(size: tuple[int, int]) -> None:
    info = probe(_png(size))
    assert (info.width, info.height) == size


@pytest.mark.parametrize("size", [(MAX_SIDE + 1, 1), (1, 70_000)])
def test_a_longer_side_is_refused_as_too_large(size: tuple[int, int]) -> None:
    with pytest.raises(PermanentError) as failure:
        probe(_png(size))
    assert failure.value.kind is FailureKind.TOO_LARGE
    width, height = size
    assert failure.value.message == (
        f"image of {width:,}x{height:,} pixels exceeds the limit of 65,535 pixels a side"
    )


@pytest.mark.parametrize("size", [(0, 20), (20, 0), (-5, 20), (0, 0)])
def test_a_size_without_pixels_is_refused_as_corrupt(size: tuple[int, int]) -> None:
    with pytest.raises(PermanentError) as failure:
        check_pixels(size, Limits())
    assert failure.value.kind is FailureKind.CORRUPT
    assert f"claims a size of {size[0]}x{size[1]}" in failure.value.message


@pytest.mark.parametrize("size", [(0, 5), (5, 0)])
def test_pillow_refuses_a_file_claiming_no_pixels_before_we_look(size: tuple[int, int]) -> None:
    with pytest.raises(PermanentError) as failure:
        probe(_png_header(*size))
    assert failure.value.kind is FailureKind.NOT_AN_IMAGE


def test_a_bomb_with_a_long_side_is_still_named_a_bomb() -> None:
    with pytest.raises(PermanentError) as failure:
        probe(_png_header(2**31, 1))
    assert failure.value.kind is FailureKind.DECOMPRESSION_BOMB
