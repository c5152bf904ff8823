"""One suite for both cache stores (process memory and real Redis): what a claim answers,
that a fill loaded before an invalidation of one of its tags never lands after it (while an
unrelated invalidation does not stop it), that dropping `all` moves the tenant's generation,
and the failure marker a failed load leaves; then `CachedReads` on each store, with a load
that is held open while the invalidation happens."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.cache.entry import CacheEntry
from app.cache.reads import CachedReads
from app.cache.redis_store import RedisCacheStore
from app.cache.stores import CacheStore, Failure, MemoryCacheStore
from tests.support.services import need_redis


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CacheStore]:
    if request.param == "memory":
        yield MemoryCacheStore()
        return
    redis = Redis.from_url(need_redis())
    # A prefix of its own: nothing of another run (or test) is seen.
    yield RedisCacheStore(redis, prefix=f"rg:test:{uuid.uuid4().hex[:8]}:")
    await redis.aclose()


def _entry(tenant: str, *tags: str, body: bytes = b"{}") -> CacheEntry:
    now = time.time()
    return CacheEntry(
        body=body,
        etag='"x"',
        stored_at=now,
        fresh_until=now + 300,
        stale_until=now + 600,
        error_until=now + 900,
        tags=tuple(sorted({f"{tenant}:{tag}" for tag in (*tags, "all")})),
    )


def _tenant() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


async def test_a_claim_takes_the_lock_once_and_a_fill_makes_it_fresh(store: CacheStore) -> None:
    tenant = _tenant()
    key = f"{tenant}:catalog:one"
    first = await store.claim(tenant, key, 30)
    second = await store.claim(tenant, key, 30)
    assert (first.state, second.state) == ("lock", "busy")
    assert await store.fill(tenant, key, _entry(tenant, "sku:A"), first.seq)
    third = await store.claim(tenant, key, 30)
    assert third.state == "fresh" and third.entry is not None


async def test_a_fill_loaded_before_an_invalidation_of_its_tag_is_dropped(
    store: CacheStore,
) -> None:
    tenant = _tenant()
    barred, spared = f"{tenant}:inventory:barred", f"{tenant}:inventory:spared"
    claims = [await store.claim(tenant, key, 30) for key in (barred, spared)]
    assert all(claim.state == "lock" for claim in claims)
    # While both loads run, stock of SKU A changes.
    await store.invalidate(tenant, [f"{tenant}:sku:A"])
    assert not await store.fill(tenant, barred, _entry(tenant, "sku:A"), claims[0].seq)
    assert await store.fill(tenant, spared, _entry(tenant, "sku:B"), claims[1].seq)
    assert (await store.claim(tenant, spared, 30)).state == "fresh"
    again = await store.claim(tenant, barred, 30)  # not stored, and its lock released
    assert again.state == "lock" and again.entry is None
    # Claimed after the invalidation: lands.
    assert await store.fill(tenant, barred, _entry(tenant, "sku:A"), again.seq)
    assert (await store.claim(tenant, barred, 30)).state == "fresh"


async def test_dropping_all_moves_the_generation_and_bars_every_load_in_flight(
    store: CacheStore,
) -> None:
    tenant, other = _tenant(), _tenant()
    key, elsewhere = f"{tenant}:catalog:k", f"{other}:catalog:k"
    claim = await store.claim(tenant, key, 30)
    claim_elsewhere = await store.claim(other, elsewhere, 30)
    await store.invalidate(tenant, [f"{tenant}:all"])
    assert not await store.fill(tenant, key, _entry(tenant, "product:p"), claim.seq)
    # Another tenant's loads are not its business.
    assert await store.fill(other, elsewhere, _entry(other, "product:p"), claim_elsewhere.seq)
    after = await store.claim(tenant, key, 30)
    assert after.generation == claim.generation + 1
    assert (await store.claim(other, elsewhere, 30)).generation == claim_elsewhere.generation
    await store.invalidate(tenant, [f"{tenant}:sku:A"])  # not a rebinding: same generation
    assert (await store.claim(tenant, key, 30)).generation == after.generation


async def test_a_failed_load_leaves_its_failure_until_it_expires(store: CacheStore) -> None:
    tenant = _tenant()
    key = f"{tenant}:catalog:down"
    claim = await store.claim(tenant, key, 30)
    await store.fail(key, Failure("backend odoo is unavailable", 7), 0.3)
    failed = await store.claim(tenant, key, 30)
    assert failed.state == "failed"
    assert failed.failure == Failure("backend odoo is unavailable", 7)
    deadline = time.monotonic() + 30
    while (again := await store.claim(tenant, key, 30)).state == "failed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert again.state == "lock"  # the lock was released with the failure
    assert claim.state == "lock"


async def test_a_read_whose_tag_is_invalidated_while_it_loads_is_answered_not_stored(
    store: CacheStore,
) -> None:
    tenant = _tenant()
    reads = CachedReads(store)
    key = CachedReads.key(tenant, "inventory", "/v1/inventory", [("sku", "A")])
    loading, release = asyncio.Event(), asyncio.Event()

    async def slow_load() -> dict[str, int]:
        loading.set()
        await release.wait()
        return {"on_hand": 5}  # what the backend said before the change

    tags = lambda _: ["sku:A", "stock:A"]  # noqa: E731 - as inventory_page_tags tags a level of A
    read = asyncio.create_task(reads.read(tenant, "inventory", key, slow_load, tags))
    await asyncio.wait_for(loading.wait(), 30)
    await reads.skus_changed(tenant, ["A"])
    release.set()
    answered = await read
    assert answered.cache_status == "retail-gateway; fwd=miss"
    await reads.drain()

    async def fresh_load() -> dict[str, int]:
        return {"on_hand": 4}

    after = await reads.read(tenant, "inventory", key, fresh_load, tags)
    assert after.cache_status == "retail-gateway; fwd=miss"
    assert after.body == b'{"on_hand":4}'
