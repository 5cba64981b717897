"""Odd real-world files, built in code, each with the outcome a user must see.

What cameras, phones, scanners and editors write: NULs and garbage in text tags, UCS-2
comments, broken or looping IFD offsets, an EXIF thumbnail larger than the picture,
maker notes, orientations 0 and 9, unset clocks, truncated files, CMYK and 16-bit
TIFFs, multi-frame files, PNGs with huge text chunks. None may stop a processor: each
ends ``complete`` at its size or ``failed`` with a reason a person can read.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass

import pyvips
from PIL import Image, PngImagePlugin

# Stored size of every generated picture unless a shape says otherwise.
SIZE = (64, 48)

# EXIF tag numbers used below.
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_EXIF_IFD, _THUMB_OFFSET, _THUMB_LENGTH = 0x8769, 0x0201, 0x0202
_MAKER_NOTE, _USER_COMMENT, _XP_COMMENT = 0x927C, 0x9286, 0x9C9C
# TIFF field types: ASCII, SHORT, LONG, UNDEFINED, BYTE.
_ASCII, _SHORT, _LONG, _UNDEFINED, _BYTE = 2, 3, 4, 7, 1


@dataclass(frozen=True)
class Outcome:
    """``complete`` at ``size`` (upright), or ``failed`` with ``kind`` and ``reason``."""

    status: str
    size: tuple[int, int] | None = None
    # EXIF orientation still to apply to the stored pixels, as probe() reads it.
    orientation: int = 1
    camera: tuple[str | None, str | None] = (None, None)
    kind: str | None = None
    reason: str | None = None
    # The start of the warning a complete image keeps, when only libvips could read it.
    warning: str | None = None


def complete(
    width: int,
    height: int,
    orientation: int = 1,
    camera: tuple[str | None, str | None] = (None, None),
    warning: str | None = None,
) -> Outcome:
    return Outcome(
        "complete", size=(width, height), orientation=orientation, camera=camera, warning=warning
    )


def failed(kind: str, reason: str) -> Outcome:
    return Outcome("failed", kind=kind, reason=reason)


@dataclass(frozen=True)
class Shape:
    name: str
    build: Callable[[], bytes]
    outcome: Outcome
    # What the file is, as the issue note lists it.
    what: str


def _picture(size: tuple[int, int] = SIZE, mode: str = "RGB") -> Image.Image:
    """A gradient with a red corner, so every file has real content."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((220, 30, 30), (0, 0, size[0] // 4, size[1] // 4))
    return image.convert(mode)


def _jpeg(image: Image.Image | None = None, quality: int = 90, **params: object) -> bytes:
    out = io.BytesIO()
    (image or _picture()).save(out, "JPEG", quality=quality, **params)
    return out.getvalue()


def _entry(tag: int, kind: int, count: int, value: bytes) -> tuple[int, int, int, bytes]:
    return tag, kind, count, value


def tiff_block(
    ifd0: list[tuple[int, int, int, bytes]],
    *,
    next_ifd: int | None = None,
    tail: bytes = b"",
) -> bytes:
    """Little-endian TIFF bytes (an EXIF body): IFD0 at 8, values after it, then ``tail``.

    Values longer than 4 bytes are stored after the IFD and pointed at. ``next_ifd``
    is written verbatim (a broken or looping offset); None means "no next IFD".
    """
    header = b"II*\x00" + struct.pack("<I", 8)
    values_at = 8 + 2 + 12 * len(ifd0) + 4
    entries, values = b"", b""
    for tag, kind, count, value in ifd0:
        if len(value) <= 4:
            field = value.ljust(4, b"\x00")
        else:
            field = struct.pack("<I", values_at + len(values))
            values += value + (b"\x00" if len(value) % 2 else b"")
        entries += struct.pack("<HHI", tag, kind, count) + field
    link = struct.pack("<I", next_ifd or 0)
    return header + struct.pack("<H", len(ifd0)) + entries + link + values + tail


def _ascii(tag: int, text: bytes) -> tuple[int, int, int, bytes]:
    return _entry(tag, _ASCII, len(text) + 1, text + b"\x00")


def _short(tag: int, value: int) -> tuple[int, int, int, bytes]:
    return _entry(tag, _SHORT, 1, struct.pack("<H", value))


def _with_exif(body: bytes, image: Image.Image | None = None) -> bytes:
    """A JPEG whose APP1 carries ``body`` (TIFF bytes) as its EXIF."""
    return _jpeg(image, exif=b"Exif\x00\x00" + body)


def nul_in_text() -> bytes:
    return _with_exif(
        tiff_block([_ascii(_MAKE, b"Kodak\x00\x00Koda"), _ascii(_MODEL, b"ION230\x00F")])
    )


def long_text() -> bytes:
    return _with_exif(tiff_block([_ascii(_MAKE, b"M" * 300), _ascii(_MODEL, b"x" * 5000)]))


def invalid_utf8() -> bytes:
    return _with_exif(tiff_block([_ascii(_MAKE, b"caf\xe9\xff\xfe"), _ascii(_MODEL, b"\xc3(")]))


def ucs2_comments() -> bytes:
    """XPComment (UCS-2, Windows) and UserComment with the UNICODE header, in IFD0."""
    xp = "Ferien am Meer ☀".encode("utf-16-le") + b"\x00\x00"
    user = b"UNICODE\x00" + "Kommentar".encode("utf-16-be")
    return _with_exif(
        tiff_block(
            [
                _ascii(_MODEL, b"Phone"),
                _entry(_USER_COMMENT, _UNDEFINED, len(user), user),
                _entry(_XP_COMMENT, _BYTE, len(xp), xp),
            ]
        )
    )


def looping_ifd() -> bytes:
    """IFD0's next-IFD offset points back at IFD0."""
    return _with_exif(tiff_block([_ascii(_MODEL, b"Loop"), _short(_ORIENTATION, 6)], next_ifd=8))


def broken_ifd_offset() -> bytes:
    """The Exif sub-IFD and the next IFD point far past the end of the block."""
    return _with_exif(
        tiff_block(
            [_ascii(_MODEL, b"Broken"), _entry(_EXIF_IFD, _LONG, 1, struct.pack("<I", 0x7FFFFFF0))],
            next_ifd=0x00FFFFF0,
        )
    )


def big_exif_thumbnail() -> bytes:
    """IFD1 holds a 1024x768 thumbnail of a 64x48 picture."""
    thumbnail = _jpeg(_picture((1024, 768)), quality=20)
    ifd0 = [_ascii(_MODEL, b"Thumb")]
    ifd1_at = 8 + 2 + 12 * len(ifd0) + 4 + len(b"Thumb\x00")
    thumb_at = ifd1_at + 2 + 12 * 2 + 4
    ifd1 = (
        struct.pack("<H", 2)
        + struct.pack("<HHII", _THUMB_OFFSET, _LONG, 1, thumb_at)
        + struct.pack("<HHII", _THUMB_LENGTH, _LONG, 1, len(thumbnail))
        + struct.pack("<I", 0)
    )
    return _with_exif(tiff_block(ifd0, next_ifd=ifd1_at, tail=ifd1 + thumbnail))


def maker_note() -> bytes:
    """A Nikon-style maker note in the Exif sub-IFD: its own header and offsets."""
    exif = Image.Exif()
    exif[_MAKE] = "NIKON CORPORATION"
    note = b"Nikon\x00\x02\x10\x00\x00" + tiff_block([_short(0x0001, 0x0210)]) + bytes(2000)
    exif.get_ifd(_EXIF_IFD)[_MAKER_NOTE] = note
    return _jpeg(exif=exif.tobytes())


def orientation(value: int) -> Callable[[], bytes]:
    def build() -> bytes:
        return _with_exif(tiff_block([_short(_ORIENTATION, value)]))

    build.__name__ = f"orientation_{value}"
    return build


def zero_date() -> bytes:
    return _with_exif(tiff_block([_ascii(_DATETIME, b"0000:00:00 00:00:00")]))


def truncated_jpeg() -> bytes:
    data = _jpeg(_picture((640, 480)))
    return data[: len(data) // 2]


def cmyk_tiff() -> bytes:
    out = io.BytesIO()
    _picture(mode="CMYK").save(out, "TIFF")
    return out.getvalue()


def gray_16_bit_tiff() -> bytes:
    ramp = Image.linear_gradient("L").resize(SIZE).convert("I").point(lambda v: v * 257)
    out = io.BytesIO()
    ramp.convert("I;16").save(out, "TIFF")
    return out.getvalue()


def rgb_16_bit_tiff() -> bytes:
    """What a raw converter exports: 16 bits per sample, RGB (written by libvips)."""
    ramp = pyvips.Image.xyz(*SIZE)[0].cast("ushort") * 1000
    rgb = ramp.bandjoin([ramp, ramp]).cast("ushort").copy(interpretation="rgb16")
    data: bytes = rgb.tiffsave_buffer()
    return data


def _strip_tiff(
    bits: int, samples: int, photometric: int, *, sample_format: int = 1, dimensions: bool = True
) -> bytes:
    """An uncompressed one-strip TIFF of SIZE, as a scanner or a lab instrument writes it."""
    pixels = bytes(SIZE[0] * SIZE[1] * samples * bits // 8)
    sizes = [_short(0x0100, SIZE[0]), _short(0x0101, SIZE[1])] if dimensions else []
    per_sample = struct.pack("<" + "H" * samples, *[bits] * samples)
    formats = struct.pack("<" + "H" * samples, *[sample_format] * samples)
    entries = [
        *sizes,
        _entry(0x0102, _SHORT, samples, per_sample),
        _short(0x0103, 1),
        _short(0x0106, photometric),
        _entry(0x0111, _LONG, 1, b"\x00" * 4),
        _short(0x0115, samples),
        _entry(0x0117, _LONG, 1, struct.pack("<I", len(pixels))),
        _entry(0x0153, _SHORT, samples, formats),
    ]
    start = len(tiff_block(entries))
    entries[len(sizes) + 3] = _entry(0x0111, _LONG, 1, struct.pack("<I", start))
    return tiff_block(entries, tail=pixels)


def float_rgb_tiff() -> bytes:
    """32-bit float RGB (an HDR or scientific export): Pillow has no mode for it."""
    return _strip_tiff(32, 3, photometric=2, sample_format=3)


def lab_tiff() -> bytes:
    """Photometric 9 (ICC Lab), which Pillow's TIFF plugin does not know."""
    return _strip_tiff(8, 3, photometric=9)


def tiff_without_dimensions() -> bytes:
    return _strip_tiff(8, 3, photometric=2, dimensions=False)


def multi_page_tiff() -> bytes:
    out = io.BytesIO()
    _picture().save(out, "TIFF", save_all=True, append_images=[_picture((32, 32))])
    return out.getvalue()


def _frames() -> list[Image.Image]:
    return [_picture().rotate(angle) for angle in (0, 90, 180)]


def animated_gif() -> bytes:
    first, *rest = _frames()
    out = io.BytesIO()
    first.save(out, "GIF", save_all=True, append_images=rest, duration=100, loop=0)
    return out.getvalue()


def animated_webp() -> bytes:
    first, *rest = _frames()
    out = io.BytesIO()
    first.save(out, "WEBP", save_all=True, append_images=rest, duration=100, loop=0)
    return out.getvalue()


def png_huge_text() -> bytes:
    """A 2 MB iTXt chunk (an editor's history), over Pillow's 1 MB text ceiling."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", "x" * 2_000_000)
    out = io.BytesIO()
    _picture().save(out, "PNG", pnginfo=info)
    return out.getvalue()


WIDTH, HEIGHT = SIZE
# How the warning of a file only the second decoder (libvips) could read begins.
SECOND_DECODER = "decoded with recoverable errors: "

SHAPES: tuple[Shape, ...] = (
    Shape(
        "nul-in-text",
        nul_in_text,
        complete(WIDTH, HEIGHT, camera=("Kodak Koda", "ION230 F")),
        "NULs inside Make and Model",
    ),
    Shape(
        "long-text",
        long_text,
        complete(WIDTH, HEIGHT, camera=("M" * 100, "x" * 100)),
        "Make 300 and Model 5,000 bytes",
    ),
    Shape(
        "invalid-utf8",
        invalid_utf8,
        complete(WIDTH, HEIGHT, camera=("caf\u00e9\u00ff\u00fe", "\u00c3(")),
        "Make and Model not UTF-8",
    ),
    Shape(
        "ucs2-comments",
        ucs2_comments,
        complete(WIDTH, HEIGHT, camera=(None, "Phone")),
        "XPComment, UNICODE UserComment",
    ),
    Shape(
        "looping-ifd",
        looping_ifd,
        complete(HEIGHT, WIDTH, orientation=6, camera=(None, "Loop")),
        "IFD0 links to itself",
    ),
    Shape(
        "broken-ifd-offset",
        broken_ifd_offset,
        complete(WIDTH, HEIGHT, camera=(None, "Broken")),
        "offsets past the end",
    ),
    Shape(
        "big-exif-thumbnail",
        big_exif_thumbnail,
        complete(WIDTH, HEIGHT, camera=(None, "Thumb")),
        "1024x768 thumbnail",
    ),
    Shape(
        "maker-note",
        maker_note,
        complete(WIDTH, HEIGHT, camera=("NIKON CORPORATION", None)),
        "Nikon maker note",
    ),
    Shape("orientation-0", orientation(0), complete(WIDTH, HEIGHT), "Orientation 0"),
    Shape("orientation-9", orientation(9), complete(WIDTH, HEIGHT), "Orientation 9"),
    Shape("zero-date", zero_date, complete(WIDTH, HEIGHT), "DateTime 0000:00:00 00:00:00"),
    Shape(
        "truncated-jpeg",
        truncated_jpeg,
        failed("corrupt", "corrupt or truncated image data: image file is truncated"),
        "half of a 640x480 JPEG",
    ),
    Shape("cmyk-tiff", cmyk_tiff, complete(WIDTH, HEIGHT), "CMYK TIFF"),
    Shape("gray-16-bit-tiff", gray_16_bit_tiff, complete(WIDTH, HEIGHT), "16-bit gray TIFF"),
    Shape("rgb-16-bit-tiff", rgb_16_bit_tiff, complete(WIDTH, HEIGHT), "16-bit RGB TIFF"),
    Shape(
        "float-rgb-tiff",
        float_rgb_tiff,
        complete(WIDTH, HEIGHT, warning=SECOND_DECODER),
        "32-bit float RGB TIFF",
    ),
    Shape("lab-tiff", lab_tiff, complete(WIDTH, HEIGHT, warning=SECOND_DECODER), "ICC Lab TIFF"),
    Shape(
        "tiff-without-dimensions",
        tiff_without_dimensions,
        failed("not_an_image", "not a recognised image format"),
        "no ImageWidth or ImageLength",
    ),
    Shape("multi-page-tiff", multi_page_tiff, complete(WIDTH, HEIGHT), "two pages"),
    Shape("animated-gif", animated_gif, complete(WIDTH, HEIGHT), "three frames"),
    Shape("animated-webp", animated_webp, complete(WIDTH, HEIGHT), "three frames"),
    Shape("png-huge-text", png_huge_text, complete(WIDTH, HEIGHT), "a 2 MB iTXt chunk"),
)
