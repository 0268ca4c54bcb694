"""HTTP checks against a vLLM server (stdlib urllib): health, the /v1/models listing, one-token warm-ups."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr


class ProbeError(Exception):
    """An HTTP check that failed: connection refused, timeout, non-2xx status or an unexpected body."""


@dataclass(frozen=True)
class Endpoint:
    """Where a server lives and how to authenticate to it."""

    root_url: str
    api_key: SecretStr | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers


def request_json(endpoint: Endpoint, path: str, body: dict[str, Any] | None, timeout_s: float) -> Any:
    """GET (body None) or POST JSON to `root_url + path`; the decoded JSON reply (None for an empty body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(endpoint.root_url + path, data=data, headers=endpoint.headers())
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise ProbeError(f"{path}: HTTP {exc.code} {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProbeError(f"{path}: {reason}") from exc
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ProbeError(f"{path}: reply is not JSON") from exc


def is_healthy(endpoint: Endpoint, timeout_s: float = 2.0) -> bool:
    try:
        request_json(endpoint, "/health", None, timeout_s)
    except ProbeError:
        return False
    return True


def list_models(endpoint: Endpoint, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    reply = request_json(endpoint, "/v1/models", None, timeout_s)
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, list):
        raise ProbeError("/v1/models: no data list in the reply")
    return [item for item in data if isinstance(item, dict)]


def missing_adapters(models: list[dict[str, Any]], served_model: str, adapters: list[str]) -> list[str]:
    """Problems with the listing: base absent, an adapter absent or with the wrong parent."""
    by_id = {str(m.get("id")): m for m in models}
    problems = [] if served_model in by_id else [f"base {served_model!r} not listed"]
    for name in adapters:
        entry = by_id.get(name)
        if entry is None:
            problems.append(f"adapter {name!r} not listed")
        elif entry.get("parent") != served_model:
            problems.append(f"adapter {name!r} has parent {entry.get('parent')!r}, expected {served_model!r}")
    return problems


def one_token_chat(endpoint: Endpoint, model: str, timeout_s: float) -> float:
    """Send a one-token greedy chat request; return its latency in seconds."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 1,
        "temperature": 0.0,
    }
    started = time.monotonic()
    reply = request_json(endpoint, "/v1/chat/completions", body, timeout_s)
    if not isinstance(reply, dict) or not reply.get("choices"):
        raise ProbeError(f"/v1/chat/completions ({model}): reply has no choices")
    return time.monotonic() - started
