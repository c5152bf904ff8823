"""The Tryton adapter: every domain of the backend port against one Tryton database."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from adapters.tryton.catalog import CatalogPart
from adapters.tryton.client import TrytonClient
from adapters.tryton.customers import CustomersPart
from adapters.tryton.sales import SalesPart
from adapters.tryton.settings import TrytonSecrets, TrytonSettings


class TrytonBackend(CatalogPart, CustomersPart, SalesPart):
    """Built from a binding: `url`, `database`, `username` settings and the `password` secret;
    `store_location_codes` names the warehouses that are shops."""

    def __init__(
        self,
        url: str,
        database: str,
        username: str,
        password: str,
        *,
        store_location_codes: Iterable[str] = (),
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        client = TrytonClient(
            url, database, username, password, timeout=timeout, transport=transport
        )
        super().__init__(client, frozenset(store_location_codes))

    @classmethod
    def from_settings(
        cls,
        settings: TrytonSettings,
        secrets: TrytonSecrets,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> TrytonBackend:
        """The adapter a validated binding describes."""
        return cls(
            settings.url,
            settings.database,
            settings.username,
            secrets.password,
            store_location_codes=settings.store_location_codes,
            timeout=settings.timeout,
            transport=transport,
        )

    async def check(self) -> None:
        await self._client.ensure_session()
        await self.currency()

    async def aclose(self) -> None:
        await self._client.aclose()
