"""The API fuzzed from its own OpenAPI schema (schemathesis) on a real server and real
services: whatever a client sends, no answer is a 5xx, and every answer is one the
schema declares (status code, content type, body).

Each operation is its own test, its cases drawn with Hypothesis from schemathesis'
strategy for it (schemathesis' pytest plugin does not run under this pytest).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ApiServer
from upload_service.app import create_app

# Cases per operation: enough to reach every parameter's edges, few enough for CI. The
# cases are the same on every run (derandomized), so a red run can be replayed; set
# GLOWWORM_FUZZ_EXAMPLES=1000 to search further by hand.
EXAMPLES = int(os.environ.get("GLOWWORM_FUZZ_EXAMPLES", "50"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The schema the server serves, as the app builds it (no service is needed for that).
SCHEMA = schemathesis.openapi.from_dict(create_app().openapi())
OPERATIONS: dict[str, Any] = {}
for _result in SCHEMA.get_all_operations():
    assert isinstance(_result, Ok), _result  # every operation's schema is well formed
    OPERATIONS[_result.ok().label] = _result.ok()


@pytest.fixture(scope="module")
def server(api_server: Callable[..., ApiServer]) -> ApiServer:
    return api_server()


@pytest.fixture(scope="module")
def fuzzer(make_token: Any) -> dict[str, str]:
    """A user of no importance: not an admin, so the fuzz cannot pause the pipeline."""
    headers: dict[str, str] = make_token()
    return headers


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_answer_is_a_server_error_or_off_the_schema(
    label: str, server: ApiServer, fuzzer: dict[str, str]
) -> None:
    @given(case=OPERATIONS[label].as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=server.url, headers=fuzzer, checks=CHECKS)

    fuzz()
