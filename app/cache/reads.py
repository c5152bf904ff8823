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
        self._loading: dict[str, asyncio.Future[CacheEntry]] = {}
        self._refreshing: set[str] = set()
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
        now = time.time()
        entry = await self._get(key)
        if entry is not None and entry.fresh(now):
            return Cached(entry.body, entry.etag, f"{STATUS_PREFIX}; hit")
        if entry is not None and now < entry.stale_until:
            self._refresh_later(tenant_id, domain, key, load, tags)
            return Cached(
                entry.body, entry.etag, f"{STATUS_PREFIX}; hit; ttl={entry.age_left(now)}"
            )
        try:
            fresh = await self._load_once(tenant_id, domain, key, load, tags)
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

    async def _get(self, key: str) -> CacheEntry | None:
        try:
            return await self.store.get(key)
        except (RedisError, OSError) as error:
            log.warning("cache unreachable; reading through", extra={"error": str(error)})
            return None

    async def _load_once(
        self,
        tenant_id: str,
        domain: str,
        key: str,
        load: Callable[[], Awaitable[Any]],
        tags: Callable[[Any], Iterable[str]],
    ) -> CacheEntry:
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CacheEntry] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            entry = await self._load_across_replicas(tenant_id, domain, key, load, tags)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        else:
            future.set_result(entry)
            return entry
        finally:
            del self._loading[key]

    async def _load_across_replicas(
        self,
        tenant_id: str,
        domain: str,
        key: str,
        load: Callable[[], Awaitable[Any]],
        tags: Callable[[Any], Iterable[str]],
    ) -> CacheEntry:
        deadline = time.monotonic() + LOCK_SECONDS
        while True:
            try:
                holder = await self.store.lock(key, LOCK_SECONDS)
            except (RedisError, OSError):
                holder = True  # no shared lock to be had: load it ourselves
            if holder:
                try:
                    return await self._load_and_store(tenant_id, domain, key, load, tags)
                finally:
                    with contextlib.suppress(RedisError, OSError):
                        await self.store.unlock(key)
            # Another replica is loading this key: wait for its result.
            await asyncio.sleep(WAIT_STEP)
            entry = await self._get(key)
            if entry is not None and entry.fresh(time.time()):
                return entry
            if time.monotonic() > deadline:
                return await self._load_and_store(tenant_id, domain, key, load, tags)

    async def _load_and_store(
        self,
        tenant_id: str,
        domain: str,
        key: str,
        load: Callable[[], Awaitable[Any]],
        tags: Callable[[Any], Iterable[str]],
    ) -> CacheEntry:
        value = await load()
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
        try:
            await self.store.put(key, entry)
        except (RedisError, OSError) as error:
            log.warning("cache unreachable; not stored", extra={"error": str(error)})
        return entry

    def _refresh_later(
        self,
        tenant_id: str,
        domain: str,
        key: str,
        load: Callable[[], Awaitable[Any]],
        tags: Callable[[Any], Iterable[str]],
    ) -> None:
        if key in self._refreshing or key in self._loading:
            return
        self._refreshing.add(key)

        async def refresh() -> None:
            try:
                await self._load_once(tenant_id, domain, key, load, tags)
            except Exception as error:  # noqa: BLE001 - a failed refresh keeps the stale entry
                log.info(
                    "background refresh failed", extra={"key": key, "error": type(error).__name__}
                )
            finally:
                self._refreshing.discard(key)

        task = asyncio.create_task(refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
