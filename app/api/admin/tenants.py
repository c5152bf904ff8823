"""`/admin/tenants` and their clients: create tenants (bound to the sandbox backend by
default), issue, rotate and disable client credentials. Secrets are shown once, at issue."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from app.api.body import StrictBody
from app.api.deps import ServicesDep
from app.api.guards import requires
from app.api.openapi import ADMIN, problems
from app.problems import NotFound
from app.tenancy.provisioning import provision_tenant
from app.tenancy.tenants import ClientView, IssuedCredentials, TenantView

TenantId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
ClientId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,99}$")]


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: TenantId
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    channels: (
        Annotated[
            list[Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,50}$")]],
            msgspec.Meta(min_length=1, max_length=50),
        ]
        | None
    ) = None


class TenantOut(msgspec.Struct):
    id: str
    name: str
    status: str
    channels: list[str]


class ClientCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    client_id: ClientId
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    scopes: list[str] | None = None


class ClientOut(msgspec.Struct):
    client_id: str
    tenant_id: str | None
    name: str
    kind: str
    scopes: list[str]
    status: str


class IssuedClient(msgspec.Struct):
    """Client credentials; `client_secret` is shown this once and never again."""

    client: ClientOut
    client_secret: str


class TenantList(msgspec.Struct):
    data: list[TenantOut]


class ClientList(msgspec.Struct):
    data: list[ClientOut]


def _tenant(view: TenantView) -> TenantOut:
    return TenantOut(view.id, view.name, view.status, view.channels)


def _client(view: ClientView) -> ClientOut:
    return ClientOut(view.client_id, view.tenant_id, view.name, view.kind, view.scopes, view.status)


def _issued(issued: IssuedCredentials) -> IssuedClient:
    return IssuedClient(_client(issued.client), issued.client_secret)


class TenantAdminController(Controller):
    path = "/admin/tenants"
    tags = ["Admin"]
    guards = [requires("admin")]

    @get("/", operation_id="adminListTenants", responses=problems(*ADMIN), summary="List tenants")
    async def list_tenants(self, services: ServicesDep) -> TenantList:
        return TenantList([_tenant(t) for t in await services.tenants.list_tenants()])

    @post(
        "/",
        operation_id="adminCreateTenant",
        responses=problems(*ADMIN),
        summary="Create a tenant",
        dto=StrictBody[TenantCreate],
        return_dto=None,
        status_code=201,
    )
    async def create_tenant(self, services: ServicesDep, data: JSONBody[TenantCreate]) -> TenantOut:
        view = await provision_tenant(services, data.id, data.name, data.channels)
        return _tenant(view)

    @get(
        "/{tenant_id:str}",
        operation_id="adminGetTenant",
        responses=problems(*ADMIN),
        summary="Get a tenant",
    )
    async def get_tenant(self, services: ServicesDep, tenant_id: FromPath[str]) -> TenantOut:
        view = await services.tenants.get_tenant(tenant_id)
        if view is None:
            raise NotFound(f"no tenant {tenant_id}")
        return _tenant(view)

    @get(
        "/{tenant_id:str}/clients",
        operation_id="adminListClients",
        responses=problems(*ADMIN),
        summary="List a tenant's clients",
    )
    async def list_clients(self, services: ServicesDep, tenant_id: FromPath[str]) -> ClientList:
        if await services.tenants.get_tenant(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        return ClientList([_client(c) for c in await services.tenants.list_clients(tenant_id)])

    @post(
        "/{tenant_id:str}/clients",
        operation_id="adminCreateClient",
        responses=problems(*ADMIN),
        summary="Issue credentials for a channel client of the tenant",
        dto=StrictBody[ClientCreate],
        return_dto=None,
        status_code=201,
    )
    async def create_client(
        self, services: ServicesDep, tenant_id: FromPath[str], data: JSONBody[ClientCreate]
    ) -> IssuedClient:
        issued = await services.tenants.create_client(
            client_id=data.client_id, name=data.name, tenant_id=tenant_id, scopes=data.scopes
        )
        return _issued(issued)


class ClientAdminController(Controller):
    path = "/admin/clients"
    tags = ["Admin"]
    guards = [requires("admin")]

    @post(
        "/{client_id:str}/rotate-secret",
        operation_id="adminRotateClientSecret",
        responses=problems(*ADMIN),
        summary="Issue a new secret; the old one stops working at once",
        status_code=200,
    )
    async def rotate(self, services: ServicesDep, client_id: FromPath[str]) -> IssuedClient:
        return _issued(await services.tenants.rotate_secret(client_id))

    @post(
        "/{client_id:str}/disable",
        operation_id="adminDisableClient",
        responses=problems(*ADMIN),
        summary="Disable a client",
        status_code=200,
    )
    async def disable(self, services: ServicesDep, client_id: FromPath[str]) -> ClientOut:
        return _client(await services.tenants.set_client_status(client_id, "disabled"))

    @post(
        "/{client_id:str}/enable",
        operation_id="adminEnableClient",
        responses=problems(*ADMIN),
        summary="Enable a client",
        status_code=200,
    )
    async def enable(self, services: ServicesDep, client_id: FromPath[str]) -> ClientOut:
        return _client(await services.tenants.set_client_status(client_id, "active"))
