"""Which way imports may point: read from the source with ``ast``, nothing is imported.

The shared package is installed with every deployable, so it must not import one; the
imaging core is pure, so it must not import an I/O library (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from tests.conftest import ROOT
from tests.source_imports import imports_of

# Deployables: each depends on glowworm, never the other way round.
DEPLOYABLES = frozenset({"upload_service", "processor"})
# Storage, broker, database and HTTP clients and servers: none belongs in the imaging core.
IO_LIBRARIES = frozenset(
    {
        "boto3",
        "botocore",
        "minio",
        "kombu",
        "amqp",
        "sqlalchemy",
        "psycopg",
        "requests",
        "httpx",
        "fastapi",
        "starlette",
        "uvicorn",
    }
)


def _offences(package: str, forbidden: frozenset[str]) -> list[str]:
    paths = sorted((ROOT / package).rglob("*.py"))
    # A moved directory must not leave the check passing over nothing.
    assert paths, f"no modules under {package}/"
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in paths
        for line, module in imports_of(path)
        if module.split(".")[0] in forbidden
    ]


def test_the_shared_package_imports_no_deployable() -> None:
    offences = _offences("glowworm", DEPLOYABLES)
    assert not offences, "glowworm/ must not import a deployable:\n" + "\n".join(offences)


def test_the_imaging_core_imports_no_io_library() -> None:
    offences = _offences("processor/imaging", IO_LIBRARIES)
    assert not offences, "processor/imaging/ must stay pure:\n" + "\n".join(offences)
