"""Which way imports may point: read from the source with ``ast``, nothing is imported.

The shared package is installed with every deployable, so it must not import one; the
imaging core is pure, so it must not import an I/O library (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

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


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute module name ``path`` imports, with its line: at the top, inside
    functions, under ``if TYPE_CHECKING``, and ``importlib.import_module("...")``."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            # A relative import stays inside the package it is written in.
            if node.level == 0 and node.module is not None:
                yield node.lineno, node.module
        elif (
            isinstance(node, ast.Call)
            and _called_name(node) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _offences(package: str, forbidden: frozenset[str]) -> list[str]:
    paths = sorted((ROOT / package).rglob("*.py"))
    # A moved directory must not leave the check passing over nothing.
    assert paths, f"no modules under {package}/"
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in paths
        for line, module in _imports(path)
        if module.split(".")[0] in forbidden
    ]


def test_the_shared_package_imports_no_deployable() -> None:
    offences = _offences("glowworm", DEPLOYABLES)
    assert not offences, "glowworm/ must not import a deployable:\n" + "\n".join(offences)


def test_the_imaging_core_imports_no_io_library() -> None:
    offences = _offences("processor/imaging", IO_LIBRARIES)
    assert not offences, "processor/imaging/ must stay pure:\n" + "\n".join(offences)
