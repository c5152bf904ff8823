"""Two gateway replicas on one PostgreSQL and Redis: a tenant without a migration costs its reads
no query of migrations at all, and a migration started, cut over or rolled back through one
replica starts or stops the other's shadow reads (the Redis channel), not a timer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from adapters._demo import demo_dataset
from app.publicids import CUSTOMER, PRODUCT, public_id
from app.tenancy.migration_state import ActiveMigration
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.services import create_database, drop_database, need_redis

pytestmark = pytest.mark.slow
DEMO = demo_dataset()


@dataclass
class Replicas:
    first: Gateway
    second: Gateway
    # Redis outlives each test's database: a tenant of its own finds no cache entries of
    # earlier runs.
    tenant: str = field(default_factory=lambda: f"twins-{uuid.uuid4().hex[:8]}")

    @property
    def client(self) -> str:
        return f"{self.tenant}-client"

    @property
    def candidate(self) -> dict[str, Any]:
        return {"adapter": "sandbox", "settings": {"dataset": f"{self.tenant}:next"}, "secrets": {}}


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[Replicas]:
    url, redis = await create_database(), need_redis()
    try:
        async with AsyncExitStack() as stack:
            settings = make_settings(url, tmp_path / "var", redis_url=redis)
            first = await stack.enter_async_context(running_gateway(settings))
            second = await stack.enter_async_context(running_gateway(settings))
            pair = Replicas(first, second)
            _, secret = await first.add_tenant(pair.tenant)
            second.credentials[pair.client] = (pair.client, secret)
            await first.services.backends.provision("sandbox", pair.candidate["settings"], {})
            for gw in (first, second):
                await _eventually(lambda gw=gw: gw.services.migrations.states.listening)
            yield pair
    finally:
        await drop_database(url)


async def _eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    """Well under the 60 s a listening replica keeps its snapshot: only the channel can do it."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.02)


@contextmanager
def queries_of_migrations(gw: Gateway) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "tenant_migrations" in statement:
            seen.append(statement)

    engine = gw.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def _read(pair: Replicas, products: list[str], customers: list[str]) -> None:
    gw = pair.second
    headers = await gw.headers(pair.client)
    for code in products:
        response = await gw.http.get(f"/v1/products/{public_id(PRODUCT, code)}", headers=headers)
        assert response.status_code == 200, response.text
    for code in customers:
        response = await gw.http.get(f"/v1/customers/{public_id(CUSTOMER, code)}", headers=headers)
        assert response.status_code == 200, response.text


async def _compared(pair: Replicas) -> int:
    await pair.second.services.shadow.drain()
    report = await pair.second.services.migrations.report(pair.tenant)
    return sum(domain["compared"] for domain in report["parity"].values())


async def test_reads_of_a_tenant_without_a_migration_query_no_migration(
    replicas: Replicas,
) -> None:
    second = replicas.second
    states = second.services.migrations.states
    assert await states.get(replicas.tenant) is None
    loads = states.loads
    with queries_of_migrations(second) as seen:
        # Every one a cache miss, so every one asks whether the tenant is being migrated.
        await _read(
            replicas, [p.code for p in DEMO.products[:15]], [c.code for c in DEMO.customers[:10]]
        )
        await second.services.shadow.drain()
    assert seen == [] and states.loads == loads


async def test_a_migration_changed_on_one_replica_changes_what_the_other_shadows(
    replicas: Replicas,
) -> None:
    migrations, tenant = replicas.first.services.migrations, replicas.tenant
    states = replicas.second.services.migrations.states
    assert await states.get(tenant) is None  # the other replica knows: no migration

    await migrations.start(tenant, **replicas.candidate)
    await _eventually(lambda: isinstance(states.peek(tenant), ActiveMigration))
    await _read(replicas, [DEMO.products[1].code], [DEMO.customers[1].code])
    assert await _compared(replicas) == 2  # its reads were shadowed

    await migrations.cutover(tenant)
    await _eventually(lambda: states.peek(tenant) is None)
    await _read(replicas, [DEMO.products[2].code], [DEMO.customers[2].code])
    assert await _compared(replicas) == 2  # and no longer are

    await migrations.rollback(tenant)
    await migrations.start(tenant, **replicas.candidate)
    await _eventually(lambda: isinstance(states.peek(tenant), ActiveMigration))
    await _read(replicas, [DEMO.products[3].code], [])
    assert await _compared(replicas) == 1  # the new migration's first comparison
    await migrations.rollback(tenant)
    await _eventually(lambda: states.peek(tenant) is None)
