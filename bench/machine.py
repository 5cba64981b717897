"""Facts about the machine, the libraries and the services, for the head of a report."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from kombu import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench.imaging import machine as imaging_machine
from glowworm.settings import Settings

# Distributions whose versions go into the report.
LIBRARIES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "SQLAlchemy",
    "psycopg",
    "kombu",
    "amqp",
    "boto3",
    "httpx",
    "structlog",
)


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    output = (done.stdout or done.stderr).strip()
    return output.splitlines()[0] if output else "unknown"


def _minio() -> str:
    """The running MinIO's version; a `go install` build says DEVELOPMENT, so ask go too."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "minio":
                exe = str((entry / "exe").resolve())
                break
        except OSError:
            continue
    else:
        return "not found among this machine's processes"
    version = _first_line([exe, "--version"])
    if shutil.which("go"):
        for line in _first_line_all(["go", "version", "-m", exe]):
            parts = line.split()
            if parts[:2] == ["mod", "github.com/minio/minio"]:
                version += f" (module {parts[2]})"
    return version


def _first_line_all(command: list[str]) -> list[str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return done.stdout.splitlines()


def _postgres(settings: Settings) -> str:
    engine = create_engine(settings.database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar_one())
    except Exception as e:  # a fact we could not get is reported, not fatal
        return f"unknown ({type(e).__name__})"
    finally:
        engine.dispose()


def _rabbitmq(settings: Settings) -> str:
    try:
        with Connection(settings.amqp_url, connect_timeout=5) as connection:
            connection.connect()
            props = connection.connection.server_properties
            return f"{props.get('version')} ({props.get('platform')})"
    except Exception as e:
        return f"unknown ({type(e).__name__})"


def facts() -> str:
    """Several lines: CPUs, memory, OS, Python and library versions, services, load."""
    settings = Settings()
    memory = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "unknown",
    )
    os_name = next(
        (
            line.split("=", 1)[1].strip('"')
            for line in Path("/etc/os-release").read_text().splitlines()
            if line.startswith("PRETTY_NAME=")
        ),
        platform.system(),
    )
    libraries = ", ".join(f"{name} {metadata.version(name)}" for name in LIBRARIES)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "\n".join(
        [
            imaging_machine(),
            f"nproc {os.cpu_count()}, memory {memory}, {os_name}, kernel {platform.release()}",
            f"more libraries: {libraries}",
            f"services: Postgres {_postgres(settings)}, RabbitMQ {_rabbitmq(settings)}, "
            f"MinIO {_minio()}",
            f"load generator: {_first_line(['wrk', '-v']) if shutil.which('wrk') else 'no wrk'}",
            f"load average (1, 5, 15 min) at start: {load}",
        ]
    )
