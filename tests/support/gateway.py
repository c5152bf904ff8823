"""A gateway running in-process for API tests: the real app and services on a real database,
driven through httpx's ASGI transport in the test's own event loop, with tenants and clients
provisioned."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.bootstrap import build_services, create_app
from app.services import Services
from app.settings import DatabaseSettings, Settings, WorkerSettings
from app.store.migrate import upgrade_async
from app.tenancy.provisioning import provision_tenant
from tests.support.services import create_database, drop_database

ISSUER = "http://gateway.test"
TEST_QUOTAS = {
    "read": {
        "tenant": {"quota": 1_000_000, "window": 60},
        "client": {"quota": 1_000_000, "window": 60},
    },
    "write": {
        "tenant": {"quota": 1_000_000, "window": 60},
        "client": {"quota": 1_000_000, "window": 60},
    },
}


def make_settings(database_url: str, var_dir: Path, **overrides: Any) -> Settings:
    worker = overrides.pop(
        "worker",
        WorkerSettings(
            embedded=True, poll_interval=0.05, backoff_base=0.05, backoff_max=0.5, feed_interval=0.2
        ),
    )
    settings = Settings(
        database=DatabaseSettings(url=database_url, pool_size=5),
        var_dir=var_dir,
        worker=worker,
        bootstrap_demo=False,
        # Tests poll a lot; quota tests set their own limits per tenant.
        quota_defaults=TEST_QUOTAS,
    )
    settings = settings.with_overrides(**overrides)
    return settings.with_overrides(auth=settings.auth.__class__(issuer=ISSUER))


@dataclass
class Gateway:
    """One running gateway with its services and a client factory."""

    app: Any
    services: Services
    http: httpx.AsyncClient
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)
    _tokens: dict[tuple[str, str | None], str] = field(default_factory=dict)

    async def add_tenant(
        self, tenant_id: str, *, channels: list[str] | None = None
    ) -> tuple[str, str]:
        """Provision a tenant with a channel client holding every /v1 scope."""
        if await self.services.tenants.get_tenant(tenant_id) is None:
            await provision_tenant(self.services, tenant_id, f"Tenant {tenant_id}", channels)
        return await self.add_client(f"{tenant_id}-client", tenant_id)

    async def add_client(
        self, client_id: str, tenant_id: str | None, scopes: list[str] | None = None
    ) -> tuple[str, str]:
        if client_id not in self.credentials:
            issued = await self.services.tenants.create_client(
                client_id=client_id, name=client_id, tenant_id=tenant_id, scopes=scopes
            )
            self.credentials[client_id] = (client_id, issued.client_secret)
        return self.credentials[client_id]

    async def token(self, client_id: str, scope: str | None = None) -> str:
        cached = self._tokens.get((client_id, scope))
        if cached:
            return cached
        cid, secret = self.credentials[client_id]
        form = {"grant_type": "client_credentials"}
        if scope is not None:
            form["scope"] = scope
        response = await self.http.post("/oauth/token", data=form, auth=(cid, secret))
        assert response.status_code == 200, response.text
        token = str(response.json()["access_token"])
        self._tokens[(client_id, scope)] = token
        return token

    async def headers(self, client_id: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(client_id)}", **extra}

    async def wait_for_status(
        self, client_id: str, order_id: str, statuses: set[str], timeout: float = 15.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.http.get(
                f"/v1/orders/{order_id}", headers=await self.headers(client_id)
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["status"] in statuses or (
                body["dead_lettered"] and "dead_lettered" in statuses
            ):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"order {order_id} stayed {body['status']}")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def app_lifespan(app: Any) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own: Litestar enters an anyio task group there,
    which must be exited by the task that entered it (fixtures set up and tear down in
    different tasks)."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # start-up failed: raise its error
    try:
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    await upgrade_async(settings.database.url)
    services = build_services(settings)
    app = create_app(settings, services)
    try:
        async with app_lifespan(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
                yield Gateway(app=app, services=services, http=http)
    finally:
        await services.backends.aclose()
        await services.db.dispose()
        if services.redis is not None:
            await services.redis.aclose()


@asynccontextmanager
async def gateway_for_own_workers(
    dialect: str, tmp_path: Path, tenant: str | None = None
) -> AsyncIterator[Gateway]:
    """A gateway on a new SQLite file or PostgreSQL database (`dialect`) whose outbox is left
    to the workers the test runs itself (no embedded worker, no feed polling in between),
    with `tenant` provisioned if given; the PostgreSQL database is dropped afterwards."""
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        if dialect == "sqlite"
        else await create_database()
    )
    worker = WorkerSettings(embedded=False, feed_interval=0.0)
    try:
        async with running_gateway(make_settings(url, tmp_path / "var", worker=worker)) as gateway:
            if tenant is not None:
                await gateway.add_tenant(tenant)
            yield gateway
    finally:
        if dialect == "postgres":
            await drop_database(url)
