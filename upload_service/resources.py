"""Clients the API makes once at start-up; routes reach them through ``deps``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from anyio import CapacityLimiter
from cachetools import TTLCache
from sqlalchemy.orm import Session, sessionmaker

from glowworm.tokens import Caller
from glowworm.upload_claims import SigningKeyCache
from upload_service.batched_inserts import BatchedInserts
from upload_service.broker import Broker
from upload_service.hub import Hub
from upload_service.presign import GetSigner, PutSigner
from upload_service.rate_limits import RateLimits
from upload_service.relay import StatusRelay
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Resources:
    """Clients made once at start-up; routes reach them through ``deps``."""

    settings: UploadSettings
    sessions: sessionmaker[Session]
    # The upload route's inserts, batched across the requests in flight.
    inserts: BatchedInserts
    # Signs URLs for the host clients reach; never used to talk to the store.
    signer: S3Client
    # The same, cheaper, for the one URL per upload the upload route signs.
    put_signer: PutSigner
    # Signs download URLs as of their window's start (see signing_windows).
    get_signer: GetSigner
    # Talks to the store from inside (multipart create, list, complete, abort).
    s3: S3Client
    broker: Broker
    # This replica's sockets, and the thread that feeds them status events.
    hub: Hub
    relay: StatusRelay
    # Token hash -> caller, for the upload route (see deps.current_caller).
    callers: TTLCache[str, Caller]
    # Worker threads the upload route's duplicate and quota checks may use at once.
    upload_threads: CapacityLimiter
    # Per-user counts of upload URLs and retries (upload_service/rate_limits.py).
    rate_limits: RateLimits
    # Signs the owner claims of POST-policy uploads (glowworm/upload_claims.py).
    claim_key: SigningKeyCache
