"""clean_text(): any str or bytes from a metadata tag becomes text every column accepts."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.imaging.metadata_text import clean_text


@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("ION230\x00F", "ION230 F"),
        ("Kodak i200\x00\x00Koda", "Kodak i200 Koda"),
        ("  line\r\none\x85two\u2028three\t ", "line one two three"),
        ("a\u202eb\u200bc\u2066d\ufeff", "abcd"),
        ("\ud800Sony\udfff", "Sony"),
        # A str as Pillow hands over an ASCII tag: UTF-8 bytes decoded as latin-1.
        ("CafÃ©", "Café"),
        (b"Caf\xc3\xa9", "Café"),
        (b"Caf\xe9", "Café"),
        (b"\xed\xa0\x80", "í"),  # an encoded surrogate is not UTF-8: three latin-1 bytes
        (b"\xff\xfeS\x00o\x00", "ÿþS o"),
    ],
)
def test_values_read_as_printable_text(value: str | bytes, read: str) -> None:
    assert clean_text(value, 100) == read


@pytest.mark.parametrize(
    "value", ["", "   ", "\x00\x00", "\u200b\ufeff", b"", b"\x00 \x01", None, 7, ("a",)]
)
def test_blank_or_non_text_values_are_unknown(value: object) -> None:
    assert clean_text(value, 100) is None


@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("abcdef", "abc"),
        ("ab cdef", "ab"),  # the space left at the cut goes too
        ("abe\u0301\u0300f", "ab"),  # "e" goes with both its accents
        ("\u0301\u0301\u0301\u0301", None),  # marks only: nothing to keep
        ("😀😀😀😀", "😀😀😀"),  # characters, not UTF-16 units or bytes
    ],
)
def test_cut_to_the_length_in_characters(value: str, read: str | None) -> None:
    assert clean_text(value, 3) == read


# Every kind of character, lone surrogates included.
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)
_ANY_VALUE = st.one_of(
    _ANY_TEXT,
    st.binary(max_size=300),
    _ANY_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
)


@settings(max_examples=500, deadline=None, database=None)
@given(value=_ANY_VALUE, max_length=st.integers(1, 120))
def test_any_value_becomes_text_that_fits_or_none(value: str | bytes, max_length: int) -> None:
    text = clean_text(value, max_length)
    if text is None:
        return
    assert 0 < len(text) <= max_length
    text.encode("utf-8")  # what Postgres gets: never a lone surrogate
    assert not any(unicodedata.category(char) in {"Cc", "Cf", "Cs"} for char in text)
    assert text == " ".join(text.split())
    # A prefix of the whole text, never cut off before a combining mark.
    whole = clean_text(value, 10_000)
    assert whole is not None and whole.startswith(text)
    if len(text) < len(whole):
        assert not unicodedata.category(whole[len(text)]).startswith("M")
