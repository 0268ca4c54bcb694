"""Scripting and recording for the fake vLLM worker: Behaviour, RecordedRequest and their thread-safe store."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from benchmarks.fakes.vllm_protocol import echo_reply

ReplyFn = Callable[[dict[str, Any]], str]
Malformed = Literal["text_plain", "invalid_json", "no_choices", "truncated", "reset"]
GENERATION_PATHS: tuple[str, ...] = ("/v1/chat/completions", "/v1/completions")


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers one generation request (chat or completion).

    reply: the text (or a function of the request body returning it); None -> `echo_reply`
      (the <prompt>...</prompt> text of the last user message, capitalised, with a final period).
    delay: seconds before the response headers. token_delay: seconds before each streamed token
      (non-streaming: token_delay x generated tokens before the body).
    status: fail with this HTTP status and vLLM's error body (error_message/error_type override it).
    hang: never answer until the fake stops (then the connection is closed).
    drop: close the connection without any response (after `delay`).
    fail_after_tokens: stop after N content tokens; streams then send vLLM's mid-stream error event
      and `[DONE]` (fail_mode="error_chunk") or just close the connection (fail_mode="close");
      non-streaming requests get a 500 GenerationError body.
    gate: wait (before `delay`) until `FakeVllmServer.open_gate(gate)` is called.
    headers: extra response headers (e.g. {"retry-after": "1"}).
    malformed: answer 200 with something that is not the OpenAI shape: "text_plain" (a text/plain body),
      "invalid_json", "no_choices" (a JSON object without `choices`), "truncated" (Content-Length promises more
      than is sent, then the connection closes) or "reset" (part of a chunked body, then the connection closes).
    """

    reply: str | ReplyFn | None = None
    delay: float = 0.0
    token_delay: float = 0.0
    status: int | None = None
    error_message: str | None = None
    error_type: str | None = None
    hang: bool = False
    drop: bool = False
    fail_after_tokens: int | None = None
    fail_mode: Literal["error_chunk", "close"] = "error_chunk"
    gate: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    malformed: Malformed | None = None

    def reply_text(self, body: dict[str, Any]) -> str:
        if self.reply is None:
            return echo_reply(body)
        if isinstance(self.reply, str):
            return self.reply
        return self.reply(body)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived (recorded before auth, validation and any scripted delay)."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-cased names
    raw_body: bytes
    body: Any  # parsed JSON, or None

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


class ScriptState:
    """Behaviours, recordings and counters shared between the test thread and the server loop."""

    def __init__(self, default: Behaviour) -> None:
        self.cond = threading.Condition(threading.RLock())
        self._default = default
        self._per_model: dict[str, Behaviour] = {}
        self._queue: deque[tuple[str | None, Behaviour]] = deque()
        self._records: list[RecordedRequest] = []
        self._served: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._peak_in_flight = 0
        self._completed = 0
        self._cancelled = 0
        self.dead = False

    # scripting
    def set_default(self, behaviour: Behaviour) -> None:
        with self.cond:
            self._default = behaviour

    def set_model(self, model: str, behaviour: Behaviour | None) -> None:
        with self.cond:
            if behaviour is None:
                self._per_model.pop(model, None)
            else:
                self._per_model[model] = behaviour

    def enqueue(self, behaviours: Iterable[Behaviour], model: str | None) -> None:
        with self.cond:
            self._queue.extend((model, b) for b in behaviours)

    def pick(self, model: str) -> Behaviour:
        """First queued one-shot for this model (or for any), else per-model, else default."""
        with self.cond:
            for i, (want, behaviour) in enumerate(self._queue):
                if want is None or want == model:
                    del self._queue[i]
                    return behaviour
            return self._per_model.get(model, self._default)

    # recording
    def record(self, rec: RecordedRequest) -> None:
        with self.cond:
            self._records.append(rec)
            if rec.path in GENERATION_PATHS:
                self._served[rec.model or ""] += 1
            self.cond.notify_all()

    def records(self, paths: Iterable[str] | None = GENERATION_PATHS) -> list[RecordedRequest]:
        with self.cond:
            if paths is None:
                return list(self._records)
            wanted = set(paths)
            return [r for r in self._records if r.path in wanted]

    def count(self, model: str | None = None) -> int:
        with self.cond:
            if model is None:
                return sum(self._served.values())
            return self._served[model]

    def counts(self) -> dict[str, int]:
        with self.cond:
            return dict(self._served)

    def clear(self) -> None:
        with self.cond:
            self._records.clear()
            self._served.clear()
            self._queue.clear()
            self._peak_in_flight = sum(self._in_flight.values())
            self._completed = 0
            self._cancelled = 0
            self.cond.notify_all()

    # in-flight accounting
    def begin(self, model: str) -> None:
        with self.cond:
            self._in_flight[model] += 1
            self._peak_in_flight = max(self._peak_in_flight, sum(self._in_flight.values()))
            self.cond.notify_all()

    def end(self, model: str, *, completed: bool, cancelled: bool) -> None:
        with self.cond:
            self._in_flight[model] -= 1
            if self._in_flight[model] <= 0:
                del self._in_flight[model]
            self._completed += int(completed)
            self._cancelled += int(cancelled)
            self.cond.notify_all()

    def in_flight(self, model: str | None = None) -> int:
        with self.cond:
            return sum(self._in_flight.values()) if model is None else self._in_flight[model]

    def running_models(self) -> list[str]:
        with self.cond:
            return sorted(self._in_flight)

    @property
    def peak_in_flight(self) -> int:
        with self.cond:
            return self._peak_in_flight

    @property
    def completed(self) -> int:
        with self.cond:
            return self._completed

    @property
    def cancelled(self) -> int:
        with self.cond:
            return self._cancelled

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            if not self.cond.wait_for(predicate, timeout=max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"fake vLLM: timed out after {timeout}s waiting for {what}")
