"""What every part of the Odoo adapter shares: the client, cached lookups (company currency,
warehouses, countries, the consent category) and the location-code mapping."""

from __future__ import annotations

from typing import Any

from adapters.odoo.client import OdooClient
from adapters.odoo.errors import NAME
from contracts.errors import BusinessRejection, PermanentBackendError

ALL = {"active_test": False}


class OdooBase:
    name = NAME

    def __init__(
        self,
        client: OdooClient,
        *,
        location_codes: dict[str, str] | None = None,
        store_location_codes: frozenset[str] = frozenset(),
    ) -> None:
        self._client = client
        # Odoo caps warehouse codes at 5 characters; a binding maps them to the retailer's
        # location ids (e.g. STAMS -> ST-AMS). Unmapped codes are used as they are.
        self._to_location = dict(location_codes or {})
        self._from_location = {canonical: code for code, canonical in self._to_location.items()}
        self._store_codes = store_location_codes
        self._currency: str | None = None
        self._warehouses: list[dict[str, Any]] | None = None
        self._countries: dict[str, int] = {}
        self._country_codes: dict[int, str] = {}
        self._consent: int | bool | None = False

    async def _read(
        self, model: str, domain: list[Any], fields: list[str], **kwargs: Any
    ) -> list[dict[str, Any]]:
        """search_read; a business error on a read is a misconfiguration, not a refusal."""
        try:
            return await self._client.search_read(model, domain, fields, **kwargs)
        except BusinessRejection as error:
            raise PermanentBackendError(
                error.message, backend=NAME, vendor_code=error.vendor_code
            ) from error

    def location_id(self, warehouse_code: str) -> str:
        return self._to_location.get(warehouse_code, warehouse_code)

    def warehouse_code(self, location_id: str) -> str:
        return self._from_location.get(location_id, location_id)

    async def currency(self) -> str:
        if self._currency is None:
            companies = await self._read("res.company", [], ["currency_id"], limit=1)
            name = (
                companies[0]["currency_id"][1]
                if companies and companies[0].get("currency_id")
                else "EUR"
            )
            self._currency = str(name)
        return self._currency

    async def warehouses(self) -> list[dict[str, Any]]:
        if self._warehouses is None:
            self._warehouses = await self._read(
                "stock.warehouse",
                [],
                ["code", "name", "view_location_id", "lot_stock_id"],
                order="code asc",
            )
        return self._warehouses

    async def country_id(self, code: str) -> int:
        if code not in self._countries:
            rows = await self._read("res.country", [["code", "=", code]], ["code"], limit=1)
            if not rows:
                raise BusinessRejection(f"country {code} is unknown to Odoo", backend=NAME)
            self._countries[code] = int(rows[0]["id"])
            self._country_codes[int(rows[0]["id"])] = code
        return self._countries[code]

    async def country_codes(self) -> dict[int, str]:
        if not self._country_codes:
            for row in await self._read("res.country", [], ["code"]):
                self._country_codes[int(row["id"])] = str(row["code"])
                self._countries[str(row["code"])] = int(row["id"])
        return self._country_codes

    async def consent_category(self) -> int | None:
        if self._consent is False:
            rows = await self._read(
                "res.partner.category", [["name", "=", "Marketing consent"]], ["name"], limit=1
            )
            self._consent = int(rows[0]["id"]) if rows else None
        return (
            self._consent
            if isinstance(self._consent, int) and not isinstance(self._consent, bool)
            else None
        )
