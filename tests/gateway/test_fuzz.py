"""Schemathesis fuzzing of the served gateway from its own OpenAPI document: no 5xx, no schema violations."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.case import Case

from tests.serving import ServedGateway

# Cases per generation mode (valid and invalid data), spread over all operations; small enough for CI.
CASES_PER_MODE = 60
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_openapi_fuzz_finds_no_server_error_or_schema_violation(served: ServedGateway) -> None:
    document = httpx.get(served.url + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=served.url)
    seen: dict[str, int] = {}
    strategy = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=2 * CASES_PER_MODE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=strategy)
    def fuzz(case: Case[Any]) -> None:
        response = case.call(base_url=served.url, timeout=15)
        case.validate_response(response, checks=CHECKS)
        key = f"{case.method} {case.path}"
        seen[key] = seen.get(key, 0) + 1

    fuzz()
    total = sum(seen.values())
    print(f"schemathesis: {total} cases over {len(seen)} operations: {seen}")
    assert total >= CASES_PER_MODE
    assert {"POST /refine", "POST /v1/chat/completions"} <= set(seen)
