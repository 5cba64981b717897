"""docker-compose.yml, read as Compose reads it: this machine has no engine to run it."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import ROOT

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
