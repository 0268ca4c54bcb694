"""The litellm transport: any other provider through litellm, imported lazily and offline.

litellm raises openai-typed exceptions; they become `UpstreamError` here only.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import openai

from config import LitellmTargetConfig
from config.environment import keep_litellm_offline
from gateway.errors import FailureKind, UpstreamError, target_failed, target_timeout, target_unavailable
from gateway.upstream.targets.base import JsonDict, error_fields, status_error

# The OpenAI chat parameters litellm takes by name (and maps per provider). Everything else the client sent
# goes in `extra_body`: a client must never be able to set litellm's own arguments (api_key, base_url, ...).
OPENAI_CHAT_PARAMS = frozenset(
    {
        "messages",
        "functions",
        "function_call",
        "temperature",
        "top_p",
        "n",
        "stream",
        "stream_options",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "modalities",
        "prediction",
        "audio",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "user",
        "response_format",
        "seed",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "logprobs",
        "top_logprobs",
        "reasoning_effort",
        "verbosity",
        "service_tier",
        "store",
        "metadata",
    }
)


def translate(target: str, timeout_s: float, exc: Exception) -> UpstreamError:
    """litellm's (openai-typed) exceptions -> UpstreamError; only here."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return target_timeout(target, timeout_s)
    if isinstance(exc, openai.APIConnectionError):
        detail = f"connection failed ({exc.__cause__ or exc or type(exc).__name__})"
        return target_unavailable(target, detail, FailureKind.CONNECTION)
    if isinstance(exc, openai.APIStatusError):
        message = exc.body.get("message") if isinstance(exc.body, dict) else None
        return status_error(target, exc.status_code, str(message) if message else exc.message, error_fields(exc.body))
    return target_failed(target, f"{type(exc).__name__}: {exc}", FailureKind.PROTOCOL)


def load_litellm() -> ModuleType:
    """Import litellm (about 3-6 s) with its model cost map kept local, so the import never reaches the network."""
    keep_litellm_offline()
    return importlib.import_module("litellm")


class _LitellmStream:
    """A litellm CustomStreamWrapper, its chunks as OpenAI chunk objects (serialised once, by the relay)."""

    def __init__(self, wrapper: Any, target: str, timeout_s: float) -> None:
        self._wrapper = wrapper
        self._target = target
        self._timeout_s = timeout_s

    async def events(self) -> AsyncIterator[JsonDict]:
        try:
            async for chunk in self._wrapper:
                yield chunk.model_dump(mode="json")
        except Exception as exc:
            raise translate(self._target, self._timeout_s, exc) from exc

    async def aclose(self) -> None:
        close = getattr(self._wrapper, "aclose", None)
        if close is not None:
            await close()


class LitellmTarget:
    """One litellm model string; litellm's own retries are off (the gateway's retry layer is the only one)."""

    def __init__(self, name: str, config: LitellmTargetConfig, litellm: ModuleType) -> None:
        self._name = name
        self._config = config
        self._litellm = litellm
        self.timeout_s = config.timeout_s

    def _arguments(self, body: JsonDict, request_id: str) -> JsonDict:
        named = {k: v for k, v in body.items() if k in OPENAI_CHAT_PARAMS}
        extra = {k: v for k, v in body.items() if k not in OPENAI_CHAT_PARAMS and k != "model"}
        config = self._config
        arguments: JsonDict = {
            **named,
            "model": config.model,
            "timeout": config.timeout_s,
            "extra_headers": {"X-Request-Id": request_id},
            "num_retries": 0,
            "max_retries": 0,
        }
        if extra:
            arguments["extra_body"] = extra
        if config.api_base is not None:
            arguments["api_base"] = str(config.api_base)
        if config.api_key is not None:
            arguments["api_key"] = config.api_key.get_secret_value()
        return arguments

    async def complete(self, body: JsonDict, request_id: str) -> JsonDict:
        try:
            response = await self._litellm.acompletion(**self._arguments({**body, "stream": False}, request_id))
            answer: JsonDict = response.model_dump(mode="json")
        except Exception as exc:
            raise translate(self._name, self.timeout_s, exc) from exc
        return answer

    async def open_stream(self, body: JsonDict, request_id: str) -> _LitellmStream:
        try:
            wrapper = await self._litellm.acompletion(**self._arguments({**body, "stream": True}, request_id))
        except Exception as exc:
            raise translate(self._name, self.timeout_s, exc) from exc
        return _LitellmStream(wrapper, self._name, self.timeout_s)

    async def aclose(self) -> None:
        """Close the clients litellm cached for this process (it keeps one per provider and key)."""
        await self._litellm.close_litellm_async_clients()
