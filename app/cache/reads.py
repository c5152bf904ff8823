"""Cache-backed reads: the one place that decides hit, stale serve, refresh and miss.

- fresh entry: served as stored (`Cache-Status: retail-gateway; hit`);
- stale but within stale-while-revalidate: served (`hit; ttl=-N`) while one refresh runs in
  the background;
- missing or too old: loaded once (`fwd=miss`): concurrent misses of a key in this process
  wait for the same load, and across replicas a Redis lock lets one load while the others
  wait for its result;
- the backend failing: a stale entry within stale-if-error is served (`hit; ttl=-N`)
  rather than an error.

Keys are per tenant, domain and request (path and normalised query), so one tenant is never
served another's entry, nor one query another's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.exceptions import RedisError

from app.cache.entry import DEFAULT_FRESHNESS, CacheEntry, Freshness, etag_of
from app.cache.stores import CacheStore
from app.problems import BackendUnavailableError

log = logging.getLogger("gateway.cache")

STATUS_PREFIX = "retail-gateway"
LOCK_SECONDS = 10.0
WAIT_STEP = 0.02


@dataclass(frozen=True, slots=True)
class Cached:
    body: bytes
    etag: str
    cache_status: str


def tenant_tag(tenant_id: str, tag: str) -> str:
    return f"{tenant_id}:{tag}"


class CachedReads:
    def __init__(self, store: CacheStore, freshness: dict[str, Freshness] | None = None) -> None:
        self.store = store
        self._freshness = freshness or DEFAULT_FRESHNESS
        self._resolving: dict[str, asyncio.Future[Cached]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @staticmethod
    def key(tenant_id: str, domain: str, path: str, query: Iterable[tuple[str, str]]) -> str:
        normalised = "&".join(f"{k}={v}" for k, v in sorted(query))
        digest = hashlib.blake2b(f"{path}?{normalised}".encode(), digest_size=16).hexdigest()
        return f"{tenant_id}:{domain}:{digest}"

    async def read(
        self,
        tenant_id: str,
        domain: str,
        key: str,
        load: Callable[[], Awaitable[Any]],
        tags: Callable[[Any], Iterable[str]],
    ) -> Cached:
        near = self.store.peek(key)
        if near is not None and near.fresh(time.time()):
            return Cached(near.body, near.etag, f"{STATUS_PREFIX}; hit")
        pending = self._resolving.get(key)
        if pending is not None:  # this replica is already on it: share the answer
            return await asyncio.shield(pending)
        future: asyncio.Future[Cached] = asyncio.get_running_loop().create_future()
        self._resolving[key] = future
        try:
            cached = await self._resolve(tenant_id, domain, key, load, tags)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        else:
            future.set_result(cached)
            return cached
        finally:
            del self._resolving[key]

    async def _resolve(
        self,
        tenant_id: str,
        domain: str,
        key: str,
        load: Callable[[], Awaitable[Any]],
        tags: Callable[[Any], Iterable[str]],
    ) -> Cached:
        try:
            state, entry = await self.store.claim(key, LOCK_SECONDS)
        except (RedisError, OSError) as error:
            log.warning("cache unreachable; reading through", extra={"error": str(error)})
            fresh = await self._load(tenant_id, domain, key, load, tags, store=False)
            return Cached(fresh.body, fresh.etag, f"{STATUS_PREFIX}; fwd=miss")
        now = time.time()
        if state == "fresh" and entry is not None:
            return Cached(entry.body, entry.etag, f"{STATUS_PREFIX}; hit")
        stale = entry if entry is not None and now < entry.stale_until else None
        if stale is not None:
            if state == "lock":  # ours to refresh, in the background
                self._refresh_later(tenant_id, domain, key, load, tags)
            return Cached(
                stale.body, stale.etag, f"{STATUS_PREFIX}; hit; ttl={stale.age_left(now)}"
            )
        if state == "busy":
            waited = await self._wait_for_other(key)
            if waited is not None:
                return Cached(waited.body, waited.etag, f"{STATUS_PREFIX}; hit")
        try:
            fresh = await self._load(tenant_id, domain, key, load, tags, store=True)
        except BackendUnavailableError:
            if entry is not None and now < entry.error_until:
                return Cached(
                    entry.body, entry.etag, f"{STATUS_PREFIX}; hit; ttl={entry.age_left(now)}"
                )
            raise
        return Cached(fresh.body, fresh.etag, f"{STATUS_PREFIX}; fwd=miss")

    async def invalidate(self, tenant_id: str, tags: Iterable[str]) -> int:
        try:
            return await self.store.invalidate([tenant_tag(tenant_id, tag) for tag in tags])
        except (RedisError, OSError) as error:
            log.warning("cache invalidation failed", extra={"error": str(error)})
            return 0

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _wait_for_other(self, key: str) -> CacheEntry | None:
        """Another replica holds the key's lock and is loading it: wait for its entry."""
        deadline = time.monotonic() + LOCK_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(WAIT_STEP)
            try:
                entry = await self.store.get(key)
            except (RedisError, OSError):
                return None
            if entry is not None and entry.fresh(time.time()):
                return entry
        return None

    async def _load(
        self,
        tenant_id: str,
        domain: str,
        key: str,
        load: Callable[[], Awaitable[Any]],
        tags: Callable[[Any], Iterable[str]],
        *,
        store: bool,
    ) -> CacheEntry:
        """Load from the backend and store the entry (releasing the key's lock either way)."""
        try:
            value = await load()
        except BaseException:
            if store:
                with contextlib.suppress(RedisError, OSError):
                    await self.store.release(key)
            raise
        body = msgspec.json.encode(value)
        now = time.time()
        policy = self._freshness[domain]
        entry = CacheEntry(
            body=body,
            etag=etag_of(body),
            stored_at=now,
            fresh_until=now + policy.fresh,
            stale_until=now + policy.fresh + policy.stale_while_revalidate,
            error_until=now
            + policy.fresh
            + max(policy.stale_while_revalidate, policy.stale_if_error),
            tags=tuple(sorted({tenant_tag(tenant_id, tag) for tag in (*tags(value), "all")})),
        )
        if store:
            # Stored while the answer goes out: the caller does not wait for the write.
            self._spawn(self._fill(key, entry))
        return entry

    async def _fill(self, key: str, entry: CacheEntry) -> None:
        try:
            await self.store.fill(key, entry)
        except (RedisError, OSError) as error:
            log.warning("cache unreachable; not stored", extra={"error": str(error)})

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refresh_later(
        self,
        tenant_id: str,
        domain: str,
        key: str,
        load: Callable[[], Awaitable[Any]],
        tags: Callable[[Any], Iterable[str]],
    ) -> None:
        """Refresh a stale entry whose lock this replica holds."""

        async def refresh() -> None:
            try:
                await self._load(tenant_id, domain, key, load, tags, store=True)
            except Exception as error:  # noqa: BLE001 - a failed refresh keeps the stale entry
                log.info(
                    "background refresh failed", extra={"key": key, "error": type(error).__name__}
                )

        self._spawn(refresh())
