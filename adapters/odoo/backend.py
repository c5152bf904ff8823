"""The Odoo 17 adapter: every domain of the backend port against one Odoo database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import httpx

from adapters.odoo.catalog import CatalogPart
from adapters.odoo.client import OdooClient
from adapters.odoo.customers import CustomersPart
from adapters.odoo.sales import SalesPart
from adapters.odoo.settings import OdooSecrets, OdooSettings


class OdooBackend(CatalogPart, CustomersPart, SalesPart):
    """Built from a binding: `url`, `database`, `username` settings and the `password` secret;
    `location_codes` maps Odoo warehouse codes to location ids, `store_location_codes` names
    the locations that are shops."""

    def __init__(
        self,
        url: str,
        database: str,
        username: str,
        password: str,
        *,
        location_codes: Mapping[str, str] | None = None,
        store_location_codes: Iterable[str] = (),
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            OdooClient(url, database, username, password, timeout=timeout, transport=transport),
            location_codes=dict(location_codes or {}),
            store_location_codes=frozenset(store_location_codes),
        )

    @classmethod
    def from_settings(
        cls,
        settings: OdooSettings,
        secrets: OdooSecrets,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> OdooBackend:
        """The adapter a validated binding describes."""
        return cls(
            settings.url,
            settings.database,
            settings.username,
            secrets.password,
            location_codes=settings.location_codes,
            store_location_codes=settings.store_location_codes,
            timeout=settings.timeout,
            transport=transport,
        )

    async def check(self) -> None:
        await self._client.uid()
        await self.currency()

    async def aclose(self) -> None:
        await self._client.aclose()
