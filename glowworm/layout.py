"""Where a derivative lives: a key named by its original, readable in any S3 tool.

Every derivative of one original sits under one prefix of the derivatives bucket made of
the original's bucket and key, one object per size::

    {original bucket}/{original key, escaped}/{size}-{box}.{version}.{ext}

    originals/uploads/7/3f2a9c.../beach.jpg/small-150x150.5d41402abc4b.jpg
    originals/uploads/7/3f2a9c.../beach.jpg/fhd-1080x1920.5d41402abc4b.jpg
    originals/alice/2026/café.jpg/uhd-2160x3840.9e107d9d372b.jpg

so an operator who sees an original in ``mc ls`` finds its derivatives by its key alone,
and the buckets name every pair without the database.

``version`` is 12 hex digits of a SHA-256 over the original's SHA-256, the size's box and
format, and everything else that shapes the bytes (``RENDER_VERSION``, the JPEG quality).
New bytes under the same key, or a changed size, give a new key; the same bytes rendered
the same way give the same key, so a redone job rewrites the object it wrote before. A
key's content therefore never changes, and derivatives are served as immutable.

The original's key is kept as it is (case, spaces, ``+``, ``?``, ``#``, unicode in NFC or
NFD, which are different keys) except where S3 tools would read it as a path step:
``%`` is written ``%25`` and ``~`` ``%7E``; a segment that is ``.`` or ``..`` is written ``%2E`` or
``%2E%2E``; an empty segment (a leading ``/``, ``//``, a trailing ``/``) is written
``%``. ``original_of`` undoes it. (MinIO itself refuses ``.``, ``..`` and empty segments
in a key and drops a leading ``/``; other S3 servers store them.) Where the whole key would
pass S3's limit of 1,024 bytes, or a segment MinIO's limit of 255 (it stores each as a
file name), each segment is cut to 238 bytes, the whole to fit, at character
boundaries, and ``~`` and 16 hex digits of the SHA-256 of ``bucket/key`` follow: still
browsable by its start, and unique (a ``~`` in the prefix says it was cut, since an
escaped key has none).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import quote, unquote

from glowworm.sizes import SizeSpec

# Bumped when the renderer's output changes for the same input (resampling, colour
# handling, encoder settings): every derivative then gets a new key.
RENDER_VERSION = 1
# S3's longest key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
# MinIO's longest segment of a key (a file name on its drives), in UTF-8 bytes.
MAX_SEGMENT_BYTES = 255
# Hex digits of the content version in a derivative's name.
VERSION_DIGITS = 12
# Hex digits of the hash that ends a cut prefix.
CUT_HASH_DIGITS = 16
# Room the prefix leaves for the longest name under it ("/uhd-2160x3840.{12 hex}.webp").
_NAME_ROOM = 48

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/avif": "avif"}
# How a segment S3 tools read as a path step is written, and back.
_STEPS = {".": "%2E", "..": "%2E%2E", "": "%"}
_UNSTEPS = {written: step for step, written in _STEPS.items()}


def _escape_segment(segment: str) -> str:
    return _STEPS.get(segment, segment.replace("%", "%25").replace("~", "%7E"))


def _unescape_segment(segment: str) -> str:
    return _UNSTEPS[segment] if segment in _UNSTEPS else unquote(segment)


def _cut(text: str, limit: int) -> str:
    """The longest start of ``text`` that fits in ``limit`` UTF-8 bytes."""
    return text.encode()[:limit].decode(errors="ignore")


def derivative_prefix(bucket: str, key: str) -> str:
    """The prefix under which every derivative of ``bucket``/``key`` lives, ending in '/'."""
    segments = [_escape_segment(segment) for segment in key.split("/")]
    prefix = "/".join((bucket, *segments))
    fits = len(prefix.encode()) + _NAME_ROOM <= MAX_KEY_BYTES
    if fits and all(len(s.encode()) <= MAX_SEGMENT_BYTES for s in segments):
        return prefix + "/"
    digest = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:CUT_HASH_DIGITS]
    # Room for "~" and the digest, in the whole key and in the segment they end.
    cut_segments = [_cut(s, MAX_SEGMENT_BYTES - CUT_HASH_DIGITS - 1) for s in segments]
    keep = MAX_KEY_BYTES - _NAME_ROOM - CUT_HASH_DIGITS - 1
    return f"{_cut('/'.join((bucket, *cut_segments)), keep)}~{digest}/"


def original_of(prefix: str) -> tuple[str, str] | None:
    """The original's bucket and key that ``derivative_prefix`` made ``prefix`` of; None for
    a cut prefix, whose original only its manifest and the database name."""
    bucket, _, escaped = prefix.removesuffix("/").partition("/")
    if "~" in escaped:
        return None
    return bucket, "/".join(_unescape_segment(segment) for segment in escaped.split("/"))


@dataclass(frozen=True)
class DerivativeName:
    """What names one derivative: its original, the original's bytes, and how it is made."""

    bucket: str
    key: str
    sha256: str
    size: SizeSpec
    content_type: str
    quality: int
    # What rendered it: ``RENDER_VERSION``, or 0 for bytes moved from the first layout
    # (``glowworm migrate-layout``), made by a renderer nobody can name now.
    render: int = RENDER_VERSION

    @property
    def version(self) -> str:
        made_of = "|".join(
            (
                self.sha256,
                f"{self.size.name}:{self.size.width}x{self.size.height}",
                self.content_type,
                f"q{self.quality}",
                f"r{self.render}",
            )
        )
        return hashlib.sha256(made_of.encode()).hexdigest()[:VERSION_DIGITS]

    @property
    def key_in_derivatives(self) -> str:
        size = self.size
        ext = _EXTENSIONS[self.content_type]
        return (
            f"{derivative_prefix(self.bucket, self.key)}"
            f"{size.name}-{size.width}x{size.height}.{self.version}.{ext}"
        )


# What a derivative's key promises: its content never changes.
CACHE_CONTROL = "public, max-age=31536000, immutable"


def pipeline_version(render: int = RENDER_VERSION) -> str:
    """This package's version and the renderer's, as a derivative's metadata names them."""
    try:
        package = version("glowworm")
    except PackageNotFoundError:  # run from a source tree that was never installed
        package = "0+unknown"
    return f"glowworm {package}, render {render}"


def derivative_headers(
    name: DerivativeName, source_etag: str, width: int, height: int, sha256: str
) -> dict[str, str]:
    """The headers a derivative is stored with, so it describes itself in ``head-object``:
    ``Cache-Control``, and user metadata (``x-amz-meta-*``) naming its source and shape,
    and the SHA-256 of its own bytes (``sha256``; the manifest lists it)."""
    return {
        "Cache-Control": CACHE_CONTROL,
        "source-bucket": name.bucket,
        "source-key": source_key_header(name.key),
        "source-etag": source_etag,
        "source-sha256": name.sha256,
        "size": name.size.name,
        "width": str(width),
        "height": str(height),
        "sha256": sha256,
        "pipeline": pipeline_version(name.render),
    }


def source_key_header(key: str) -> str:
    """The original's key as an ``x-amz-meta-`` value: header values are ASCII, so the key is
    percent-encoded as UTF-8 (``urllib.parse.unquote`` or ``decodeURIComponent`` reads it)."""
    return quote(key, safe="/")
