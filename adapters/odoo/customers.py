"""Customers as Odoo contacts: `ref` = customer number, the contact's own address first and its
delivery children after it, marketing consent as a partner category."""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.odoo.base import OdooBase
from adapters.odoo.mapping import (
    ADDRESS_FIELDS,
    FORMAT,
    PARTNER_FIELDS,
    partner_address_values,
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
from contracts.v1 import Address

CONTACTS: list[Any] = [["ref", "!=", False], ["parent_id", "=", False]]


class CustomersPart(OdooBase):
    async def list_customers(self, query: CustomerQuery) -> RecordPage[CustomerRecord]:
        domain: list[Any] = list(CONTACTS)
        if query.email:
            domain.append(["email", "=ilike", query.email])
        if query.phone:
            domain.append(["phone", "=", query.phone])
        if query.updated_since:
            since = query.updated_since.strftime(FORMAT)
            domain += ["|", ["write_date", ">=", since], ["create_date", ">=", since]]
        if query.cursor:
            domain.append(["ref", ">", query.cursor])
        partners = await self._read(
            "res.partner", domain, PARTNER_FIELDS, limit=query.limit + 1, order="ref asc"
        )
        page, more = partners[: query.limit], len(partners) > query.limit
        return RecordPage(
            items=await self._customers(page), next_cursor=page[-1]["ref"] if more else None
        )

    async def get_customer(self, key: str) -> CustomerRecord | None:
        partner = await self._partner(key)
        return (await self._customers([partner]))[0] if partner else None

    async def create_customer(self, draft: CustomerDraft) -> CustomerRecord:
        existing = await self.get_customer(draft.key)
        if existing is not None:
            return existing  # the key makes creation idempotent
        values: dict[str, Any] = {
            "name": f"{draft.first_name} {draft.last_name}",
            "ref": draft.key,
            "email": draft.email,
            "phone": draft.phone or False,
            "customer_rank": 1,
            "type": "contact",
        }
        if draft.addresses:
            first = draft.addresses[0]
            values.update(partner_address_values(first, await self.country_id(first.country)))
        consent = await self.consent_category()
        if draft.marketing_consent and consent is not None:
            values["category_id"] = [[6, 0, [consent]]]
        partner_id = await self._client.execute("res.partner", "create", values)
        await self._add_deliveries(int(partner_id), draft.addresses[1:])
        # Two creates racing past the lookup above would both succeed: keep the oldest.
        twins = await self._read(
            "res.partner", [["ref", "=", draft.key], *CONTACTS[1:]], ["id"], order="id asc"
        )
        if len(twins) > 1:
            await self._client.execute("res.partner", "unlink", [t["id"] for t in twins[1:]])
        created = await self.get_customer(draft.key)
        assert created is not None
        return created

    async def update_customer(self, key: str, changes: CustomerChanges) -> CustomerRecord | None:
        partner = await self._partner(key)
        if partner is None:
            return None
        values: dict[str, Any] = {}
        if changes.first_name is not msgspec.UNSET or changes.last_name is not msgspec.UNSET:
            first, last = split_name(partner.get("name") or "")
            first = changes.first_name if isinstance(changes.first_name, str) else first
            last = changes.last_name if isinstance(changes.last_name, str) else last
            values["name"] = f"{first} {last}"
        if isinstance(changes.email, str):
            values["email"] = changes.email
        if changes.phone is not msgspec.UNSET:
            values["phone"] = changes.phone or False
        consent = await self.consent_category()
        if isinstance(changes.marketing_consent, bool) and consent is not None:
            values["category_id"] = [[4 if changes.marketing_consent else 3, consent]]
        if isinstance(changes.addresses, list):
            # Past orders may cite delivery addresses: archive the old ones, never delete.
            children = await self._read(
                "res.partner",
                [["parent_id", "=", partner["id"]], ["type", "=", "delivery"]],
                ["id"],
            )
            if children:
                await self._client.execute(
                    "res.partner", "write", [c["id"] for c in children], {"active": False}
                )
            if changes.addresses:
                main = changes.addresses[0]
                values.update(partner_address_values(main, await self.country_id(main.country)))
            else:
                values.update({"street": False, "street2": False, "city": False, "zip": False})
            await self._add_deliveries(partner["id"], changes.addresses[1:])
        if values:
            await self._client.execute("res.partner", "write", [partner["id"]], values)
        return await self.get_customer(key)

    async def _add_deliveries(self, partner_id: int, addresses: list[Address]) -> None:
        for address in addresses:
            values = partner_address_values(address, await self.country_id(address.country))
            values.update(
                {
                    "parent_id": partner_id,
                    "type": "delivery",
                    "name": f"{address.first_name} {address.last_name}",
                }
            )
            await self._client.execute("res.partner", "create", values)

    async def _partner(self, key: str) -> dict[str, Any] | None:
        rows = await self._read(
            "res.partner",
            [["ref", "=", key], *CONTACTS[1:]],
            PARTNER_FIELDS,
            limit=1,
            order="id asc",
        )
        return rows[0] if rows else None

    async def _customers(self, partners: list[dict[str, Any]]) -> list[CustomerRecord]:
        if not partners:
            return []
        children = await self._read(
            "res.partner",
            [["parent_id", "in", [p["id"] for p in partners]]],
            ADDRESS_FIELDS,
            order="id asc",
        )
        by_parent: dict[int, list[dict[str, Any]]] = {}
        for child in children:
            by_parent.setdefault(child["parent_id"][0], []).append(child)
        countries = await self.country_codes()
        consent = await self.consent_category()
        return [to_customer(p, by_parent.get(p["id"], []), countries, consent) for p in partners]
