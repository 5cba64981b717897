"""The derivatives bucket's layout: every key S3 accepts gets a readable, unique prefix."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from glowworm.layout import (
    MAX_KEY_BYTES,
    MAX_SEGMENT_BYTES,
    DerivativeName,
    derivative_prefix,
    original_of,
    source_key_header,
)
from glowworm.sizes import ALL_SIZES, SMALL, UHD, SizeSpec

SHA = "ab" * 32

# Keys S3 accepts that S3 tools, shells and URLs treat specially.
ODD_KEYS = [
    "uploads/7/3f2a/beach.jpg",
    "alice/2026/café.jpg",
    unicodedata.normalize("NFD", "alice/2026/café.jpg"),
    "with space/a+b=c.jpg",
    "100%/50% off.jpg",
    "what?/#1 & more.jpg",
    "../escape/./here/..",
    "/leading/slash.jpg",
    "double//slash/",
    "tilde~/x~1.jpg",
    "日本/写真 1.jpg",
]


def _name(key: str, size: SizeSpec = SMALL, sha: str = SHA, quality: int = 85) -> DerivativeName:
    return DerivativeName("originals", key, sha, size, "image/jpeg", quality)


def test_a_derivative_is_named_by_its_original_key_and_size() -> None:
    name = _name("uploads/7/3f2a/beach.jpg")
    key = name.key_in_derivatives
    assert key.startswith("originals/uploads/7/3f2a/beach.jpg/small-150x150.")
    assert key.endswith(".jpg")
    assert key == f"originals/uploads/7/3f2a/beach.jpg/small-150x150.{name.version}.jpg"
    assert len(name.version) == 12


def test_every_size_of_one_original_shares_one_prefix_and_differs_by_name() -> None:
    keys = [_name("a/b.jpg", size).key_in_derivatives for size in ALL_SIZES]
    assert len(set(keys)) == len(ALL_SIZES)
    assert {key.rsplit("/", 1)[0] for key in keys} == {"originals/a/b.jpg"}


def test_new_bytes_or_new_settings_give_a_new_key_and_the_same_give_the_same() -> None:
    same = _name("a/b.jpg").key_in_derivatives
    assert _name("a/b.jpg").key_in_derivatives == same
    assert _name("a/b.jpg", sha="cd" * 32).key_in_derivatives != same
    assert _name("a/b.jpg", quality=90).key_in_derivatives != same


def test_path_steps_are_escaped_and_nothing_else() -> None:
    assert derivative_prefix("o", "../escape/./here/..") == "o/%2E%2E/escape/%2E/here/%2E%2E/"
    assert derivative_prefix("o", "/leading/slash.jpg") == "o/%/leading/slash.jpg/"
    assert derivative_prefix("o", "double//slash/") == "o/double/%/slash/%/"
    assert derivative_prefix("o", "100%/a~b.jpg") == "o/100%25/a%7Eb.jpg/"
    assert derivative_prefix("o", "with space/a+b=c?#.jpg") == "o/with space/a+b=c?#.jpg/"
    assert derivative_prefix("o", "日本/写真 1.jpg") == "o/日本/写真 1.jpg/"


def test_odd_keys_get_distinct_prefixes_that_lead_back_to_them() -> None:
    prefixes = [derivative_prefix("originals", key) for key in ODD_KEYS]
    assert len(set(prefixes)) == len(ODD_KEYS)  # NFC and NFD are two keys, two prefixes
    for key, prefix in zip(ODD_KEYS, prefixes, strict=True):
        assert original_of(prefix) == ("originals", key)
        segments = prefix.split("/")[1:-1]
        assert not {".", "..", ""} & set(segments), prefix


def test_a_key_too_long_to_nest_is_cut_and_hashed_under_the_limit() -> None:
    long_key = "album/" + "é" * 508  # 1,022 bytes
    other = "album/" + "é" * 507 + "e"
    for key in (long_key, other, "x" * 1024):
        derived = [_name(key, size).key_in_derivatives for size in ALL_SIZES]
        assert all(len(k.encode()) <= MAX_KEY_BYTES for k in derived)
        prefix = derivative_prefix("originals", key)
        assert prefix.startswith("originals/" + key[:100])
        assert "~" in prefix
        assert original_of(prefix) is None
    assert derivative_prefix("originals", long_key) != derivative_prefix("originals", other)
    assert len(_name("x" * 1024, UHD).key_in_derivatives.encode()) <= MAX_KEY_BYTES


def test_a_segment_too_long_for_minio_is_cut_and_hashed() -> None:
    key = "%" * 200 + "/photo.jpg"  # escaped, the first segment is 600 bytes
    derived = _name(key).key_in_derivatives
    assert all(len(segment.encode()) <= MAX_SEGMENT_BYTES for segment in derived.split("/"))
    assert "~" in derived
    assert derivative_prefix("o", "a" * 255 + "/b.jpg") == "o/" + "a" * 255 + "/b.jpg/"


@given(st.text(min_size=1, max_size=400).filter(lambda k: len(k.encode()) <= MAX_KEY_BYTES))
def test_any_key_gives_a_key_s3_accepts_and_leads_back(key: str) -> None:
    prefix = derivative_prefix("originals", key)
    for size in ALL_SIZES:
        derived = _name(key, size).key_in_derivatives
        assert len(derived.encode()) <= MAX_KEY_BYTES
        assert all(len(segment.encode()) <= MAX_SEGMENT_BYTES for segment in derived.split("/"))
    if "~" not in prefix:
        assert original_of(prefix) == ("originals", key)


def test_the_source_key_header_is_ascii_and_decodes_back() -> None:
    from urllib.parse import unquote

    for key in ODD_KEYS:
        header = source_key_header(key)
        assert header.isascii()
        assert unquote(header) == key
