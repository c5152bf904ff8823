"""One customer per e-mail address, however many identical creates arrive at once: on SQLite
and PostgreSQL, through one gateway and through two replicas sharing the database. The
backend keeps no unique e-mail (Tryton and Odoo don't), so only the gateway's lock stands
between simultaneous creates and duplicate customers."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from app.customers.email_locks import EmailLocks
from app.problems import Conflict
from app.settings import WorkerSettings
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.services import create_database, drop_database

TENANT, CLIENT = "mailers", "mailers-client"
AT_ONCE = 8


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        return
    url = await create_database()
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture(params=[1, 2], ids=["one-gateway", "two-replicas"])
async def replicas(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> AsyncIterator[list[Gateway]]:
    settings = make_settings(database_url, tmp_path / "var", worker=WorkerSettings(embedded=False))
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_gateway(settings))
        await first.add_tenant(TENANT)
        gateways = [first]
        for _ in range(request.param - 1):
            other = await stack.enter_async_context(running_gateway(settings))
            other.credentials.update(first.credentials)
            gateways.append(other)
        yield gateways


def _body(email: str, first_name: str = "Ada") -> dict[str, Any]:
    return {"email": email, "first_name": first_name, "last_name": "Lovelace"}


async def _post(gw: Gateway, body: dict[str, Any]) -> Any:
    return await gw.http.post("/v1/customers", json=body, headers=await gw.headers(CLIENT))


async def _with_email(gw: Gateway, email: str) -> list[dict[str, Any]]:
    response = await gw.http.get(
        "/v1/customers", params={"email": email}, headers=await gw.headers(CLIENT)
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@pytest.mark.parametrize("round_", range(3))
async def test_simultaneous_identical_creates_make_one_customer(
    replicas: list[Gateway], round_: int
) -> None:
    email = f"race-{round_}-{uuid.uuid4().hex[:10]}@example.com"
    for gw in replicas:  # tokens first, so the creates really start together
        await gw.headers(CLIENT)
    responses = await asyncio.gather(
        *(_post(replicas[i % len(replicas)], _body(email)) for i in range(AT_ONCE))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: AT_ONCE - 1}, [r.text for r in responses]
    created = next(r.json() for r in responses if r.status_code == 201)
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["existing_id"] == created["id"]
    for gw in replicas:
        assert [c["id"] for c in await _with_email(gw, email)] == [created["id"]]


async def test_creates_in_other_case_count_as_the_same_address(replicas: list[Gateway]) -> None:
    local = f"case-{uuid.uuid4().hex[:10]}"
    spellings = [f"{local}@example.com", f"{local.upper()}@EXAMPLE.COM", f"{local}@Example.com"]
    responses = await asyncio.gather(
        *(
            _post(replicas[i % len(replicas)], _body(spellings[i % len(spellings)]))
            for i in range(AT_ONCE)
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: AT_ONCE - 1}
    assert len(await _with_email(replicas[0], spellings[0])) == 1


async def test_a_patch_to_an_address_races_creates_of_it_and_one_wins(
    replicas: list[Gateway],
) -> None:
    email = f"taken-{uuid.uuid4().hex[:10]}@example.com"
    others = []
    for i in range(3):
        response = await _post(replicas[0], _body(f"other-{i}-{uuid.uuid4().hex[:8]}@example.com"))
        assert response.status_code == 201, response.text
        others.append(response.json()["id"])

    async def patch(gw: Gateway, customer_id: str) -> Any:
        return await gw.http.patch(
            f"/v1/customers/{customer_id}", json={"email": email}, headers=await gw.headers(CLIENT)
        )

    calls = [patch(replicas[i % len(replicas)], cid) for i, cid in enumerate(others)]
    calls += [_post(replicas[i % len(replicas)], _body(email)) for i in range(AT_ONCE - 3)]
    responses = await asyncio.gather(*calls)
    won = [r for r in responses if r.status_code in (200, 201)]
    assert len(won) == 1, [r.text for r in responses]
    assert all(r.status_code == 409 for r in responses if r not in won)
    holders = await _with_email(replicas[-1], email)
    assert [c["id"] for c in holders] == [won[0].json()["id"]]


async def test_a_second_replica_waits_for_the_address_and_gives_up_with_a_409(
    replicas: list[Gateway],
) -> None:
    """Deterministically, without a race: while one replica's lock holds an address, another
    replica's (its own EmailLocks, its own connections) cannot take it, times out into a
    409 to retry, and takes it once it is free; other addresses are not held up."""
    db = replicas[-1].services.db
    holder, other = EmailLocks(db, wait=0.3), EmailLocks(db, wait=0.3)
    async with holder.hold(TENANT, "held@example.com"):
        with pytest.raises(Conflict) as refused:
            async with other.hold(TENANT, "HELD@example.com"):
                pytest.fail("took an address another replica holds")
        assert refused.value.headers["Retry-After"]
        async with other.hold(TENANT, "free@example.com"):
            pass
        async with other.hold("another-tenant", "held@example.com"):
            pass
    async with other.hold(TENANT, "held@example.com"):
        pass
