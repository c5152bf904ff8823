"""Cache-backed reads: the one place that decides hit, stale serve, refresh and miss.

- fresh entry: served as stored (`Cache-Status: retail-gateway; hit`);
- stale but within stale-while-revalidate: served (`hit; ttl=-N`) while one refresh runs in
  the background;
- missing or too old: loaded once (`fwd=miss`). Concurrent misses of a key in this process
  wait for the same load; across replicas the key's lock in the store lets one load while
  the others claim again every few milliseconds until its entry is there. If the load fails
  because the backend is down, it leaves a failure marker for a moment: waiters and newcomers
  answer from it at once (a stale entry within stale-if-error, else the 503 with
  Retry-After) instead of calling the backend again; if it fails otherwise, the lock is
  simply released and the next claim takes it over;
- a load whose tags were invalidated while it ran (or whose tenant was cut over to another
  backend) is answered but not stored: its answer may be what the invalidation removed;
- the backend failing with no marker standing: a stale entry within stale-if-error is served
  (`hit; ttl=-N`) rather than an error.

Keys are per tenant, domain and request (path and normalised query), so one tenant is never
served another's entry, nor one query another's answer. When the store is unreachable reads
go straight to the backend and nothing is stored.
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

from app.admission import NotAdmitted, carried
from app.cache.entry import DEFAULT_FRESHNESS, CacheEntry, Freshness, etag_of
from app.cache.redis_store import CacheUnreachable
from app.cache.stores import MARK_SECONDS, CacheStore, Claimed, Failure
from app.cache.tags import ANY_SKU
from app.problems import BackendUnavailableError

log = logging.getLogger("gateway.cache")

STATUS_PREFIX = "retail-gateway"
LOCK_SECONDS = 10.0
FAILURE_SECONDS = 1.0
WAIT_STEP = 0.02


@dataclass(frozen=True, slots=True)
class Cached:
    body: bytes
    etag: str
    cache_status: str


@dataclass(frozen=True, slots=True)
class _Read:
    """One read being resolved: whose, which key, how to load it and what it depends on."""

    tenant_id: str
    domain: str
    key: str
    load: Callable[[], Awaitable[Any]]
    tags: Callable[[Any], Iterable[str]]


def tenant_tag(tenant_id: str, tag: str) -> str:
    return f"{tenant_id}:{tag}"


def _hit(entry: CacheEntry, now: float | None = None) -> Cached:
    if now is None:
        return Cached(entry.body, entry.etag, f"{STATUS_PREFIX}; hit")
    return Cached(entry.body, entry.etag, f"{STATUS_PREFIX}; hit; ttl={entry.age_left(now)}")


def _miss(entry: CacheEntry) -> Cached:
    return Cached(entry.body, entry.etag, f"{STATUS_PREFIX}; fwd=miss")


class CachedReads:
    """`on_generation(tenant_id)` is called when a claim shows the tenant's generation moved
    (its backend bindings changed), before this replica loads anything of that tenant: the
    composition root passes the backend resolver's `invalidate`."""

    def __init__(
        self,
        store: CacheStore,
        freshness: dict[str, Freshness] | None = None,
        *,
        lock_seconds: float = LOCK_SECONDS,
        failure_seconds: float = FAILURE_SECONDS,
        on_generation: Callable[[str], object] | None = None,
    ) -> None:
        self.store = store
        self.lock_seconds = lock_seconds
        self.failure_seconds = failure_seconds
        self._freshness = freshness or DEFAULT_FRESHNESS
        self._on_generation = on_generation
        self._generations: dict[str, int] = {}
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
            return _hit(near)
        while (pending := self._resolving.get(key)) is not None:
            try:  # this replica is already on it: share the answer
                return await asyncio.shield(pending)
            except NotAdmitted:
                continue  # the request that was on it was refused by its own quota
        future: asyncio.Future[Cached] = asyncio.get_running_loop().create_future()
        self._resolving[key] = future
        try:
            cached = await self._resolve(_Read(tenant_id, domain, key, load, tags))
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        else:
            future.set_result(cached)
            return cached
        finally:
            del self._resolving[key]

    async def _resolve(self, read: _Read) -> Cached:
        # A lock outlives a dead holder by at most `lock_seconds`; past twice that, loads
        # keep being barred (invalidated as they fill): answer without the cache.
        give_up = time.monotonic() + 2 * self.lock_seconds
        while True:
            try:
                claimed = await self.store.claim(read.tenant_id, read.key, self.lock_seconds)
            except (RedisError, OSError) as error:
                if not isinstance(error, CacheUnreachable):
                    log.warning("cache unreachable; reading through", extra={"error": str(error)})
                return _miss(await self._load(read, None))
            self._notice(read.tenant_id, claimed.generation)
            now = time.time()
            entry = claimed.entry
            if claimed.state == "fresh" and entry is not None:
                return _hit(entry)
            if claimed.state == "failed":
                if entry is not None and now < entry.error_until:
                    return _hit(entry, now)
                failure = claimed.failure or Failure("the backend is unavailable", 1)
                raise BackendUnavailableError(failure.detail, retry_after=failure.retry_after)
            if entry is not None and now < entry.stale_until:
                if claimed.state == "lock":  # ours to refresh, in the background
                    self._refresh_later(read, claimed.seq)
                return _hit(entry, now)
            if claimed.state == "lock":
                return await self._lead(read, claimed)
            if time.monotonic() > give_up:
                return _miss(await self._load(read, None))
            await asyncio.sleep(WAIT_STEP)  # another replica is loading it: claim again

    async def _lead(self, read: _Read, claimed: Claimed) -> Cached:
        try:
            fresh = await self._load(read, claimed.seq)
        except BackendUnavailableError:
            now = time.time()
            if claimed.entry is not None and now < claimed.entry.error_until:
                return _hit(claimed.entry, now)
            raise
        return _miss(fresh)

    def _notice(self, tenant_id: str, generation: int) -> None:
        """A generation this replica has not seen (or a tenant it has not seen yet): its
        bindings may be older than the change that moved it."""
        if self._generations.get(tenant_id) != generation:
            self._generations[tenant_id] = generation
            if self._on_generation is not None:
                self._on_generation(tenant_id)

    async def invalidate(self, tenant_id: str, tags: Iterable[str]) -> int:
        try:
            return await self.store.invalidate(
                tenant_id, [tenant_tag(tenant_id, tag) for tag in tags]
            )
        except (RedisError, OSError) as error:
            log.warning(
                "cache unreachable; invalidation dropped here and kept for later",
                extra={"error": str(error)},
            )
            return 0

    async def skus_changed(self, tenant_id: str, skus: Iterable[str]) -> int:
        """The backend's stock of these SKUs moved (an order of them was delivered, its feed
        reported a change): drop every stock level that showed one of them (inventory pages
        asking for them) and the inventory pages that list by location or not at all, where
        any SKU may appear. Products stay: a stock move leaves what a SKU is unchanged, and
        intake checks SKUs against the cached catalog. Returns how many entries were dropped."""
        wanted = sorted(set(skus))
        if not wanted:
            return 0
        return await self.invalidate(tenant_id, [*(f"stock:{sku}" for sku in wanted), ANY_SKU])

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _load(self, read: _Read, seq: int | None) -> CacheEntry:
        """Load from the backend; with `seq` (the key's lock is ours) store the entry, or
        leave a failure marker, or release the lock."""
        started = time.monotonic()
        try:
            value = await read.load()
        except BackendUnavailableError as error:
            if seq is not None:
                retry_after = int(error.headers.get("Retry-After", "1"))
                await self._quietly(
                    self.store.fail(
                        read.key, Failure(error.detail, retry_after), self.failure_seconds
                    )
                )
            raise
        except BaseException:
            if seq is not None:
                await self._quietly(self.store.release(read.key))
            raise
        body = msgspec.json.encode(value)
        now = time.time()
        policy = self._freshness[read.domain]
        entry = CacheEntry(
            body=body,
            etag=etag_of(body),
            stored_at=now,
            fresh_until=now + policy.fresh,
            stale_until=now + policy.fresh + policy.stale_while_revalidate,
            error_until=now
            + policy.fresh
            + max(policy.stale_while_revalidate, policy.stale_if_error),
            tags=tuple(
                sorted({tenant_tag(read.tenant_id, tag) for tag in (*read.tags(value), "all")})
            ),
        )
        if seq is not None:
            if time.monotonic() - started < MARK_SECONDS / 2:
                # Stored while the answer goes out: the caller does not wait for the write.
                self._spawn(self._fill(read.tenant_id, read.key, entry, seq))
            else:  # so slow that invalidations since may be forgotten: not stored
                await self._quietly(self.store.release(read.key))
        return entry

    async def _fill(self, tenant_id: str, key: str, entry: CacheEntry, seq: int) -> None:
        try:
            stored = await self.store.fill(tenant_id, key, entry, seq)
        except (RedisError, OSError) as error:
            log.warning("cache unreachable; not stored", extra={"error": str(error)})
            return
        if not stored:
            log.debug("invalidated while loading; not stored", extra={"key": key})

    @staticmethod
    async def _quietly(work: Awaitable[None]) -> None:
        with contextlib.suppress(RedisError, OSError):
            await work

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refresh_later(self, read: _Read, seq: int) -> None:
        """Refresh a stale entry whose lock this replica holds (once the read that found it
        stale is admitted by its quota; if it is not, the lock goes back)."""
        admit = carried()

        async def refresh() -> None:
            try:
                await admit()
            except NotAdmitted:
                await self._quietly(self.store.release(read.key))
                return
            try:
                await self._load(read, seq)
            except Exception as error:  # noqa: BLE001 - a failed refresh keeps the stale entry
                log.info(
                    "background refresh failed",
                    extra={"key": read.key, "error": type(error).__name__},
                )

        self._spawn(refresh())
