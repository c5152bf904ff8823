"""Tenants and their OAuth clients: creation, secret rotation, disabling, and the client
authentication the token endpoint relies on."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.principal import ADMIN_SCOPE, ALL_V1_SCOPES, KNOWN_SCOPES
from app.crypto import hash_client_secret, new_client_secret, verify_client_secret
from app.problems import Conflict, InvalidRequest, NotFound
from app.store.database import Database
from app.store.models import Client, Tenant
from app.store.types import utcnow

DEFAULT_CHANNELS = ("web", "app", "store", "marketplace")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


@dataclass(frozen=True, slots=True)
class TenantView:
    id: str
    name: str
    status: str
    channels: list[str]


@dataclass(frozen=True, slots=True)
class ClientView:
    client_id: str
    tenant_id: str | None
    name: str
    kind: str
    scopes: list[str]
    status: str


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """A client and its secret in clear: shown once, never stored in clear."""

    client: ClientView
    client_secret: str


def _tenant_view(row: Tenant) -> TenantView:
    return TenantView(row.id, row.name, row.status, list(row.channels))


def _client_view(row: Client) -> ClientView:
    return ClientView(
        row.client_id, row.tenant_id, row.name, row.kind, list(row.scopes), row.status
    )


CHANNELS_TTL = 30.0  # seconds a replica trusts the channels it read


class TenantDirectory:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._channels: dict[str, tuple[float, list[str]]] = {}

    async def channels(self, tenant_id: str) -> list[str]:
        """The tenant's channels ([] for no such tenant). They are fixed when the tenant is
        created, so each replica reads them now and then, not per order."""
        cached = self._channels.get(tenant_id)
        if cached is not None and time.monotonic() - cached[0] < CHANNELS_TTL:
            return cached[1]
        view = await self.get_tenant(tenant_id)
        if view is None:
            return []
        self._channels[tenant_id] = (time.monotonic(), view.channels)
        return view.channels

    async def create_tenant(
        self, tenant_id: str, name: str, channels: list[str] | None = None
    ) -> TenantView:
        if not _SLUG.match(tenant_id):
            raise InvalidRequest("tenant id must be 2-63 characters of a-z, 0-9 and '-'")
        row = Tenant(id=tenant_id, name=name, channels=list(channels or DEFAULT_CHANNELS))
        try:
            async with self._db.session(write=True) as session:
                session.add(row)
        except IntegrityError:
            raise Conflict(f"tenant {tenant_id} already exists") from None
        return _tenant_view(row)

    async def get_tenant(self, tenant_id: str) -> TenantView | None:
        async with self._db.session() as session:
            row = await session.get(Tenant, tenant_id)
        return _tenant_view(row) if row else None

    async def list_tenants(self) -> list[TenantView]:
        async with self._db.session() as session:
            rows = (await session.scalars(select(Tenant).order_by(Tenant.id))).all()
        return [_tenant_view(row) for row in rows]

    async def create_client(
        self,
        *,
        client_id: str,
        name: str,
        tenant_id: str | None,
        scopes: list[str] | None = None,
    ) -> IssuedCredentials:
        """A channel client of a tenant (default: every /v1 scope), or, with no tenant, a
        platform operator client holding `admin`."""
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,99}$", client_id):
            raise InvalidRequest("client_id must be 3-100 URL-safe characters")
        kind = "channel" if tenant_id else "operator"
        if scopes is not None and not scopes:
            raise InvalidRequest("a client needs at least one scope (omit scopes for the default)")
        granted = list(scopes) if scopes else (list(ALL_V1_SCOPES) if tenant_id else [ADMIN_SCOPE])
        unknown = sorted(set(granted) - KNOWN_SCOPES)
        if unknown:
            raise InvalidRequest(f"unknown scopes: {', '.join(unknown)}")
        if kind == "channel" and ADMIN_SCOPE in granted:
            raise InvalidRequest("a tenant's channel client can never hold the admin scope")
        if kind == "operator" and set(granted) != {ADMIN_SCOPE}:
            raise InvalidRequest("an operator client holds the admin scope only")
        secret = new_client_secret()
        row = Client(
            client_id=client_id,
            tenant_id=tenant_id,
            name=name,
            kind=kind,
            scopes=granted,
            secret_hash=hash_client_secret(secret),
        )
        try:
            async with self._db.session(write=True) as session:
                if tenant_id is not None and await session.get(Tenant, tenant_id) is None:
                    raise NotFound(f"no tenant {tenant_id}")
                session.add(row)
        except IntegrityError:
            raise Conflict(f"client {client_id} already exists") from None
        return IssuedCredentials(_client_view(row), secret)

    async def list_clients(self, tenant_id: str | None = None) -> list[ClientView]:
        async with self._db.session() as session:
            query = select(Client).order_by(Client.client_id)
            if tenant_id is not None:
                query = query.where(Client.tenant_id == tenant_id)
            rows = (await session.scalars(query)).all()
        return [_client_view(row) for row in rows]

    async def rotate_secret(self, client_id: str) -> IssuedCredentials:
        secret = new_client_secret()
        async with self._db.session(write=True) as session:
            row = await session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}")
            row.secret_hash = hash_client_secret(secret)
            row.secret_rotated_at = utcnow()
        return IssuedCredentials(_client_view(row), secret)

    async def set_client_status(self, client_id: str, status: str) -> ClientView:
        async with self._db.session(write=True) as session:
            row = await session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}")
            row.status = status
        return _client_view(row)

    async def authenticate(self, client_id: str, secret: str) -> ClientView | None:
        """The client, if the secret matches and both it and its tenant are active."""
        async with self._db.session() as session:
            row = await session.get(Client, client_id)
            if row is None or row.status != "active":
                return None
            if not verify_client_secret(secret, row.secret_hash):
                return None
            if row.tenant_id is not None:
                tenant = await session.get(Tenant, row.tenant_id)
                if tenant is None or tenant.status != "active":
                    return None
        return _client_view(row)
