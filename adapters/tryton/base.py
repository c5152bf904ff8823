"""What every part of the Tryton adapter shares: the client, cached lookups (company currency,
warehouses, countries, the consent category) and read helpers."""

from __future__ import annotations

from typing import Any

from adapters.tryton.client import TrytonClient
from adapters.tryton.errors import NAME
from contracts.errors import BusinessRejection, PermanentBackendError

# Archived templates (inactive) and their variants must stay visible to reads.
ALL = {"active_test": False}


class TrytonBase:
    name = NAME

    def __init__(
        self, client: TrytonClient, store_location_codes: frozenset[str] = frozenset()
    ) -> None:
        self._client = client
        self._store_codes = store_location_codes
        self._currency: str | None = None
        self._warehouses: list[dict[str, Any]] | None = None
        self._countries: dict[str, int] = {}
        self._consent: int | bool | None = False  # False: not looked up yet

    async def _read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        offset: int = 0,
        limit: int | None = None,
        order: list[list[str]] | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """search_read; a UserError on a read is a misconfiguration, not a business refusal."""
        try:
            rows = await self._client.call(
                f"model.{model}.search_read", domain, offset, limit, order, fields, context=context
            )
        except BusinessRejection as error:
            raise PermanentBackendError(
                error.message, backend=NAME, vendor_code=error.vendor_code
            ) from error
        return list(rows or [])

    async def currency(self) -> str:
        if self._currency is None:
            await self._client.ensure_session()
            company = self._client.context.get("company")
            rows = await self._read("company.company", [["id", "=", company]], ["currency.code"])
            self._currency = rows[0]["currency."]["code"] if rows else "EUR"
        return self._currency

    async def warehouses(self) -> list[dict[str, Any]]:
        if self._warehouses is None:
            self._warehouses = await self._read(
                "stock.location",
                [["type", "=", "warehouse"]],
                ["code", "name"],
                order=[["code", "ASC"]],
            )
        return self._warehouses

    def location_kind(self, code: str) -> str:
        return "store" if code in self._store_codes else "warehouse"

    async def country_id(self, code: str) -> int:
        if code not in self._countries:
            rows = await self._read("country.country", [["code", "=", code]], ["code"])
            if not rows:
                raise BusinessRejection(f"country {code} is unknown to Tryton", backend=NAME)
            self._countries[code] = int(rows[0]["id"])
        return self._countries[code]

    async def consent_category(self) -> int | None:
        if self._consent is False:
            rows = await self._read(
                "party.category", [["name", "=", "Marketing consent"]], ["name"]
            )
            self._consent = int(rows[0]["id"]) if rows else None
        return (
            self._consent
            if isinstance(self._consent, int) and not isinstance(self._consent, bool)
            else None
        )
