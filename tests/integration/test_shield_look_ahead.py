"""The grant a shielded HTTP request asks for its operation's next request, on the shared
store: a request that follows finds it waiting (no round trip of its own), and one the
operation never uses is handed back, token and place in the concurrency cap, so the budget
counts exactly the requests sent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.shield.policy import ShieldPolicy, operation
from app.shield.redis_store import RedisShieldStore
from app.shield.service import Shield, ShieldRefused
from app.shield.store import MemoryShieldStore
from tests.support.services import need_redis

pytestmark = pytest.mark.redis
# A bucket that does not refill during a test: what it holds is what was taken.
POLICY = ShieldPolicy(rate=0.001, burst=10, concurrency=2, reserve=0)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(need_redis())
    try:
        yield client
    finally:
        await client.aclose()


def _shield(redis: Redis, policy: ShieldPolicy = POLICY) -> Shield:
    target = f"ahead-{uuid.uuid4().hex[:8]}"
    return Shield(target, "odoo", policy, RedisShieldStore(redis), MemoryShieldStore())


async def _tokens(shield: Shield) -> float:
    state = await shield.state()
    return float(state["tokens"])


async def test_an_operation_pays_for_the_requests_it_sent_and_no_more(redis: Redis) -> None:
    shield = _shield(redis, ShieldPolicy(rate=0.001, burst=10, concurrency=8, reserve=0))
    with operation():
        for _ in range(3):
            slot = await shield.acquire(look_ahead=True)
            await slot.release("ok")
        await shield.settle()
        # Three sent, a fourth asked for ahead and held: seven left, two places taken
        # (the last request's slot is back; the grant ahead holds one).
        assert round(await _tokens(shield)) == 6
    await shield.settle()
    state = await shield.state()
    assert round(float(state["tokens"])) == 7  # the unused grant's token came back
    assert state["in_flight"] == 0
    assert shield.counts["granted"] == 3


async def test_a_grant_handed_back_frees_its_place_in_the_concurrency_cap(redis: Redis) -> None:
    shield = _shield(redis)  # two at once
    with operation():
        held = await shield.acquire(look_ahead=True)  # its own place, and one ahead
        await shield.settle()
        assert (await shield.state())["in_flight"] == 2
        with operation(), pytest.raises(ShieldRefused, match="busy"):
            await shield.acquire()  # another operation finds the cap full
        await held.release("ok")
    await shield.settle()
    assert (await shield.state())["in_flight"] == 0
    with operation():
        again = await shield.acquire()  # the place is free again
        await again.release("ok")
    await shield.settle()


async def test_outside_an_operation_nothing_is_asked_ahead(redis: Redis) -> None:
    shield = _shield(redis)
    slot = await shield.acquire(look_ahead=True)
    await slot.release("ok")
    await shield.settle()
    state = await shield.state()
    assert round(float(state["tokens"])) == 9
    assert state["in_flight"] == 0


async def test_the_memory_store_hands_a_grant_back_once() -> None:
    store = MemoryShieldStore()
    grant = await store.acquire("t", POLICY, "continue", "m")
    assert grant.granted
    await store.refund("t", POLICY, "m", probe=False)
    await store.refund("t", POLICY, "m", probe=False)  # a second hand-back changes nothing
    state = await store.state("t")
    assert state["in_flight"] == 0
    assert round(float(state["tokens"])) == 10
