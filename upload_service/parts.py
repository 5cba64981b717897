"""How a multipart upload of a declared size is cut into parts, as Uppy cuts it.

Every part URL is signed with that part's exact Content-Length, and only the parts the
declared size needs are signed, so the store refuses a part of any other size and an
upload can never hold more than it declared (nor more than the size limit, which the
declaration is checked against).

The cut is the one S3 and Uppy's AwsS3 plugin make by default: parts of 5 MiB (S3's
smallest, but for the last), larger only where 10,000 parts (S3's most) would not hold
the file, the last part holding the rest. A client that cuts otherwise (Uppy's
``getChunkSize`` option) has its parts refused by the store (403).
"""

from __future__ import annotations

from dataclasses import dataclass

# S3's smallest part (but for the last) and its most parts; Uppy's defaults too.
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000


@dataclass(frozen=True)
class PartPlan:
    """The parts of one multipart upload of ``total`` bytes."""

    total: int
    part_bytes: int

    @classmethod
    def for_size(cls, total: int) -> PartPlan:
        if total < 1:
            raise ValueError("a multipart upload holds at least one byte")
        return cls(total, max(MIN_PART_BYTES, -(-total // MAX_PARTS)))

    @property
    def count(self) -> int:
        return -(-self.total // self.part_bytes)

    def size_of(self, number: int) -> int:
        """The bytes of part ``number`` (1 to ``count``)."""
        if not 1 <= number <= self.count:
            raise ValueError(f"part numbers run from 1 to {self.count}")
        if number < self.count:
            return self.part_bytes
        return self.total - (self.count - 1) * self.part_bytes
