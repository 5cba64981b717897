"""The manifest format: what is written reads back; what is broken says where."""

from __future__ import annotations

import pytest

from glowworm.layout import derivative_prefix
from glowworm.manifests import (
    DerivativeEntry,
    Manifest,
    ManifestError,
    OriginalEntry,
    manifest_key,
)


def _manifest() -> Manifest:
    original = OriginalEntry(
        bucket="originals",
        key="alice/2026/café.jpg",
        etag="e",
        bytes=10,
        sha256="a" * 64,
        owner="alice",
        width=4000,
        height=3000,
        original_filename="café.jpg",
    )
    small = DerivativeEntry(
        size="small",
        bucket="derivatives",
        key="originals/alice/2026/café.jpg/small-150x150.0123456789ab.jpg",
        format="image/jpeg",
        width=150,
        height=113,
        bytes=4661,
        sha256="b" * 64,
    )
    return Manifest(original=original, derivatives=[small], pipeline="glowworm 0, render 1")


def test_a_manifest_reads_back_as_written() -> None:
    assert Manifest.parse(_manifest().to_json()) == _manifest()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b'{"manifest": 1, "orig', "the document"),
        (b'{"manifest": 1, "derivatives": [], "pipeline": "p"}', "original: Field required"),
        (_manifest().to_json().replace(b'"bytes": 10', b'"bytes": -1'), "original.bytes"),
    ],
)
def test_a_broken_manifest_says_what_is_wrong(data: bytes, says: str) -> None:
    with pytest.raises(ManifestError, match=says):
        Manifest.parse(data)


def test_a_manifest_of_another_format_is_refused() -> None:
    data = _manifest().to_json().replace(b'"manifest": 1', b'"manifest": 2')
    with pytest.raises(ManifestError, match="format 2"):
        Manifest.parse(data)


def test_the_manifest_sits_beside_the_derivatives() -> None:
    key = manifest_key("originals", "alice/2026/café.jpg")
    assert key == derivative_prefix("originals", "alice/2026/café.jpg") + "manifest.json"
