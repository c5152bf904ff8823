"""Customers as Tryton parties: code = customer number, e-mail and phone as contact
mechanisms, postal addresses, marketing consent as a party category."""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.tryton.base import TrytonBase
from adapters.tryton.errors import NAME
from adapters.tryton.mapping import (
    ADDRESS_FIELDS,
    PARTY_FIELDS,
    address_values,
    split_name,
    to_customer,
)
from contracts.backend import (
    CustomerChanges,
    CustomerDraft,
    CustomerQuery,
    CustomerRecord,
    RecordPage,
)
from contracts.errors import BusinessRejection
from contracts.v1 import Address

PHONE_TYPES = ["phone", "mobile"]


class CustomersPart(TrytonBase):
    async def list_customers(self, query: CustomerQuery) -> RecordPage[CustomerRecord]:
        domain: list[Any] = [["code", "!=", None]]
        if query.email:
            domain.append(
                [
                    "contact_mechanisms",
                    "where",
                    [["type", "=", "email"], ["value", "ilike", query.email]],
                ]
            )
        if query.phone:
            domain.append(
                [
                    "contact_mechanisms",
                    "where",
                    [["type", "in", PHONE_TYPES], ["value", "=", query.phone]],
                ]
            )
        if query.updated_since:
            domain.append(
                [
                    "OR",
                    ["write_date", ">=", query.updated_since],
                    ["create_date", ">=", query.updated_since],
                ]
            )
        if query.cursor:
            domain.append(["code", ">", query.cursor])
        parties = await self._read(
            "party.party", domain, PARTY_FIELDS, limit=query.limit + 1, order=[["code", "ASC"]]
        )
        page, more = parties[: query.limit], len(parties) > query.limit
        return RecordPage(
            items=await self._customers(page), next_cursor=page[-1]["code"] if more else None
        )

    async def get_customer(self, key: str) -> CustomerRecord | None:
        party = await self._party(key)
        return (await self._customers([party]))[0] if party else None

    async def create_customer(self, draft: CustomerDraft) -> CustomerRecord:
        existing = await self.get_customer(draft.key)
        if existing is not None:
            return existing  # created before: the key makes creation idempotent
        mechanisms = [{"type": "email", "value": draft.email}]
        if draft.phone:
            mechanisms.append({"type": "phone", "value": draft.phone})
        values: dict[str, Any] = {
            "code": draft.key,
            "name": f"{draft.first_name} {draft.last_name}",
            "contact_mechanisms": [["create", mechanisms]],
            "addresses": [["create", [await self._address(a) for a in draft.addresses]]],
        }
        consent = await self.consent_category()
        if draft.marketing_consent and consent is not None:
            values["categories"] = [["add", [consent]]]
        try:
            await self._client.call("model.party.party.create", [values])
        except BusinessRejection:
            if await self._party(draft.key) is None:  # not a lost race on the same code
                raise
        created = await self.get_customer(draft.key)
        assert created is not None
        return created

    async def update_customer(self, key: str, changes: CustomerChanges) -> CustomerRecord | None:
        party = await self._party(key)
        if party is None:
            return None
        values: dict[str, Any] = {}
        first, last = split_name(party.get("name") or "")
        if changes.first_name is not msgspec.UNSET or changes.last_name is not msgspec.UNSET:
            first = changes.first_name if isinstance(changes.first_name, str) else first
            last = changes.last_name if isinstance(changes.last_name, str) else last
            values["name"] = f"{first} {last}"
        mechanisms: list[Any] = []
        if isinstance(changes.email, str):
            mechanisms += await self._set_mechanism(party["id"], ["email"], changes.email)
        if changes.phone is not msgspec.UNSET:
            mechanisms += await self._set_mechanism(party["id"], PHONE_TYPES, changes.phone)
        if mechanisms:
            values["contact_mechanisms"] = mechanisms
        if isinstance(changes.addresses, list):
            # Addresses may be cited by past sales: retire the old ones instead of deleting.
            current = await self._read("party.address", [["party", "=", party["id"]]], ["id"])
            if current:
                await self._client.call(
                    "model.party.address.write", [r["id"] for r in current], {"active": False}
                )
            values["addresses"] = [["create", [await self._address(a) for a in changes.addresses]]]
        consent = await self.consent_category()
        if isinstance(changes.marketing_consent, bool) and consent is not None:
            values["categories"] = [["add" if changes.marketing_consent else "remove", [consent]]]
        if values:
            await self._client.call("model.party.party.write", [party["id"]], values)
        return await self.get_customer(key)

    async def _set_mechanism(self, party_id: int, types: list[str], value: str | None) -> list[Any]:
        rows = await self._read(
            "party.contact_mechanism", [["party", "=", party_id], ["type", "in", types]], ["type"]
        )
        if value is None:
            return [["delete", [r["id"] for r in rows]]] if rows else []
        if rows:
            return [["write", [rows[0]["id"]], {"value": value}]]
        return [["create", [{"type": types[0], "value": value}]]]

    async def _address(self, address: Address) -> dict[str, Any]:
        values = address_values(address)
        values["street_unstructured"] = values.pop("street")
        values["country"] = await self.country_id(address.country)
        return values

    async def _party(self, key: str) -> dict[str, Any] | None:
        rows = await self._read("party.party", [["code", "=", key]], PARTY_FIELDS)
        return rows[0] if rows else None

    async def _customers(self, parties: list[dict[str, Any]]) -> list[CustomerRecord]:
        if not parties:
            return []
        addresses = await self._read(
            "party.address",
            [["party", "in", [p["id"] for p in parties]]],
            ADDRESS_FIELDS,
            order=[["id", "ASC"]],
        )
        by_party: dict[int, list[dict[str, Any]]] = {}
        for address in addresses:
            by_party.setdefault(address["party"], []).append(address)
        consent = await self.consent_category()
        return [to_customer(p, by_party.get(p["id"], []), consent) for p in parties]


__all__ = ["NAME", "CustomersPart"]
