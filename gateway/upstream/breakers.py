"""Per-endpoint state from the gateway's own view: circuit breaker, in-flight count, last probe."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from config.cluster import BreakerConfig

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class EndpointView:
    """What the router may know about an endpoint: can it take calls now, and how busy is it."""

    available: bool = True
    inflight: int = 0


@dataclass
class EndpointState:
    """Mutable state of one worker endpoint; only EndpointRegistry changes it."""

    name: str
    consecutive_failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False
    inflight: int = 0
    last_ok_at: float | None = None
    last_call_ok_at: float | None = None
    last_error: str | None = None
    probe_ok: bool | None = None
    probe_at: float | None = None
    # Taken out of routing by an operator (`POST /admin/endpoints/{name}/drain`), like an open breaker.
    drained: bool = False
    calls: dict[str, int] = field(default_factory=lambda: {"ok": 0, "error": 0})


class EndpointRegistry:
    """Breakers and in-flight counts for every worker endpoint; pure state, no I/O."""

    def __init__(
        self, names: Iterable[str], config: BreakerConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._clock = clock
        self._states = {name: EndpointState(name) for name in names}

    def state(self, name: str) -> EndpointState:
        return self._states[name]

    def breaker(self, name: str) -> BreakerState:
        state = self._states[name]
        if state.opened_at is None:
            return "closed"
        if self._clock() - state.opened_at >= self._config.cooldown_s:
            return "half_open"
        return "open"

    def available(self, name: str) -> bool:
        """May a call go to this endpoint now? Half-open lets exactly one trial call through; drained, none."""
        if self._states[name].drained:
            return False
        breaker = self.breaker(name)
        if breaker == "closed":
            return self._states[name].probe_ok is not False
        return breaker == "half_open" and not self._states[name].trial_in_flight

    def set_drained(self, name: str, drained: bool) -> EndpointState:
        """Take the endpoint out of routing (calls in flight finish) or put it back; KeyError if unknown."""
        state = self._states[name]
        state.drained = drained
        return state

    def recently_ok(self, name: str, within_s: float) -> bool:
        """Did a real call to this endpoint succeed within the last `within_s` seconds?"""
        at = self._states[name].last_call_ok_at
        return at is not None and self._clock() - at < within_s

    def views(self) -> dict[str, EndpointView]:
        return {n: EndpointView(self.available(n), s.inflight) for n, s in self._states.items()}

    def begin(self, name: str) -> None:
        state = self._states[name]
        state.inflight += 1
        if self.breaker(name) == "half_open":
            state.trial_in_flight = True

    def end(self, name: str, error: str | None) -> None:
        state = self._states[name]
        state.inflight = max(0, state.inflight - 1)
        state.trial_in_flight = False
        if error is None:
            self._succeeded(state)
            state.last_call_ok_at = state.last_ok_at
        else:
            self._failed(state, error)

    def abandon(self, name: str) -> None:
        """A call given up by the gateway or its client (cancelled): no verdict on the endpoint either way."""
        state = self._states[name]
        state.inflight = max(0, state.inflight - 1)
        state.trial_in_flight = False

    def record_failure(self, name: str, error: str) -> None:
        """A failure found after the call was given up (the gateway's own stage timeout ran out on it)."""
        self._failed(self._states[name], error)

    def record_probe(self, name: str, ok: bool, error: str | None = None) -> None:
        state = self._states[name]
        state.probe_ok = ok
        state.probe_at = self._clock()
        if ok:
            state.last_ok_at = state.probe_at
            if self.breaker(name) == "half_open":
                self._succeeded(state)
        else:
            state.last_error = error

    def _succeeded(self, state: EndpointState) -> None:
        state.calls["ok"] += 1
        state.consecutive_failures = 0
        state.opened_at = None
        state.last_ok_at = self._clock()
        state.probe_ok = True

    def _failed(self, state: EndpointState, error: str) -> None:
        state.calls["error"] += 1
        state.consecutive_failures += 1
        state.last_error = error
        half_open = state.opened_at is not None
        if half_open or state.consecutive_failures >= self._config.failure_threshold:
            state.opened_at = self._clock()

    def snapshot(self) -> dict[str, dict[str, object]]:
        now = self._clock()
        out: dict[str, dict[str, object]] = {}
        for name, state in self._states.items():
            out[name] = {
                "available": self.available(name),
                "breaker": self.breaker(name),
                "consecutive_failures": state.consecutive_failures,
                "inflight": state.inflight,
                "probe_ok": state.probe_ok,
                "seconds_since_ok": None if state.last_ok_at is None else round(now - state.last_ok_at, 3),
                "last_error": state.last_error,
            }
        return out
