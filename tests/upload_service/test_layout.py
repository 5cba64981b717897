"""How upload_service is laid out, read from the source with ``ast``: route modules are
not a library, and only the store adapter speaks botocore's errors."""

from __future__ import annotations

from tests.conftest import ROOT
from tests.source_imports import imports_of


def test_no_route_module_imports_another() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "upload_service/routes").glob("*.py"))
        for line, module in imports_of(path)
        if module.startswith("upload_service.routes")
    ]
    assert not offences, "shared helpers belong outside routes/:\n" + "\n".join(offences)


def test_only_the_store_adapter_handles_s3_errors() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "upload_service").rglob("*.py"))
        for line, module in imports_of(path)
        if module.split(".")[0] == "botocore" and path.name not in {"store.py", "presign.py"}
    ]
    assert not offences, "S3 errors are translated in upload_service/store.py:\n" + "\n".join(
        offences
    )
