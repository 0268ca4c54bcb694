"""Schemathesis fuzzing of the served gateway from its own OpenAPI document: no 5xx, no schema violations.

On top of what schemathesis generates, some cases carry lone UTF-16 surrogates in their strings (hypothesis never
makes them) and the fake workers answer each case in one of the ways a broken worker does.
"""

from __future__ import annotations

import json
import random
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

from benchmarks.fakes import Behaviour, FakeVllmServer
from benchmarks.serving import ServedGateway

# At least this many cases, spread over all operations and both generation modes (valid and invalid data).
MIN_CASES = 1000
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# /ready answers 503 by design while the workers' breakers are open (most fake replies below are faults): the
# documented status, with the reason in its body; any other 5xx is a bug.
READY_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
WORKER_REPLIES = [
    Behaviour(),
    Behaviour(status=500),
    Behaviour(status=400),
    *(Behaviour(malformed=kind) for kind in ("text_plain", "invalid_json", "no_choices", "truncated", "reset")),
]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]


def _with_surrogates(value: Any, rng: random.Random) -> Any:
    """The body with a lone surrogate put into about half of its strings."""
    if isinstance(value, str):
        if rng.random() < 0.5:
            return value
        at = rng.randint(0, len(value))
        return value[:at] + rng.choice(SURROGATES) + value[at:]
    if isinstance(value, dict):
        return {k: _with_surrogates(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_surrogates(v, rng) for v in value]
    return value


def _call_with_surrogates(url: str, case: Case[Any], body: Any) -> None:
    """The case with its body escaped as JSON allows (schemathesis's client encodes it as UTF-8, which cannot)."""
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "content-length"}
    headers["content-type"] = "application/json"
    content = json.dumps(body, ensure_ascii=True).encode()
    response = httpx.request(
        case.method, url + case.formatted_path, params=case.query, headers=headers, content=content, timeout=15
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, error


def test_openapi_fuzz_finds_no_server_error_or_schema_violation(
    served: ServedGateway, cleaner_fake: FakeVllmServer, describer_fake: FakeVllmServer
) -> None:
    document = httpx.get(served.url + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=served.url)
    seen: dict[str, int] = {}
    surrogate_cases = 0
    strategy = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=MIN_CASES + 100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=strategy, reply=st.sampled_from(WORKER_REPLIES), surrogates=st.booleans(), rng=st.randoms())
    def fuzz(case: Case[Any], reply: Behaviour, surrogates: bool, rng: random.Random) -> None:
        nonlocal surrogate_cases
        cleaner_fake.set_default(reply)
        describer_fake.set_default(reply)
        if surrogates and isinstance(case.body, dict):
            surrogate_cases += 1
            _call_with_surrogates(served.url, case, _with_surrogates(case.body, rng))
        else:
            response = case.call(base_url=served.url, timeout=15)
            ready = case.path == "/ready"
            case.validate_response(response, checks=READY_CHECKS if ready else CHECKS)
            if ready and response.status_code == 503:
                assert response.json()["ready"] is False, response.text
        key = f"{case.method} {case.path}"
        seen[key] = seen.get(key, 0) + 1

    fuzz()
    total = sum(seen.values())
    print(f"schemathesis: {total} cases over {len(seen)} operations ({surrogate_cases} with surrogates): {seen}")
    assert total >= MIN_CASES
    assert surrogate_cases >= MIN_CASES // 4
    assert {"POST /refine", "POST /v1/chat/completions"} <= set(seen)
