"""docker-compose.yml, read as Compose reads it: this machine has no engine to run it."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from upload_service.settings import UploadSettings

# Services that run once and end: restarting them would run them again.
ONE_SHOT = {"setup"}


def _services() -> dict[str, Any]:
    # safe_load resolves the file's anchors and ``<<`` merges, as Compose does.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services: dict[str, Any] = compose["services"]
    return services


def test_every_long_running_service_comes_back_after_a_crash() -> None:
    services = _services()
    assert {"postgres", "rabbitmq", "minio", "upload_service", "processor"} <= set(services)
    restarts = {name: service.get("restart") for name, service in services.items()}
    assert restarts == {name: "no" if name in ONE_SHOT else "unless-stopped" for name in services}


# ${NAME:?message}: Compose refuses to start while NAME is unset or empty.
_REQUIRED = re.compile(r"\$\{(\w+):\?[^}]*\}")


def _interpolated(value: str, secrets: dict[str, str]) -> str:
    return _REQUIRED.sub(lambda m: secrets[m.group(1)], value)


def test_no_password_is_written_in_the_file_and_each_is_required() -> None:
    services = _services()
    secret_values = [
        services["postgres"]["environment"]["POSTGRES_PASSWORD"],
        services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"],
        services["minio"]["environment"]["MINIO_ROOT_PASSWORD"],
        services["processor"]["environment"]["GLOWWORM_S3_SECRET_KEY"],
    ]
    urls = [
        services["processor"]["environment"]["GLOWWORM_DATABASE_URL"],
        services["processor"]["environment"]["GLOWWORM_AMQP_URL"],
        services["minio"]["environment"]["MINIO_NOTIFY_AMQP_URL_glowworm"],
    ]
    assert all(_REQUIRED.fullmatch(value) for value in secret_values), secret_values
    # user:${PASSWORD:?...}@host: the password part of each URL is a required variable.
    password = re.compile(r"://\w+:" + _REQUIRED.pattern + "@")
    assert all(password.search(url) for url in urls), urls
    example = (ROOT / "infra" / "compose.env.example").read_text()
    named = {m.group(1) for value in secret_values + urls for m in _REQUIRED.finditer(value)}
    assert named == {"POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "MINIO_PASSWORD"}
    assert all(f"\n{name}=\n" in example for name in named), "the example names each, empty"


def test_admin_ports_listen_on_this_machine_only() -> None:
    published = {
        port.rsplit(":", 1)[-1]: port
        for service in _services().values()
        for port in service.get("ports", [])
    }
    for admin in ("9001", "15672"):  # MinIO's console, RabbitMQ's management UI
        assert published[admin].startswith("127.0.0.1:"), published[admin]


def test_the_apps_start_with_own_secrets_and_refuse_the_well_known_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _services()["upload_service"]["environment"]
    for name in list(os.environ):
        if name.startswith("GLOWWORM_"):
            monkeypatch.delenv(name)
    own = {"POSTGRES_PASSWORD": "a1b2", "RABBITMQ_PASSWORD": "c3d4", "MINIO_PASSWORD": "e5f6"}
    for name, value in env.items():
        monkeypatch.setenv(name, _interpolated(str(value), own))
    assert UploadSettings().s3_secret_key == "e5f6"
    monkeypatch.setenv("GLOWWORM_S3_SECRET_KEY", "glowworm-secret")
    with pytest.raises(ValueError, match="GLOWWORM_S3_SECRET_KEY use a well-known"):
        UploadSettings()
