"""The body of a job message on the jobs exchange, parsed at the edge.

The processor publishes these after ingest and between jobs; the API publishes them
when a person asks for a retry. The database row is the truth: a message only says
"look at job N for this version of the original".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from glowworm.sizes import JobType


class MalformedJobMessage(ValueError):
    """The message body is not a job message."""


@dataclass(frozen=True)
class JobMessage:
    job_id: int
    image_id: int
    job_type: JobType
    etag: str

    def to_body(self) -> dict[str, Any]:
        return {**asdict(self), "job_type": self.job_type.value}

    @classmethod
    def from_body(cls, body: Any) -> JobMessage:
        """Parse a decoded or raw JSON body; raises ``MalformedJobMessage``."""
        try:
            data = json.loads(body) if isinstance(body, bytes | str) else body
            return cls(
                job_id=int(data["job_id"]),
                image_id=int(data["image_id"]),
                job_type=JobType(data["job_type"]),
                etag=str(data["etag"]),
            )
        except (ValueError, TypeError, KeyError) as e:
            raise MalformedJobMessage(f"not a job message: {e!r}") from e
