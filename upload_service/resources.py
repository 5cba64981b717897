"""Clients the API makes once at start-up; routes reach them through ``deps``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from upload_service.broker import Broker
from upload_service.hub import Hub
from upload_service.relay import StatusRelay
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Resources:
    """Clients made once at start-up; routes reach them through ``deps``."""

    settings: UploadSettings
    sessions: sessionmaker[Session]
    # Signs URLs for the host clients reach; never used to talk to the store.
    signer: S3Client
    # Talks to the store from inside (multipart create, list, complete, abort).
    s3: S3Client
    broker: Broker
    # This replica's sockets, and the thread that feeds them status events.
    hub: Hub
    relay: StatusRelay
