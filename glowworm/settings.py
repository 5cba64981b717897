"""Settings shared by every GlowWorm deployable, read from ``GLOWWORM_*`` variables.

Each deployable builds its own settings object once, in ``main()`` or the app factory,
and passes it down; nothing reads the environment at import time.

Any text setting (secrets, URLs) may come from a file instead (Docker and Kubernetes
secrets):
``GLOWWORM_S3_SECRET_KEY_FILE=/run/secrets/s3`` reads it from there, trailing newline
dropped. Setting both a variable and its ``_FILE`` is an error, not a silent choice.

The built-in defaults hold the local scripts' well-known secrets; a deployable refuses
to start with one of them (a clear error naming each) unless
``GLOWWORM_ALLOW_DEFAULT_SECRETS=true`` says this is a development machine, as the env
file of infra/services.sh does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "GLOWWORM_"
# Secrets anyone can look up: ours (the defaults below, infra/services.sh, the compose
# file's examples) and the services' own factory defaults.
WELL_KNOWN_SECRETS = frozenset({"glowworm", "glowworm-secret", "minioadmin", "guest", "postgres"})


class Settings(BaseSettings):
    """Connection and naming settings that both services need."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    database_url: str = "postgresql+psycopg://glowworm:glowworm@127.0.0.1:5432/glowworm"
    amqp_url: str = "amqp://glowworm:glowworm@127.0.0.1:5672//"
    s3_endpoint: str = "http://127.0.0.1:9000"
    # The S3 host that browsers and other clients reach; presigned URLs are signed for it.
    s3_public_endpoint: str = "http://127.0.0.1:9000"
    s3_access_key: str = "glowworm"
    s3_secret_key: str = "glowworm-secret"  # noqa: S105 - the local services' default
    s3_region: str = "us-east-1"
    originals_bucket: str = "originals"
    derivatives_bucket: str = "derivatives"
    # MinIO's ARN for the AMQP target named "glowworm" (MINIO_NOTIFY_AMQP_*_glowworm:
    # MinIO keeps the suffix's case, and ARNs are compared case-sensitively).
    s3_notify_arn: str = "arn:minio:sqs::glowworm:amqp"
    # Exchange MinIO publishes bucket events to; declared with MinIO's own flags.
    events_exchange: str = "glowworm.s3-events"
    # Prefix of every queue and exchange the project declares (lets test runs stay apart).
    queue_prefix: str = "glowworm"
    # Owner of objects that arrive through S3 tools rather than the upload API.
    default_owner: str = "s3-import"
    jpeg_quality: int = Field(default=85, ge=1, le=95)
    log_level: str = "INFO"
    # Storage quota of a user with none of their own (`glowworm user quota`): bytes and
    # images held, counted over every image not deleted or expired (an upload not yet
    # stored counts its announced size) when an upload URL is asked for, and when an
    # upload from a POST policy lands (glowworm/quotas.py). None: unlimited.
    quota_bytes: int | None = Field(default=None, ge=0)
    quota_images: int | None = Field(default=None, ge=0)
    # A development machine (infra/services.sh's env file, the demo, the tests): the
    # well-known secrets above are accepted. Never set it anywhere else.
    allow_default_secrets: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _SettingFiles(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    @model_validator(mode="after")
    def _no_well_known_secrets(self) -> Settings:
        if self.allow_default_secrets:
            return self
        known = [
            f"{ENV_PREFIX}{name.upper()}"
            for name, secret in (
                ("s3_secret_key", self.s3_secret_key),
                ("database_url", urlsplit(self.database_url).password),
                ("amqp_url", urlsplit(self.amqp_url).password),
            )
            if secret in WELL_KNOWN_SECRETS
        ]
        if known:
            raise ValueError(
                f"{', '.join(known)} use a well-known default secret; set your own (directly "
                f"or as {ENV_PREFIX}..._FILE), or {ENV_PREFIX}ALLOW_DEFAULT_SECRETS=true on a "
                "development machine"
            )
        return self


class _SettingFiles(PydanticBaseSettingsSource):
    """``GLOWWORM_<NAME>_FILE``: the setting read from that file."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = f"{ENV_PREFIX}{field_name.upper()}"
        path = os.environ.get(f"{variable}_FILE")
        if path is None:
            return None, field_name, False
        if variable in os.environ:
            raise ValueError(f"set {variable} or {variable}_FILE, not both")
        try:
            value = Path(path).read_text().removesuffix("\n")
        except OSError as e:
            raise ValueError(f"{variable}_FILE: cannot read {path}: {e.strerror}") from e
        return value, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, name, _ = self.get_field_value(field, field_name)
            if value is not None:
                found[name] = value
        return found
