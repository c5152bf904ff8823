"""The shield's rules, on the in-process store the embedded tier uses (the Redis script applies
the same rules; the integration tests run it)."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest

from app.shield.policy import ShieldPolicy, priority
from app.shield.service import Shield, ShieldRefused
from app.shield.store import MemoryShieldStore
from contracts.errors import BackendOverloaded, BackendUnavailable, BusinessRejection

POLICY = ShieldPolicy(
    rate=10,
    burst=4,
    concurrency=2,
    timeout=1,
    failures=3,
    cooldown=0.3,
    reserve=2,
    browse_wait=0,
    checkout_wait=0,
)


async def _grant(store: MemoryShieldStore, checkout: bool, policy: ShieldPolicy = POLICY) -> str:
    # Every call its own id (an id() of a temporary object is soon reused).
    grant = await store.acquire("t", policy, "checkout" if checkout else "browse", uuid.uuid4().hex)
    return "ok" if grant.granted else grant.reason


async def test_browsing_cannot_take_the_tokens_kept_for_checkout() -> None:
    store = MemoryShieldStore()
    policy = msgspec.structs.replace(POLICY, concurrency=10)  # the grants stay in flight
    assert [await _grant(store, False, policy) for _ in range(3)] == ["ok", "ok", "rate"]
    # Two tokens are left: checkout may take them, browsing may not.
    assert [await _grant(store, True, policy) for _ in range(3)] == ["ok", "ok", "rate"]


async def test_while_checkout_waits_browsing_yields_entirely() -> None:
    store = MemoryShieldStore()
    policy = ShieldPolicy(rate=1000, burst=1, concurrency=10, reserve=0)
    assert await _grant(store, checkout=True, policy=policy) == "ok"
    assert await _grant(store, checkout=True, policy=policy) == "rate"  # checkout now waiting
    await asyncio.sleep(0.01)  # tokens came back...
    assert await _grant(store, checkout=False, policy=policy) == "yield"  # ...but not for browsing
    assert await _grant(store, checkout=True, policy=policy) == "ok"
    # An operation already under way finishes: its next request is not made to yield.
    assert (await store.acquire("t", policy, "continue", "next")).reason in {"ok", "rate"}


async def test_the_concurrency_cap_counts_calls_in_flight() -> None:
    store = MemoryShieldStore()
    policy = ShieldPolicy(rate=1000, burst=100, concurrency=2, reserve=0)
    first = await store.acquire("t", policy, "checkout", "a")
    second = await store.acquire("t", policy, "checkout", "b")
    third = await store.acquire("t", policy, "checkout", "c")
    assert (first.granted, second.granted, third.granted, third.reason) == (
        True,
        True,
        False,
        "busy",
    )
    await store.release("t", policy, "a", outcome="ok", probe=False, pause=0)
    assert (await store.acquire("t", policy, "checkout", "c")).granted


async def test_the_breaker_opens_probes_once_and_closes() -> None:
    store = MemoryShieldStore()
    policy = ShieldPolicy(rate=1000, burst=100, concurrency=10, failures=3, cooldown=0.2, reserve=0)
    for name in "abc":
        await store.acquire("t", policy, "checkout", name)
        await store.release("t", policy, name, outcome="fail", probe=False, pause=0)
    assert (await store.state("t"))["breaker"] == "open"
    assert (await store.acquire("t", policy, "checkout", "d")).reason == "open"
    await asyncio.sleep(0.25)
    probe = await store.acquire("t", policy, "checkout", "probe")
    assert probe.granted and probe.probe
    assert (
        await store.acquire("t", policy, "checkout", "e")
    ).reason == "open"  # one probe at a time
    await store.release("t", policy, "probe", outcome="ok", probe=True, pause=0)
    assert (await store.state("t"))["breaker"] == "closed"
    assert (await store.acquire("t", policy, "checkout", "f")).granted


async def test_a_failed_probe_reopens_the_breaker() -> None:
    store = MemoryShieldStore()
    policy = ShieldPolicy(rate=1000, burst=100, concurrency=10, failures=1, cooldown=0.1, reserve=0)
    await store.acquire("t", policy, "checkout", "a")
    await store.release("t", policy, "a", outcome="fail", probe=False, pause=0)
    await asyncio.sleep(0.12)
    await store.acquire("t", policy, "checkout", "p")
    await store.release("t", policy, "p", outcome="fail", probe=True, pause=0)
    assert (await store.acquire("t", policy, "checkout", "b")).reason == "open"


async def test_a_backend_retry_after_pauses_everyone() -> None:
    store = MemoryShieldStore()
    shield = Shield(
        "t",
        "odoo",
        ShieldPolicy(rate=1000, burst=100, reserve=0, checkout_wait=0),
        store,
        MemoryShieldStore(),
    )

    async def overloaded() -> None:
        raise BackendOverloaded("slow down", retry_after=5)

    with pytest.raises(BackendOverloaded):
        await shield.run(overloaded)
    state = await shield.state()
    assert 4 < state["paused_for"] <= 5
    with priority("checkout"), pytest.raises(ShieldRefused) as refused:
        await shield.run(overloaded)
    assert refused.value.retry_after and refused.value.retry_after >= 4


async def test_outcomes_teach_the_breaker_what_failure_is() -> None:
    store = MemoryShieldStore()
    shield = Shield(
        "t",
        "odoo",
        ShieldPolicy(rate=1000, burst=100, failures=2, reserve=0, timeout=0.05),
        store,
        MemoryShieldStore(),
    )

    async def refuses() -> None:
        raise BusinessRejection("no")

    async def hangs() -> None:
        await asyncio.sleep(1)

    for _ in range(3):  # the backend answered: it is up, whatever it said
        with pytest.raises(BusinessRejection):
            await shield.run(refuses)
    assert (await shield.state())["breaker"] == "closed"
    for _ in range(2):  # time-outs are failures
        with pytest.raises(BackendUnavailable):
            await shield.run(hangs)
    assert (await shield.state())["breaker"] == "open"
