"""Browser tests: Playwright (playwright-core) driving Debian's Chromium, run by node's
test runner against a real uvicorn, the session's processors, MinIO and RabbitMQ.

``make browser-deps`` installs what they need (Chromium from Debian, the npm packages of
tests/browser, and the Uppy bundle); ``make test`` runs it first. Screenshots of the three
pages go to artifacts/browser/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS, ROOT

HERE = Path(__file__).parent
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = os.environ.get("GLOWWORM_CHROMIUM", "/usr/bin/chromium")
# Everything the node side needs, relative to tests/browser.
NEEDED = ("node_modules/playwright-core", "node_modules/@uppy/aws-s3", "build/uppy.js")


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, once Chromium and the npm packages are in place."""
    node = shutil.which("node")
    problems = [] if node else ["node is not installed"]
    if not Path(CHROMIUM).exists():
        problems.append(f"{CHROMIUM} is missing")
    problems += [f"tests/browser/{p} is missing" for p in NEEDED if not (HERE / p).exists()]
    if problems:
        message = "; ".join(problems) + " (run `make browser-deps`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert node is not None
    return node


def run_node_tests(node: str, script: str, env: dict[str, str]) -> None:
    """Run one node:test file; its report is printed, and a failing test fails this one."""
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", script],
        cwd=HERE,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    print(result.stdout)
    print(result.stderr)
    assert result.returncode == 0, (
        f"{script} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    )


def _env(server: Any, user: dict[str, str], admin: dict[str, str]) -> dict[str, str]:
    return {
        "GLOWWORM_TEST_URL": server.url,
        "GLOWWORM_TEST_TOKEN": user["Authorization"].removeprefix("Bearer "),
        "GLOWWORM_TEST_ADMIN_TOKEN": admin["Authorization"].removeprefix("Bearer "),
        "GLOWWORM_TEST_CORPUS": str(CORPUS),
        "GLOWWORM_TEST_ARTIFACTS": str(ARTIFACTS),
        "GLOWWORM_CHROMIUM": CHROMIUM,
    }


@pytest.mark.timeout(600)
def test_upload_gallery_and_admin_pages_in_chromium(
    node: str, api_server: Any, make_token: Any, processors: Any
) -> None:
    run_node_tests(node, "pages.test.mjs", _env(api_server(), make_token(), make_token(admin=True)))
    for page in ("upload", "gallery", "admin"):
        assert (ARTIFACTS / f"{page}.png").stat().st_size > 10_000


@pytest.mark.timeout(600)
def test_real_uppy_uploads_through_the_companion_routes(
    node: str, api_server: Any, make_token: Any, processors: Any
) -> None:
    run_node_tests(node, "uppy.test.mjs", _env(api_server(), make_token(), make_token(admin=True)))
