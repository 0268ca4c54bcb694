"""The Redis idempotency store: keys shared by every gateway replica and kept across restarts."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.errors import ServiceUnavailable
from gateway.http.idempotency import Claim, StoredResponse

# Replace or delete the record only while it is still this caller's pending marker.
_REPLACE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _unavailable(exc: RedisError) -> ServiceUnavailable:
    return ServiceUnavailable(f"The idempotency store is unavailable ({type(exc).__name__}); retry shortly.")


class RedisStore:
    """SET NX claims a key with a pending marker (expiring, in case its replica dies); waiters poll for the result."""

    def __init__(self, url: str, prefix: str, ttl_s: float, pending_ttl_s: float, poll_s: float = 0.02) -> None:
        # from_url does not connect: the first command does.
        self._redis: Redis = Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=2.0)
        self._prefix = prefix
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._pending_ms = max(1, int(pending_ttl_s * 1000))
        self._poll_s = poll_s

    def redis_key(self, key: str) -> str:
        """The Redis key for an idempotency key (hashed: the client's key itself is never stored)."""
        return self._prefix + hashlib.sha256(key.encode("utf-8")).hexdigest()

    @staticmethod
    def _pending(fingerprint: str, token: str) -> str:
        return json.dumps({"state": "pending", "fp": fingerprint, "token": token}, separators=(",", ":"))

    async def _get(self, redis_key: str) -> dict[str, Any] | None:
        raw = await self._redis.get(redis_key)
        if raw is None:
            return None
        record: dict[str, Any] = json.loads(raw)
        return record

    async def claim(self, key: str, fingerprint: str, token: str) -> Claim:
        try:
            marker, stored_at = self._pending(fingerprint, token), self.redis_key(key)
            if await self._redis.set(stored_at, marker, nx=True, px=self._pending_ms):
                return Claim("acquired")
            record = await self._get(stored_at)
        except RedisError as exc:
            raise _unavailable(exc) from exc
        if record is None:
            return Claim("absent")
        if record["state"] == "pending":
            return Claim("pending", record["fp"])
        return Claim("done", record["fp"], StoredResponse.from_record(record["response"]))

    async def complete(self, key: str, token: str, fingerprint: str, response: StoredResponse) -> None:
        done = json.dumps({"state": "done", "fp": fingerprint, "response": response.to_record()})
        try:
            await self._redis.eval(
                _REPLACE_IF, 1, self.redis_key(key), self._pending(fingerprint, token), done, self._ttl_ms
            )
        except RedisError as exc:
            raise _unavailable(exc) from exc

    async def abandon(self, key: str, token: str, fingerprint: str) -> None:
        # Deletes only this caller's own pending marker: a finished record or another caller's marker never matches.
        await self._redis.eval(_DELETE_IF, 1, self.redis_key(key), self._pending(fingerprint, token))

    async def wait(self, key: str, timeout_s: float) -> None:
        """Poll until the key is no longer pending (another replica may own it: there is no local event)."""
        give_up = time.monotonic() + timeout_s
        while time.monotonic() < give_up:
            try:
                record = await self._get(self.redis_key(key))
            except RedisError as exc:
                raise _unavailable(exc) from exc
            if record is None or record["state"] != "pending":
                return
            await asyncio.sleep(min(self._poll_s, max(0.0, give_up - time.monotonic())))

    async def ttl_ms(self, key: str) -> int:
        """Milliseconds until the key expires (-2: absent), for operators and tests."""
        value: int = await self._redis.pttl(self.redis_key(key))
        return value

    async def aclose(self) -> None:
        await self._redis.aclose()
