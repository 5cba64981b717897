"""The manifest: one JSON object per original, beside its derivatives, naming the set.

Written last, once every size is stored (``processor.jobs``), at
``{derivative prefix}manifest.json`` (``glowworm.layout``)::

    {"manifest": 1,
     "original": {"bucket": "originals", "key": "alice/2026/café.jpg", "etag": "…",
                  "bytes": 48213, "sha256": "…", "owner": "alice", "width": 4000,
                  "height": 3000, "orientation": 6, "format": "JPEG", ...},
     "derivatives": [{"size": "small", "key": "originals/alice/2026/café.jpg/small-….jpg",
                      "format": "image/jpeg", "width": 150, "height": 113,
                      "bytes": 4661, "sha256": "…"}, ...],
     "pipeline": "glowworm 0.1.0, render 1"}

Its presence means the set is complete; ``glowworm rebuild-index`` makes the database's
rows from the manifests alone. Width and height are the upright image's (orientation
applied). A duplicate of the same bytes lists copies under its own prefix (one from
before those copies may name its first copy's keys, under that one's prefix).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from glowworm.layout import derivative_prefix

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


class ManifestError(ValueError):
    """A manifest that is not JSON, or not the shape below."""


class OriginalEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: str
    key: str
    etag: str
    bytes: int = Field(ge=0)
    sha256: str
    owner: str
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    format: str | None = None
    mime_type: str | None = None
    original_filename: str
    uploaded_at: datetime | None = None
    taken_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None


class DerivativeEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    size: str
    bucket: str
    key: str
    format: str
    width: int
    height: int
    bytes: int = Field(ge=0)
    sha256: str | None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    manifest: int = FORMAT_VERSION
    original: OriginalEntry
    derivatives: list[DerivativeEntry]
    pipeline: str

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode()

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """Read a stored manifest; ``ManifestError`` names what is wrong with it."""
        try:
            manifest = cls.model_validate_json(data)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the document"
            raise ManifestError(f"{where}: {first['msg']}") from e
        if manifest.manifest != FORMAT_VERSION:
            raise ManifestError(f"manifest format {manifest.manifest} is not {FORMAT_VERSION}")
        return manifest


def manifest_key(bucket: str, key: str) -> str:
    """Where the manifest of bucket/key lives in the derivatives bucket."""
    return derivative_prefix(bucket, key) + MANIFEST_NAME
