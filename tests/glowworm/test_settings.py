"""Secrets: the well-known defaults are refused outside a development machine, and any
setting may be read from a file named by GLOWWORM_<NAME>_FILE (Docker and Kubernetes
secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from glowworm.settings import Settings

OWN = {
    "database_url": "postgresql+psycopg://glowworm:Qx7-long-own@db:5432/glowworm",
    "amqp_url": "amqp://glowworm:Zr4-long-own@mq:5672//",
    "s3_secret_key": "Wm9-long-own",
}


def test_well_known_secrets_are_refused_naming_each(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("S3_SECRET_KEY", "DATABASE_URL", "AMQP_URL"):  # the built-in defaults
        monkeypatch.delenv(f"GLOWWORM_{name}", raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(allow_default_secrets=False)
    message = str(refused.value)
    assert (
        "GLOWWORM_S3_SECRET_KEY, GLOWWORM_DATABASE_URL, GLOWWORM_AMQP_URL use a well-known "
        "default secret" in message
    )
    assert "GLOWWORM_ALLOW_DEFAULT_SECRETS=true on a development machine" in message
    with pytest.raises(ValidationError, match="GLOWWORM_AMQP_URL use a well-known"):
        Settings.model_validate(
            {**OWN, "amqp_url": "amqp://guest:guest@mq//", "allow_default_secrets": False}
        )


def test_own_secrets_or_a_development_machine_start() -> None:
    own = Settings.model_validate({**OWN, "allow_default_secrets": False})
    assert own.s3_secret_key == "Wm9-long-own"
    assert Settings(allow_default_secrets=True).s3_secret_key == "glowworm-secret"


def test_a_setting_is_read_from_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "s3_secret"
    secret.write_text("from-a-docker-secret\n")
    monkeypatch.delenv("GLOWWORM_S3_SECRET_KEY", raising=False)
    monkeypatch.setenv("GLOWWORM_S3_SECRET_KEY_FILE", str(secret))
    url = tmp_path / "database_url"
    url.write_text(OWN["database_url"])
    monkeypatch.delenv("GLOWWORM_DATABASE_URL", raising=False)
    monkeypatch.setenv("GLOWWORM_DATABASE_URL_FILE", str(url))
    settings = Settings()
    assert settings.s3_secret_key == "from-a-docker-secret"
    assert settings.database_url == OWN["database_url"]


def test_a_variable_and_its_file_together_or_a_missing_file_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "s3_secret"
    secret.write_text("one")
    monkeypatch.setenv("GLOWWORM_S3_SECRET_KEY", "other")
    monkeypatch.setenv("GLOWWORM_S3_SECRET_KEY_FILE", str(secret))
    with pytest.raises(
        ValueError, match="set GLOWWORM_S3_SECRET_KEY or GLOWWORM_S3_SECRET_KEY_FILE"
    ):
        Settings()
    monkeypatch.delenv("GLOWWORM_S3_SECRET_KEY")
    monkeypatch.setenv("GLOWWORM_S3_SECRET_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="GLOWWORM_S3_SECRET_KEY_FILE: cannot read"):
        Settings()
