"""The grant a shielded HTTP request asks for its operation's next request, on the shared
store: a request that follows finds it waiting (no round trip of its own), and one the
operation never uses is handed back, token and place in the concurrency cap, so the budget
counts exactly the requests sent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.shield import service
from app.shield.policy import ShieldPolicy, current_operation, operation, priority
from app.shield.redis_store import RedisShieldStore
from app.shield.service import Shield, ShieldRefused, _Ahead
from app.shield.store import NOTHING, MemoryShieldStore, Returned
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


class _Counting(RedisShieldStore):
    """The Redis store, counting the round trips a shield makes to it."""

    def __init__(self, redis: Redis) -> None:
        super().__init__(redis)
        self.calls: list[str] = []

    async def acquire(self, target, policy, mode, member, returned=NOTHING):  # type: ignore[no-untyped-def]
        self.calls.append(f"acquire {mode} +{len(returned.done)}/{len(returned.unused)}")
        return await super().acquire(target, policy, mode, member, returned)

    async def give_back(self, target, policy, returned):  # type: ignore[no-untyped-def]
        self.calls.append(f"give_back {len(returned.done)}/{len(returned.unused)}")
        await super().give_back(target, policy, returned)

    async def release(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls.append("release")
        await super().release(*args, **kwargs)

    async def refund(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls.append("refund")
        await super().refund(*args, **kwargs)


async def _answered_ahead(shield: Shield) -> None:
    """Wait for the store's answer to the grant asked ahead of this operation's next request."""
    state = current_operation()
    assert state is not None
    ahead = state.ahead[shield.target]
    assert isinstance(ahead, _Ahead)
    await ahead.grant()


@pytest.fixture(autouse=True)
def _patient_payments(monkeypatch: pytest.MonkeyPatch) -> None:
    """What is owed goes back half a second after it is owed rather than 2 ms, so what each
    store call carries does not depend on how quickly a loaded machine answers."""
    monkeypatch.setattr(service, "RETURN_AFTER", 0.5)


def _counted(redis: Redis, policy: ShieldPolicy) -> tuple[Shield, _Counting]:
    store = _Counting(redis)
    target = f"ahead-{uuid.uuid4().hex[:8]}"
    return Shield(target, "odoo", policy, store, MemoryShieldStore()), store


async def test_a_success_goes_back_with_the_next_grant_asked_ahead(redis: Redis) -> None:
    shield, store = _counted(redis, ShieldPolicy(rate=0.001, burst=10, concurrency=8, reserve=0))
    with operation():
        for _ in range(3):
            slot = await shield.acquire(look_ahead=True)
            await slot.release("ok")
    await shield.settle()
    # The first request's grant, three asked ahead (the second and third carrying the slot
    # of the request before), and one hand-back: the last slot and the unused grant.
    assert store.calls == [
        "acquire browse +0/0",
        "acquire continue +0/0",
        "acquire continue +1/0",
        "acquire continue +1/0",
        "give_back 1/1",
    ]
    state = await shield.state()
    assert state["in_flight"] == 0
    assert round(float(state["tokens"])) == 7  # three sent, nothing else spent
    assert state["last_success_at"] is not None


async def test_an_unused_grant_serves_the_next_operation_then_goes_back(redis: Redis) -> None:
    shield, store = _counted(redis, ShieldPolicy(rate=0.001, burst=10, concurrency=8, reserve=0))
    with operation():
        first = await shield.acquire(look_ahead=True)
        await _answered_ahead(shield)  # as it is while the request is sent
        await first.release("ok")
    with operation():  # at once: the grant the first asked ahead serves it
        second = await shield.acquire()
        await second.release("ok")
    await shield.settle()
    assert store.calls == ["acquire browse +0/0", "acquire continue +0/0", "give_back 2/0"]
    state = await shield.state()
    assert (state["in_flight"], round(float(state["tokens"]))) == (0, 8)
    assert shield.counts["granted"] == 2


async def test_browsing_takes_no_grant_that_browsing_would_not_have_got(redis: Redis) -> None:
    # Browsing may not take the last nine tokens; continuing may.
    shield, store = _counted(redis, ShieldPolicy(rate=0.001, burst=10, concurrency=8, reserve=9))
    with operation():
        first = await shield.acquire(look_ahead=True)  # 10 -> 9, and one ahead: 8
        await _answered_ahead(shield)
        await first.release("ok")
    with operation(), pytest.raises(ShieldRefused, match="rate"):
        await shield.acquire()  # browsing: the spare is not for it, the store says no
    with priority("checkout"), operation():
        bought = await shield.acquire()  # checkout: the spare serves it
        await bought.release("ok")
    await shield.settle()
    assert [call.split()[1] for call in store.calls if call.startswith("acquire")] == [
        "browse",
        "continue",
        "browse",
    ]
    state = await shield.state()
    assert (state["in_flight"], round(float(state["tokens"]))) == (0, 8)


async def test_a_failure_sends_the_spares_back_first(redis: Redis) -> None:
    shield, _store = _counted(redis, ShieldPolicy(rate=0.001, burst=10, concurrency=8, reserve=0))
    with operation():
        first = await shield.acquire(look_ahead=True)
        await _answered_ahead(shield)
        await first.release("ok")
    with operation():
        other = await shield.acquire()  # the spare
        await other.release("fail", pause=5.0, error="HTTP 429")
    with operation(), pytest.raises(ShieldRefused, match="paused"):
        await shield.acquire()  # no spare slips past the pause the backend asked for
    await shield.settle()
    assert (await shield.state())["in_flight"] == 0


async def test_the_memory_store_takes_what_is_handed_back_with_a_grant() -> None:
    store = MemoryShieldStore()
    policy = ShieldPolicy(rate=0.001, burst=10, concurrency=2, reserve=0)
    assert (await store.acquire("t", policy, "browse", "a")).granted
    assert (await store.acquire("t", policy, "continue", "b")).granted
    assert not (await store.acquire("t", policy, "browse", "c")).granted  # two at once
    grant = await store.acquire("t", policy, "browse", "c", Returned(done=("a",), unused=("b",)))
    assert grant.granted and grant.browse
    state = await store.state("t")
    assert state["in_flight"] == 1
    assert round(float(state["tokens"])) == 8  # a and c sent; b's token came back
