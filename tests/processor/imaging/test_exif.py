"""EXIF facts from files whose EXIF is odd, missing or damaged."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from PIL import Image, TiffImagePlugin, TiffTags

from glowworm.sizes import ALL_SIZES
from processor.imaging import probe, render
from tests.processor.imaging.picture import rgb

ORIENTATION, MAKE, MODEL, DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
EXIF_IFD, DATETIME_ORIGINAL = 0x8769, 0x9003
# The TIFF header of an EXIF block, big-endian, with IFD0 right after it.
_EXIF_HEAD = b"MM\x00\x2a\x00\x00\x00\x08"


def _jpeg(exif: Image.Exif | bytes | None = None, size: tuple[int, int] = (30, 20)) -> bytes:
    return _saved("JPEG", exif, size)


def _saved(
    format_name: str, exif: Image.Exif | bytes | None = None, size: tuple[int, int] = (30, 20)
) -> bytes:
    buffer = io.BytesIO()
    # As bytes: Pillow's TIFF writer copies an Exif's sub-IFDs only from parsed bytes.
    extra = {} if exif is None else {"exif": exif if isinstance(exif, bytes) else exif.tobytes()}
    Image.new("RGB", size, (90, 120, 150)).save(buffer, format_name, **extra)
    return buffer.getvalue()


def _undefined_model(raw: bytes) -> bytes:
    """An EXIF block whose Model tag has type UNDEFINED: Pillow hands it over as bytes."""
    ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh=_EXIF_HEAD)
    ifd.tagtype[MODEL] = TiffTags.UNDEFINED
    ifd[MODEL] = raw
    return b"Exif\x00\x00" + _EXIF_HEAD + ifd.tobytes(len(_EXIF_HEAD))


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


# Camera names as real files carry them, and what we store: a NUL inside the text (which
# Postgres refuses) separates words like any control character, so it becomes a space.
@pytest.mark.parametrize(
    ("format_name", "tag", "stored", "read"),
    [
        ("JPEG", "model", "ION230\x00F", "ION230 F"),
        ("TIFF", "model", "Kodak i200\x00\x00Koda", "Kodak i200 Koda"),
        ("TIFF", "make", "EASTMAN KODAK\x00COMPANY\x00", "EASTMAN KODAK COMPANY"),
        ("JPEG", "make", "Canon\r\n\tInc.\x7f", "Canon Inc."),
    ],
)
def test_control_characters_inside_camera_names_become_spaces(
    format_name: str, tag: str, stored: str, read: str
) -> None:
    info = probe(_saved(format_name, _exif(**{tag: stored})))
    assert (info.camera_make if tag == "make" else info.camera_model) == read


def test_invisible_format_characters_are_dropped() -> None:
    # A right-to-left override would turn "Nikon" around on every page that shows it.
    model = "\u202eNikon\u200b D90\ufeff".encode()
    assert probe(_jpeg(_exif(model=model))).camera_model == "Nikon D90"


def test_utf8_in_an_ascii_tag_reads_as_utf8() -> None:
    assert probe(_jpeg(_exif(model="Caméra «zoom» 😀".encode()))).camera_model == (
        "Caméra «zoom» 😀"
    )


def test_bytes_that_are_not_utf8_read_as_latin1() -> None:
    # A Windows-1252 "é", a stray 0xff, then valid UTF-8 again: nothing is lost or raises.
    model = b"Cam\xe9ra \xff \xc3\xa9"
    assert probe(_jpeg(_exif(model=model))).camera_model == "Caméra ÿ é"


def test_an_undefined_typed_name_is_decoded_too() -> None:
    info = probe(_jpeg(_undefined_model(b"PENTAX\x00\xe2\x80\x8e K-1\x00\x00")))
    assert info.camera_model == "PENTAX K-1"


def test_long_names_are_cut_to_100_characters_not_bytes() -> None:
    # 300 bytes of UTF-8, 150 characters: a varchar(100) holds the first 100.
    model = probe(_jpeg(_exif(model=("é" * 150).encode()))).camera_model
    assert model == "é" * 100


def test_a_cut_never_separates_a_letter_from_its_accent() -> None:
    # 99 letters, then "e" and a combining acute accent at characters 100 and 101.
    model = probe(_jpeg(_exif(model=("x" * 99 + "e\u0301").encode()))).camera_model
    assert model == "x" * 99


@pytest.mark.parametrize(
    "stored", ["1700:01:01 00:00:00", "9999:12:31 23:59:59", "0001:01:01 00:00:00"]
)
def test_implausible_years_read_as_unknown(stored: str) -> None:
    assert probe(_jpeg(_exif(original=stored))).taken_at is None


def test_an_implausible_original_time_falls_back_to_the_file_time() -> None:
    exif = _exif(original="0000:00:00 00:00:00", when="2021:06:01 12:00:00")
    assert probe(_saved("TIFF", exif)).taken_at == datetime(2021, 6, 1, 12)


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("1800:01:01 00:00:00", datetime(1800, 1, 1)),
        ("2200:12:31 23:59:59", datetime(2200, 12, 31, 23, 59, 59)),
        ("2020:01:02 03:04:05\x00\x00garbage", datetime(2020, 1, 2, 3, 4, 5)),
        (b"2020:01:02 03:04:05.123", datetime(2020, 1, 2, 3, 4, 5)),
    ],
)
def test_plausible_times_are_kept(stored: str | bytes, read: datetime) -> None:
    assert probe(_jpeg(_exif(original=stored))).taken_at == read


@pytest.mark.parametrize("format_name", ["JPEG", "TIFF"])
@pytest.mark.parametrize("stored", [0, 9])
def test_orientation_outside_1_to_8_keeps_the_stored_size(format_name: str, stored: int) -> None:
    info = probe(_saved(format_name, _exif(orientation=stored), size=(30, 20)))
    assert (info.orientation, info.width, info.height) == (1, 30, 20)


@pytest.mark.parametrize("format_name", ["JPEG", "TIFF"])
def test_a_sideways_picture_is_turned_exactly_once(format_name: str) -> None:
    """Pillow turns a TIFF by its Orientation tag as it loads it; a JPEG is turned by us."""
    stored = Image.new("RGB", (60, 40), (200, 30, 30))
    stored.paste((30, 30, 200), (0, 0, 10, 10))  # blue in the stored top-left corner
    buffer = io.BytesIO()
    stored.save(buffer, format_name, exif=_exif(orientation=6).tobytes())
    data = buffer.getvalue()

    info = probe(data)
    small = Image.open(io.BytesIO(render(data, ALL_SIZES[:1])[0].data))

    assert (info.width, info.height) == (40, 60)
    assert small.size == (40, 60)
    # Orientation 6 turns the picture a quarter clockwise: the corner ends top-right.
    red, _, blue = rgb(small, (small.width - 3, 2))
    assert blue > 150 and red < 100
