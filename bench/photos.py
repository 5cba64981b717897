"""12 MP photo-like JPEGs made at run time, each upload's bytes unique.

Drawing a photo-like 12 MP picture takes about a second, so a few base pictures are
drawn into a temporary directory and every upload gets one of them with its own JPEG
comment segment: a different SHA-256 (the processor's dedupe never skips one), the same
decoding work as a real photo of that size.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bench.imaging import photo_like

# Pixels of every generated photo (12 MP, a phone camera's 4:3).
WIDTH, HEIGHT = 4000, 3000
# JPEG quality of the originals, as a phone writes them.
ORIGINAL_QUALITY = 90
# JPEG markers: start of image, comment, and the APPn range that must stay first.
_SOI, _COM, _APP0, _APP15 = 0xD8, 0xFE, 0xE0, 0xEF


@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes


class Photos:
    """Base pictures drawn once; ``unique(n)`` gives upload ``n`` bytes no other upload has."""

    def __init__(self, directory: Path, count: int) -> None:
        self.paths: list[Path] = []
        for seed in range(count):
            exif = Image.Exif()
            # Half are held upright (orientation 6, as phones write), half landscape.
            exif[0x0112] = 6 if seed % 2 == 0 else 1
            exif[0x010F] = "bench"
            path = directory / f"photo-{seed}-12mp.jpg"
            photo_like(WIDTH, HEIGHT, seed=100 + seed).save(
                path, "JPEG", quality=ORIGINAL_QUALITY, exif=exif
            )
            self.paths.append(path)
        self.bases = [path.read_bytes() for path in self.paths]
        self.run = uuid.uuid4().hex[:8]

    def unique(self, n: int) -> Photo:
        base = self.bases[n % len(self.bases)]
        comment = f"glowworm-bench {self.run} upload {n}".encode()
        return Photo(f"bench-{self.run}-{n:05d}.jpg", with_comment(base, comment))

    @property
    def mean_bytes(self) -> float:
        return sum(len(b) for b in self.bases) / len(self.bases)


def with_comment(jpeg: bytes, comment: bytes) -> bytes:
    """``jpeg`` with a COM segment after its APPn segments (EXIF stays where readers look)."""
    if jpeg[:2] != bytes((0xFF, _SOI)):
        raise ValueError("not a JPEG")
    pos = 2
    while jpeg[pos] == 0xFF and _APP0 <= jpeg[pos + 1] <= _APP15:
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        pos += 2 + length
    segment = bytes((0xFF, _COM)) + struct.pack(">H", len(comment) + 2) + comment
    return jpeg[:pos] + segment + jpeg[pos:]
