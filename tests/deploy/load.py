"""Steady, bounded client load on the gateway during a fault or an update: every response and error counted."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

import httpx

PROMPTS = ("what is the captial of frane?", "who wrote the orgin of species", "explain how photosynthsis works")


@dataclass
class LoadResult:
    """What the clients saw: HTTP 200s, errors (non-200 or transport), and which worker served each stage."""

    ok: int = 0
    errors: list[str] = field(default_factory=list)
    served_by: Counter[str] = field(default_factory=Counter)
    # (sent, answered) in time.monotonic() for each successful response.
    spans: list[tuple[float, float]] = field(default_factory=list)


class SteadyLoad:
    """`clients` threads sending /refine until stopped (at most `max_requests` in all), `pause_s` apart each."""

    def __init__(
        self, url: str, clients: int = 2, max_requests: int = 5000, timeout_s: float = 60.0, pause_s: float = 0.0
    ) -> None:
        self._url = url
        self._pause_s = pause_s
        self._timeout = timeout_s
        self._budget = max_requests
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.result = LoadResult()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]

    def _take(self) -> bool:
        with self._lock:
            if self._budget <= 0:
                return False
            self._budget -= 1
            return True

    def _client(self, index: int) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            n = 0
            while not self._stop.wait(self._pause_s if n else 0.0) and self._take():
                prompt = PROMPTS[(index + n) % len(PROMPTS)]
                n += 1
                sent = time.monotonic()
                try:
                    response = client.post(self._url, json={"prompt": prompt})
                except httpx.HTTPError as exc:
                    self._record(f"{type(exc).__name__}: {exc}", {}, sent)
                    continue
                if response.status_code != 200:
                    self._record(f"HTTP {response.status_code}: {response.text[:200]}", {}, sent)
                else:
                    self._record(None, response.json().get("stages") or {}, sent)

    def _record(self, error: str | None, stages: dict[str, dict[str, object]], sent: float) -> None:
        with self._lock:
            if error is not None:
                self.result.errors.append(error)
                return
            self.result.ok += 1
            self.result.spans.append((sent, time.monotonic()))
            for stage, report in stages.items():
                self.result.served_by[f"{stage}:{report.get('status')}:{report.get('worker')}"] += 1

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)
