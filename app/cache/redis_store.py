"""Production's cache store: entries in Redis, shared by every replica, with a near-cache of
fresh entries in process memory in front, kept honest by invalidation messages on a Redis
channel (and never kept past an entry's freshness, should a message be missed).

Each step is one script, so one round trip: `claim` reads the entry and, unless it is fresh
or a recent failure stands, takes the key's single-flight lock, and reports the tenant's
sequence and generation; `fill` stores the entry, its freshness marker and its tags unless a
tag was invalidated since the claim, and releases the lock; `invalidate` takes the tenant's
next sequence number, marks the tags and drops their entries. (Scripts touch keys they are
not given, so this assumes one Redis, not a cluster.)

When Redis fails (refused, or silent past the client's socket timeout) the store says so by
raising, and for `retry_after_failure` seconds raises at once without trying, so a hung Redis
costs one timeout per pause rather than one per request. Invalidations made meanwhile drop
this replica's near-cache entries at once and are replayed to Redis when it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from app.cache.entry import CacheEntry, pack, unpack
from app.cache.scripts import CLAIM, FAIL, FILL, INVALIDATE
from app.cache.stores import (
    MARK_SECONDS,
    Claim,
    Claimed,
    Entries,
    Failure,
    pack_failure,
    unpack_failure,
)

log = logging.getLogger("gateway.cache")
CHANNEL = "rg:cache:invalidate"
PING_EVERY = 5.0  # an idle subscription is checked this often...
PING_ANSWER = 3.0  # ...and given up when its PING goes unanswered this long
T = TypeVar("T")

_CLAIMS: dict[str, Claim] = {"fresh": "fresh", "lock": "lock", "busy": "busy", "failed": "failed"}


class CacheUnreachable(RedisConnectionError):
    """Redis failed moments ago; not tried again until the pause is over."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCacheStore:
    def __init__(
        self,
        redis: Redis,
        prefix: str = "rg:c:",
        near_entries: int = 20_000,
        retry_after_failure: float = 5.0,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.near = Entries(near_entries)
        self._claim = redis.register_script(CLAIM)
        self._fill = redis.register_script(FILL)
        self._fail = redis.register_script(FAIL)
        self._invalidate = redis.register_script(INVALIDATE)
        self._listener: asyncio.Task[None] | None = None
        self._retry_after_failure = retry_after_failure
        self._down_until = 0.0
        # Counts invalidation messages heard: an entry read before one arrived is not put in
        # the near-cache after it (it may be what the message dropped).
        self._heard = 0
        self._missed: dict[str, set[str]] = {}
        self.subscribed = asyncio.Event()

    @property
    def degraded(self) -> bool:
        return time.monotonic() < self._down_until

    async def start(self) -> None:
        """Listen for invalidations from every replica."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="cache-invalidations")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    def _keys(self, key: str, tenant_id: str) -> list[str]:
        p = self._prefix
        return [
            p + key,
            f"{p}fresh:{key}",
            f"{p}lock:{key}",
            f"{p}fail:{key}",
            p + "t:" + tenant_id,
        ]

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        if self.degraded:
            raise CacheUnreachable("Redis failed moments ago")
        try:
            return await call()
        except (RedisError, OSError):
            self._down_until = time.monotonic() + self._retry_after_failure
            raise

    def peek(self, key: str) -> CacheEntry | None:
        return self.near.peek(key)

    async def get(self, key: str) -> CacheEntry | None:
        heard = self._heard
        raw = await self._call(lambda: self._redis.get(self._prefix + key))
        return self._remember(key, raw, heard)

    async def claim(self, tenant_id: str, key: str, lock_seconds: float) -> Claimed:
        heard = self._heard
        answer = await self._call(
            lambda: self._claim(keys=self._keys(key, tenant_id), args=[int(lock_seconds * 1000)])
        )
        state, raw, seq, generation, failed = answer
        claim = _CLAIMS.get(_text(state), "busy")
        return Claimed(
            claim,
            self._remember(key, raw, heard),
            int(seq),
            int(generation),
            unpack_failure(failed) if claim == "failed" else None,
        )

    def _remember(self, key: str, raw: bytes | str | None, heard: int) -> CacheEntry | None:
        if not raw:
            return None
        entry = unpack(raw if isinstance(raw, bytes) else raw.encode())
        if entry is not None and entry.fresh(time.time()) and heard == self._heard:
            self.near.put(key, entry)
        return entry

    async def fill(self, tenant_id: str, key: str, entry: CacheEntry, seq: int) -> bool:
        heard = self._heard
        now = time.time()
        keep_ms = max(1000, int((entry.error_until - now) * 1000))
        fresh_ms = max(0, int((entry.fresh_until - now) * 1000))
        stored = await self._call(
            lambda: self._fill(
                keys=self._keys(key, tenant_id),
                args=[
                    pack(entry),
                    keep_ms,
                    fresh_ms,
                    self._prefix + "tag:",
                    key,
                    seq,
                    self._prefix + "mark:",
                    *entry.tags,
                ],
            )
        )
        if int(stored) != 1:
            return False
        if entry.fresh(time.time()) and heard == self._heard:
            self.near.put(key, entry)
        return True

    async def fail(self, key: str, failure: Failure, seconds: float) -> None:
        keys = self._keys(key, "")
        await self._call(
            lambda: self._fail(
                keys=[keys[2], keys[3]], args=[pack_failure(failure), max(1, int(seconds * 1000))]
            )
        )

    async def release(self, key: str) -> None:
        await self._call(lambda: self._redis.delete(self._keys(key, "")[2]))

    async def invalidate(self, tenant_id: str, tags: list[str]) -> int:
        self.near.drop_tags(tags)
        try:
            await self._replay()
            return await self._invalidate_now(tenant_id, tags)
        except (RedisError, OSError):
            self._remember_missed(tenant_id, tags)
            raise

    async def _invalidate_now(self, tenant_id: str, tags: list[str]) -> int:
        doomed = await self._call(
            lambda: self._invalidate(
                keys=[self._prefix + "t:" + tenant_id],
                args=[
                    self._prefix + "tag:",
                    self._prefix + "mark:",
                    int(MARK_SECONDS * 1000),
                    self._prefix,
                    "1" if f"{tenant_id}:all" in tags else "0",
                    *tags,
                ],
            )
        )
        keys = sorted(_text(key) for key in doomed)
        self.near.evict(keys)
        if keys:
            await self._call(lambda: self._redis.publish(CHANNEL, "\n".join(keys)))
        return len(keys)

    def _remember_missed(self, tenant_id: str, tags: list[str]) -> None:
        missed = self._missed.setdefault(tenant_id, set())
        missed.update(tags)
        if len(missed) > 1_000:  # too many to replay one by one: drop the tenant's all
            self._missed[tenant_id] = {f"{tenant_id}:all"}

    async def _replay(self) -> None:
        """Invalidations made while Redis was unreachable, applied now that it answers."""
        while self._missed:
            tenant_id, tags = next(iter(self._missed.items()))
            await self._invalidate_now(tenant_id, sorted(tags))
            self._missed.pop(tenant_id, None)
            log.info("cache invalidations replayed", extra={"tenant": tenant_id})

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    await self._hear(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self.subscribed.clear()
                log.warning(
                    "cache invalidation channel lost; retrying", extra={"error": str(error)}
                )
                await asyncio.sleep(1.0)

    async def _hear(self, pubsub: Any) -> None:
        """Evict what other replicas invalidate. A subscription Redis does not confirm, or
        one that stops answering PINGs (a Redis that hangs keeps the socket open), is given
        up, to be opened again."""
        opened_at = heard_at = time.monotonic()
        pinged_at = 0.0
        confirmed = False
        while True:
            message = await pubsub.get_message(timeout=1.0)
            now = time.monotonic()
            if message is not None:
                heard_at, pinged_at = now, 0.0
                kind = _text(message.get("type", ""))
                if kind == "subscribe":
                    confirmed = True
                    await self._subscribed()
                elif kind == "message":
                    self._heard += 1
                    self.near.evict(_text(message["data"]).split("\n"))
                continue
            if not confirmed and now - opened_at > PING_ANSWER:
                raise RedisConnectionError("the invalidation channel was not confirmed")
            if not pinged_at and now - heard_at > PING_EVERY:
                await pubsub.ping()
                pinged_at = now
            elif pinged_at and now - pinged_at > PING_ANSWER:
                raise RedisConnectionError("the invalidation channel stopped answering")

    async def _subscribed(self) -> None:
        """Redis answers again. Invalidations may have been missed while away: start
        afresh, and send those this replica could not."""
        self._down_until = 0.0
        self._heard += 1
        self.near.clear()
        self.subscribed.set()
        with contextlib.suppress(RedisError, OSError):
            await self._replay()
