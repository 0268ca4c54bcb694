"""Idempotency keys: one store interface (in memory or Redis) and the coordinator that runs a request once."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from gateway.errors import IdempotencyConflict

ClaimKind = Literal["acquired", "done", "pending", "absent"]
T = TypeVar("T")


def fingerprint(route: str, payload: object) -> str:
    """A stable digest of what a request asks for: the route and its canonical JSON body."""
    text = json.dumps([route, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    """A finished response as it will be replayed: status, body bytes and the headers worth keeping."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"status": self.status, "body": base64.b64encode(self.body).decode(), "headers": self.headers}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StoredResponse:
        return cls(int(record["status"]), base64.b64decode(record["body"]), dict(record["headers"]))


@dataclass(frozen=True)
class Claim:
    """What a store says about a key: this caller now owns it, it is done, another caller is running it, or gone."""

    kind: ClaimKind
    fingerprint: str | None = None
    response: StoredResponse | None = None


class IdempotencyStore(Protocol):
    """Where keys live; `token` identifies the caller that owns a pending key."""

    async def claim(self, key: str, fingerprint: str, token: str) -> Claim: ...

    async def complete(self, key: str, token: str, fingerprint: str, response: StoredResponse) -> None: ...

    async def abandon(self, key: str, token: str, fingerprint: str) -> None: ...

    async def wait(self, key: str, timeout_s: float) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class _Entry:
    fingerprint: str
    token: str
    expires_at: float
    response: StoredResponse | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class MemoryStore:
    """Keys of this process only: a bounded LRU whose entries expire (pending ones sooner)."""

    def __init__(
        self, max_entries: int, ttl_s: float, pending_ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max = max_entries
        self._ttl_s = ttl_s
        self._pending_ttl_s = pending_ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= self._clock():
            del self._entries[key]
            entry.finished.set()
            return None
        return entry

    async def claim(self, key: str, fingerprint: str, token: str) -> Claim:
        entry = self._live(key)
        if entry is None:
            self._entries[key] = _Entry(fingerprint, token, self._clock() + self._pending_ttl_s)
            self._evict()
            return Claim("acquired")
        self._entries.move_to_end(key)
        kind: ClaimKind = "pending" if entry.response is None else "done"
        return Claim(kind, entry.fingerprint, entry.response)

    def _evict(self) -> None:
        """The oldest finished entries go first; a pending one is never evicted (its request would run twice).

        Pending entries are bounded by the requests in flight, so the store exceeds `max_entries` only by those.
        """
        excess = len(self._entries) - self._max
        if excess <= 0:
            return
        finished = [k for k, e in self._entries.items() if e.response is not None][:excess]
        for key in finished:
            self._entries.pop(key).finished.set()

    async def complete(self, key: str, token: str, fingerprint: str, response: StoredResponse) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token == token:
            entry.response = response
            entry.expires_at = self._clock() + self._ttl_s
            entry.finished.set()

    async def abandon(self, key: str, token: str, fingerprint: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token == token:
            del self._entries[key]
            entry.finished.set()

    async def wait(self, key: str, timeout_s: float) -> None:
        entry = self._live(key)
        if entry is None or entry.response is not None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await entry.finished.wait()

    async def aclose(self) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class Ownership:
    """This caller runs the request for the key; `Idempotency.settle` stores its response or releases the key."""

    key: str
    token: str
    fingerprint: str


class Idempotency:
    """Runs the work for a key once; repeats get the stored response, concurrent ones wait for it."""

    def __init__(self, store: IdempotencyStore, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self.waiting = 0

    async def acquire(self, key: str, fingerprint: str, deadline_s: float) -> Ownership | StoredResponse:
        """Ownership of the key, or the stored response to replay; IdempotencyConflict for another body."""
        token = uuid.uuid4().hex
        give_up = self._clock() + deadline_s
        while True:
            claim = await self.store.claim(key, fingerprint, token)
            if claim.kind == "acquired":
                return Ownership(key, token, fingerprint)
            if claim.kind != "absent" and claim.fingerprint != fingerprint:
                raise IdempotencyConflict(
                    "This idempotency key was already used with a different request body; use a new key.",
                    param="idempotency_key",
                )
            if claim.kind == "done" and claim.response is not None:
                return claim.response
            remaining = give_up - self._clock()
            if remaining <= 0:
                error = IdempotencyConflict(
                    "A request with this idempotency key is still in progress; retry later.", param="idempotency_key"
                )
                error.should_retry = True
                raise error
            await self._wait(key, remaining)

    async def settle(self, owner: Ownership, response: StoredResponse | None) -> None:
        """Store a 2xx response for every repeat; anything else (None: it failed) releases the key to run again.

        A store that fails here changes nothing for this request: its answer (or its own error) goes out as it is,
        and the pending marker expires by itself (after the longest possible run), so a repeat runs again.
        """
        try:
            if response is not None and 200 <= response.status < 300:
                await self.store.complete(owner.key, owner.token, owner.fingerprint, response)
            else:
                await self.store.abandon(owner.key, owner.token, owner.fingerprint)
        except Exception as exc:
            digest = hashlib.sha256(owner.key.encode()).hexdigest()[:16]
            logging.getLogger("mpr.gateway").warning(
                "idempotency store failed to settle key %s (%s); the response is sent as it is", digest, exc
            )

    async def owned(self, owner: Ownership, work: Callable[[], Awaitable[T]]) -> T:
        """The owner's work; if it raises (or is cancelled) the key is released, shielded, so a repeat runs it."""
        try:
            return await work()
        except BaseException:
            await asyncio.shield(self.settle(owner, None))
            raise

    async def run(
        self, key: str, fingerprint: str, deadline_s: float, produce: Callable[[], Awaitable[StoredResponse]]
    ) -> tuple[StoredResponse, bool]:
        """The response and whether it is a replay; IdempotencyConflict when the key belongs to another body."""
        got = await self.acquire(key, fingerprint, deadline_s)
        if isinstance(got, StoredResponse):
            return got, True
        response = await self.owned(got, produce)
        await self.settle(got, response)
        return response, False

    async def _wait(self, key: str, remaining: float) -> None:
        self.waiting += 1
        try:
            await self.store.wait(key, remaining)
        finally:
            self.waiting -= 1

    async def aclose(self) -> None:
        await self.store.aclose()
