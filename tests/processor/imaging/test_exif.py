"""EXIF facts from files whose EXIF is odd, missing or damaged."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from PIL import Image

from processor.imaging import probe

ORIENTATION, MAKE, MODEL, DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
EXIF_IFD, DATETIME_ORIGINAL = 0x8769, 0x9003


def _jpeg(exif: Image.Exif | bytes | None = None, size: tuple[int, int] = (30, 20)) -> bytes:
    buffer = io.BytesIO()
    extra = {} if exif is None else {"exif": exif}
    Image.new("RGB", size, (90, 120, 150)).save(buffer, "JPEG", **extra)
    return buffer.getvalue()


def _exif(**tags: object) -> Image.Exif:
    exif = Image.Exif()
    for name, value in tags.items():
        if name == "original":
            exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = value
        else:
            exif[
                {"orientation": ORIENTATION, "make": MAKE, "model": MODEL, "when": DATETIME}[name]
            ] = value
    return exif


def test_no_exif_at_all() -> None:
    info = probe(_jpeg())
    assert (info.orientation, info.taken_at, info.camera_make, info.camera_model) == (
        1,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(("stored", "read"), [(0, 1), (9, 1), (65535, 1), (8, 8), (2, 2)])
def test_orientation_outside_1_to_8_means_1(stored: int, read: int) -> None:
    assert probe(_jpeg(_exif(orientation=stored))).orientation == read


def test_sideways_orientation_swaps_the_reported_size() -> None:
    info = probe(_jpeg(_exif(orientation=8), size=(30, 20)))
    assert (info.width, info.height) == (20, 30)


def test_original_time_wins_over_the_file_time() -> None:
    exif = _exif(when="2020:01:02 03:04:05", original="2019:12:31 23:59:58")
    assert probe(_jpeg(exif)).taken_at == datetime(2019, 12, 31, 23, 59, 58)


def test_file_time_is_the_fallback() -> None:
    assert probe(_jpeg(_exif(when="2020:01:02 03:04:05"))).taken_at == datetime(2020, 1, 2, 3, 4, 5)


@pytest.mark.parametrize(
    "garbage", ["0000:00:00 00:00:00", "    :  :     :  :  ", "yesterday", "2020:13:45 99:00:00"]
)
def test_garbage_times_read_as_unknown(garbage: str) -> None:
    assert probe(_jpeg(_exif(original=garbage))).taken_at is None


def test_camera_names_are_trimmed_and_blank_means_unknown() -> None:
    info = probe(_jpeg(_exif(make="  NIKON CORPORATION\x00\x00", model="   ")))
    assert (info.camera_make, info.camera_model) == ("NIKON CORPORATION", None)


def test_absurdly_long_camera_names_are_cut() -> None:
    assert probe(_jpeg(_exif(model="x" * 5000))).camera_model == "x" * 100


def test_damaged_exif_reads_as_absent() -> None:
    info = probe(_jpeg(b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff\x01\x12"))
    assert (info.orientation, info.taken_at, info.camera_make) == (1, None, None)
