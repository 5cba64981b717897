"""Text read from a file's metadata, made safe for every place it goes.

A camera writes whatever its firmware holds: ``ION230\\x00F`` (a NUL inside the model),
``Kodak i200\\x00\\x00Koda`` (the rest of a buffer after the terminator), UTF-8 or a
Windows code page in tags EXIF calls ASCII, bidi overrides, 5,000 bytes of garbage.
Postgres refuses a NUL in text outright, and a column has a length. So every text value
leaves here decoded, printable, on one line and within its length, or as None:

- Bytes are decoded as UTF-8 (ASCII is a subset, and EXIF 3.0 allows UTF-8); each byte
  that is not part of valid UTF-8 reads as its latin-1 character, so decoding never
  fails and a Windows ``caf\\xe9`` still reads ``café``. Pillow hands an EXIF ASCII value
  over already decoded as latin-1; its bytes are recovered losslessly and decoded the
  same way, so a UTF-8 ``café`` does not read as ``cafÃ©``.
- Control characters (Unicode Cc: NUL, tabs, line breaks, C1 codes) separate words: each
  becomes a space, so ``ION230\\x00F`` reads ``ION230 F`` and nothing is glued together.
  Format characters (Cf: bidi overrides, zero-width spaces, a BOM) are invisible and are
  dropped; lone surrogates (Cs) cannot be encoded as UTF-8 and are dropped too.
- Runs of whitespace become one space, and the ends are stripped.
- The text is cut to at most ``max_length`` characters (a ``varchar(n)`` counts
  characters, not bytes), never between a letter and its combining marks.

The result always encodes as UTF-8; an empty result is None (unknown).
"""

from __future__ import annotations

import unicodedata

# Categories whose characters become a space: C0 and C1 control codes, NUL among them.
_SEPARATORS = frozenset({"Cc"})
# Categories whose characters are dropped: invisible formatting, and lone surrogates.
_DROPPED = frozenset({"Cf", "Cs"})
# surrogateescape turns a byte that is not valid UTF-8 into U+DC80..U+DCFF; this puts
# the byte's latin-1 character in its place.
_ESCAPED_AS_LATIN1 = {0xDC00 + byte: chr(byte) for byte in range(0x80, 0x100)}


def clean_text(value: object, max_length: int) -> str | None:
    """``value`` (a str or bytes from a metadata tag) as safe, printable text, or None.

    Anything that is neither str nor bytes (a number, a tuple from a damaged tag) is
    None. Never raises for any str or bytes; ``max_length`` must be positive.
    """
    if isinstance(value, str):
        value = _pillow_bytes(value)
    if isinstance(value, bytes):
        value = _decode(value)
    if not isinstance(value, str):
        return None
    printable = "".join(_printable(char) for char in value)
    return _cut(" ".join(printable.split()), max_length) or None


def _decode(raw: bytes) -> str:
    """``raw`` as UTF-8, with each byte outside valid UTF-8 as latin-1; never raises."""
    return raw.decode("utf-8", "surrogateescape").translate(_ESCAPED_AS_LATIN1)


def _pillow_bytes(text: str) -> str | bytes:
    """The bytes behind a str Pillow decoded as latin-1; a str that cannot come from
    latin-1 (a character above U+00FF) is already real text and is kept."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text


def _printable(char: str) -> str:
    category = unicodedata.category(char)
    if category in _SEPARATORS:
        return " "
    if category in _DROPPED:
        return ""
    return char


def _cut(text: str, max_length: int) -> str:
    """At most ``max_length`` characters. A letter whose combining marks would be cut
    off is dropped with them: the cut never strips the accent from an ``é``."""
    if len(text) <= max_length:
        return text
    end = max_length
    while end > 0 and unicodedata.category(text[end]).startswith("M"):
        end -= 1
    return text[:end].rstrip()
