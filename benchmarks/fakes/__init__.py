"""Test doubles that speak real wire protocols (a fake vLLM 0.32 OpenAI worker)."""

from typing import TYPE_CHECKING, Any

from benchmarks.fakes.vllm_protocol import correct, echo_reply, extract_prompt, tokenize
from benchmarks.fakes.vllm_script import GENERATION_PATHS, Behaviour, RecordedRequest

if TYPE_CHECKING:
    from benchmarks.fakes.vllm_server import FakeVllmServer

__all__ = [
    "GENERATION_PATHS",
    "Behaviour",
    "FakeVllmServer",
    "RecordedRequest",
    "correct",
    "echo_reply",
    "extract_prompt",
    "tokenize",
]


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m benchmarks.fakes.vllm_server` does not import the module twice.
    if name == "FakeVllmServer":
        from benchmarks.fakes.vllm_server import FakeVllmServer

        return FakeVllmServer
    raise AttributeError(name)
