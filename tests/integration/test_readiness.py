"""Readiness with a tenant's backend down: the replica stays ready (200), and the details say
which backend is failing, since when and why, from what its shield saw (nothing is probed by
the readiness call itself). On the embedded tier (the shield in process memory) and with
Redis (the shield shared by replicas: a second replica that never called the backend reports
the same)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.services import need_redis

pytestmark = [pytest.mark.slow]


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def replicas(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Gateway, Gateway | None]]:
    redis_url = need_redis() if request.param == "redis" else None
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}", tmp_path / "var", redis_url=redis_url
    )
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_gateway(settings))
        second = await stack.enter_async_context(running_gateway(settings)) if redis_url else None
        yield first, second


@pytest.fixture
async def odoo() -> AsyncIterator[Simulator]:
    async with odoo_simulator() as simulator:
        yield simulator


async def _bind_to_odoo(gateway: Gateway, odoo: Simulator) -> tuple[str, str]:
    tenant = f"rd-{uuid.uuid4().hex[:8]}"
    client, _ = await gateway.add_tenant(tenant)
    await gateway.add_client("operator", None)
    settings, secrets = odoo.binding()
    response = await gateway.http.put(
        f"/admin/tenants/{tenant}/bindings",
        json={"adapter": "odoo", "settings": settings, "secrets": secrets},
        headers=await gateway.headers("operator"),
    )
    assert response.status_code == 200, response.text
    return tenant, client


def _odoo_entry(ready: dict[str, Any]) -> dict[str, Any]:
    entries = [item for item in ready["backend_health"] if item["adapter"] == "odoo"]
    assert len(entries) == 1, ready
    return entries[0]


async def test_a_backend_down_is_reported_failing_and_the_replica_stays_ready(
    replicas: tuple[Gateway, Gateway | None], odoo: Simulator
) -> None:
    gateway, second = replicas
    tenant, client = await _bind_to_odoo(gateway, odoo)
    headers = await gateway.headers(client)
    assert (await gateway.http.get("/v1/products?limit=3", headers=headers)).status_code == 200

    response = await gateway.http.get("/health/ready")
    assert response.status_code == 200
    healthy = _odoo_entry(response.json())
    assert healthy["status"] == "ok"
    assert healthy["breaker"] == "closed"
    assert "last_success_at" in healthy
    assert "last_failure" not in healthy
    assert healthy["bound_domains"] == 4  # catalog, customers, inventory, orders
    assert tenant not in response.text  # public: no tenant is named

    odoo.process.terminate()  # the ERP is gone: its port refuses connections
    odoo.process.wait(timeout=30)
    refused = await gateway.http.get("/v1/products?limit=7", headers=headers)
    assert refused.status_code == 503, refused.text

    response = await gateway.http.get("/health/ready")
    assert response.status_code == 200  # one tenant's ERP never takes the replica out
    ready = response.json()
    assert ready["status"] == "ok"
    assert ready["checks"]["database"] == "ok"
    failing = _odoo_entry(ready)
    assert failing["status"] == "failing"
    assert failing["last_failure"].startswith("Connect"), failing  # refused: ConnectError or
    # ConnectTimeout, as the transport reports it
    assert failing["consecutive_failures"] >= 1
    failed_at = datetime.fromisoformat(failing["last_failure_at"])
    assert failed_at.utcoffset() is not None
    assert failed_at >= datetime.fromisoformat(failing["last_success_at"])
    assert ready["backends"][failing["backend"]].startswith("breaker ")

    if second is not None:
        # The other replica has served the tenant but never reached the backend down: the
        # shield's record is shared through Redis.
        await second.services.backends.for_tenant(tenant, fresh=True)
        other = _odoo_entry((await second.http.get("/health/ready")).json())
        assert other["status"] == "failing"
        assert other["last_failure"] == failing["last_failure"]
        # The worker may have met the backend down again since: at least as recent.
        assert other["last_failure_at"] >= failing["last_failure_at"]
