"""Status events: what the processor says after each commit, and the API relays.

Real-time is a view of the database (docs/ARCHITECTURE.md rule 10): an event carries
the image's statuses as just committed, and a client that missed some resyncs from the
REST API.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from glowworm.models import Image, Status
from glowworm.sizes import THUMBNAIL_SIZES, file_link


class StatusEventType(StrEnum):
    UPLOADED = "image:uploaded"
    STARTED = "image:processing:started"
    THUMBNAIL_COMPLETE = "image:processing:thumbnail_complete"
    COMPLETE = "image:processing:complete"
    FAILED = "image:processing:failed"
    # The image, its original and its derivatives are gone.
    DELETED = "image:deleted"


@dataclass(frozen=True)
class StatusEvent:
    type: StatusEventType
    image_id: int
    owner_id: int
    processing_status: Status
    thumbnail_status: Status
    variant_status: Status
    error: str | None = None
    # Size name -> API link (``/api/images/{id}/file?size=...``), once thumbnails exist.
    thumbnail_urls: dict[str, str] = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_body(self) -> dict[str, Any]:
        body = asdict(self)
        for name in ("type", "processing_status", "thumbnail_status", "variant_status"):
            body[name] = str(body[name])
        return body

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> StatusEvent:
        """Parse a decoded event; raises ``KeyError``/``ValueError`` on a malformed one."""
        return cls(
            type=StatusEventType(body["type"]),
            image_id=int(body["image_id"]),
            owner_id=int(body["owner_id"]),
            processing_status=Status(body["processing_status"]),
            thumbnail_status=Status(body["thumbnail_status"]),
            variant_status=Status(body["variant_status"]),
            error=body.get("error"),
            thumbnail_urls=dict(body.get("thumbnail_urls") or {}),
            at=str(body.get("at") or datetime.now(UTC).isoformat()),
        )


def event_for(image: Image, event_type: StatusEventType) -> StatusEvent:
    """The event that tells clients about ``image`` as it stands now."""
    urls = (
        {spec.name: file_link(image.id, spec.name) for spec in THUMBNAIL_SIZES}
        if image.thumbnail_status is Status.COMPLETE
        else {}
    )
    return StatusEvent(
        type=event_type,
        image_id=image.id,
        owner_id=image.owner_id,
        processing_status=image.processing_status,
        thumbnail_status=image.thumbnail_status,
        variant_status=image.variant_status,
        error=image.processing_error if image.processing_status is Status.FAILED else None,
        thumbnail_urls=urls,
    )
