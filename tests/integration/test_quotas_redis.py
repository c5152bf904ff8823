"""Quotas across replicas on one real Redis: two gateway instances together accept exactly
the quota, and a gateway whose Redis is unreachable keeps serving, counting in memory."""

from __future__ import annotations

import asyncio
import time
import types
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from app.quotas.store import RedisQuotaStore
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.services import need_redis

pytestmark = pytest.mark.redis


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[Gateway, Gateway]]:
    redis_url = need_redis()
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(
            running_gateway(make_settings(url, tmp_path / "var", redis_url=redis_url))
        )
        second = await stack.enter_async_context(
            running_gateway(make_settings(url, tmp_path / "var", redis_url=redis_url))
        )
        yield first, second


async def test_two_replicas_on_one_redis_accept_exactly_the_quota(
    replicas: tuple[Gateway, Gateway],
) -> None:
    first, second = replicas
    tenant = f"rq-{uuid.uuid4().hex[:8]}"
    client, secret = await first.add_tenant(tenant)
    second.credentials[client] = (client, secret)
    await first.add_client("operator", None)
    response = await first.http.put(
        f"/admin/tenants/{tenant}/quotas",
        json={"read": {"tenant": {"quota": 25, "window": 3600}}},
        headers=await first.headers("operator"),
    )
    assert response.status_code == 200
    assert isinstance(first.services.quotas.store, RedisQuotaStore)
    headers_a, headers_b = await first.headers(client), await second.headers(client)

    async def read(gateway: Gateway, headers: dict[str, str]) -> int:
        return (await gateway.http.get("/v1/products?limit=1", headers=headers)).status_code

    statuses = await asyncio.gather(
        *(read(first, headers_a) for _ in range(40)), *(read(second, headers_b) for _ in range(40))
    )
    assert statuses.count(200) == 25
    assert statuses.count(429) == 55


async def test_refused_requests_consume_nothing_across_two_replicas(
    replicas: tuple[Gateway, Gateway],
) -> None:
    """One client hammering past its own limit through both replicas, all at once, costs its
    tenant only what was admitted; the tenant's other client then gets exactly the rest."""
    first, second = replicas
    tenant = f"rq-{uuid.uuid4().hex[:8]}"
    hammering, secret = await first.add_tenant(tenant)
    second.credentials[hammering] = (hammering, secret)
    other, other_secret = await first.add_client(f"{tenant}-other", tenant)
    second.credentials[other] = (other, other_secret)
    await first.add_client("operator", None)
    response = await first.http.put(
        f"/admin/tenants/{tenant}/quotas",
        json={
            "read": {
                "tenant": {"quota": 10, "window": 3600},
                "client": {"quota": 7, "window": 3600},
            }
        },
        headers=await first.headers("operator"),
    )
    assert response.status_code == 200

    async def burst(client: str) -> list[int]:
        headers_a, headers_b = await first.headers(client), await second.headers(client)

        async def read(gateway: Gateway, headers: dict[str, str]) -> int:
            return (await gateway.http.get("/v1/products?limit=1", headers=headers)).status_code

        return list(
            await asyncio.gather(
                *(read(first, headers_a) for _ in range(30)),
                *(read(second, headers_b) for _ in range(30)),
            )
        )

    hammered = await burst(hammering)
    assert hammered.count(200) == 7 and hammered.count(429) == 53
    rest = await burst(other)
    assert rest.count(200) == 3 and rest.count(429) == 57  # 10 - 7, not 0


async def test_an_unreachable_redis_degrades_to_counting_in_memory(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    settings = make_settings(
        url, tmp_path / "var", redis_url="redis://127.0.0.1:1/0"
    )  # nothing listens
    async with running_gateway(settings) as gateway:
        client, _ = await gateway.add_tenant("noredis")
        response = await gateway.http.get(
            "/v1/products?limit=1", headers=await gateway.headers(client)
        )
        assert response.status_code == 200
        assert "ratelimit" in response.headers
        store = gateway.services.quotas.store
        assert isinstance(store, RedisQuotaStore) and store.degraded


async def test_an_unforeseen_failure_of_the_script_call_never_leaves_requests_waiting() -> None:
    """A flush that fails with something other than a Redis error (here: the client used from
    another event loop than the one that opened its connection) answers every waiting request
    from the in-memory count instead of leaving them hanging."""
    from redis.asyncio import Redis

    from app.quotas.policy import Rule

    redis = Redis.from_url("redis://127.0.0.1:6379/15")
    store = RedisQuotaStore(redis, prefix=f"rg:test:{uuid.uuid4().hex}:")

    async def broken(**_: object) -> object:
        raise RuntimeError("attached to a different loop")

    store._script = broken  # type: ignore[assignment]
    rule = Rule(name="client", key="c1", quota=5, window=60)
    verdicts = await asyncio.wait_for(
        asyncio.gather(*(store.hit([rule]) for _ in range(7))), timeout=5
    )
    assert [v[0].allowed for v in verdicts] == [True] * 5 + [False] * 2
    assert store.degraded
    await redis.aclose()


async def test_one_flush_decides_as_one_request_at_a_time_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requests arriving in one event-loop turn share one script call, with each client's
    consecutive requests sent as one run; the verdicts (admitted, counts, remaining) are
    those of the in-memory store fed the same requests one by one."""
    import random

    from redis.asyncio import Redis

    from app.quotas import store as quota_store
    from app.quotas.policy import Rule
    from app.quotas.store import MemoryQuotaStore

    # Both stores see one instant, so no window boundary can fall between the two (a loaded
    # machine once crossed one mid-trial); the counters' keys are new per trial all the same.
    instant = time.time()
    clock = types.SimpleNamespace(time=lambda: instant, monotonic=time.monotonic)
    monkeypatch.setattr(quota_store, "time", clock)
    rng = random.Random(7)
    redis = Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        for trial in range(20):
            prefix = f"rg:test:{uuid.uuid4().hex}:"
            store, reference = RedisQuotaStore(redis, prefix=prefix), MemoryQuotaStore()
            tenant = Rule("tenant", f"read:t:{trial}", rng.randint(3, 30), 60)
            clients = {
                name: [tenant, Rule("client", f"read:c:{trial}:{name}", rng.randint(1, 12), 60)]
                for name in "abc"
            }
            arrivals = [rng.choice("abc") for _ in range(rng.randint(1, 40))]
            runs = [rng.choice("ab") * rng.randint(1, 6) for _ in range(3)]
            arrivals += list("".join(runs))
            for burst in (arrivals[: len(arrivals) // 2], arrivals[len(arrivals) // 2 :]):
                got = await asyncio.gather(*(store.hit(clients[name]) for name in burst))
                assert not store.degraded, "the script call failed; verdicts came from memory"
                expected = [await reference.hit(clients[name]) for name in burst]
                assert [
                    [(v.used, v.allowed, v.remaining) for v in verdicts] for verdicts in got
                ] == [
                    [(v.used, v.allowed, v.remaining) for v in verdicts] for verdicts in expected
                ], (trial, burst)
    finally:
        await redis.aclose()
