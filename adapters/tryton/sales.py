"""Orders as Tryton sales: `reference` carries our order id, so a repeated post finds the sale
made before instead of creating a second one. A new sale is quoted and confirmed at once; a
business refusal deletes the draft it left behind."""

from __future__ import annotations

from typing import Any

from adapters.tryton.base import ALL
from adapters.tryton.errors import NAME
from adapters.tryton.sale_status import SALE_FIELDS, SaleStatusPart
from contracts.backend import SaleReceipt, SaleRequest
from contracts.errors import BusinessRejection
from contracts.v1 import Address

# The step that moves a sale on from each state we post through, and where it lands.
STEPS = {"draft": ("quote", "quotation"), "quotation": ("confirm", "confirmed")}


class SalesPart(SaleStatusPart):
    async def submit_order(self, sale: SaleRequest) -> SaleReceipt:
        existing = await self._sales(sale.reference)
        if existing:
            return await self._advance(existing[0], created=False)
        party = await self._read("party.party", [["code", "=", sale.customer_key]], ["code"])
        if not party:
            raise BusinessRejection(
                "unknown customer",
                reasons=[f"customer {sale.customer_key} does not exist"],
                backend=NAME,
            )
        products = await self._read(
            "product.product",
            [["code", "in", [line.sku for line in sale.lines]]],
            ["code", "default_uom", "salable"],
            context=ALL,
        )
        by_sku = {p["code"]: p for p in products}
        unknown = sorted({line.sku for line in sale.lines if line.sku not in by_sku})
        if unknown:
            raise BusinessRejection(
                "unknown products",
                reasons=[f"SKU {sku} is not sold" for sku in unknown],
                backend=NAME,
            )
        party_id = party[0]["id"]
        shipment = await self._address_for(party_id, sale.shipping_address)
        invoice = (
            await self._address_for(party_id, sale.billing_address)
            if sale.billing_address
            else shipment
        )
        lines = [
            {
                "type": "line",
                "product": by_sku[line.sku]["id"],
                "quantity": line.quantity,
                "unit": by_sku[line.sku]["default_uom"],
                "unit_price": line.unit_price.value,
            }
            for line in sale.lines
        ]
        [sale_id] = await self._client.call(
            "model.sale.sale.create",
            [
                {
                    "party": party_id,
                    "reference": sale.reference,
                    "description": f"{sale.channel} {sale.external_reference}"[:200],
                    "sale_date": sale.placed_at.date(),
                    "invoice_address": invoice,
                    "shipment_address": shipment,
                    "lines": [["create", lines]],
                }
            ],
        )
        # Two posts racing past the lookup above would both create: keep the oldest only.
        found = await self._sales(sale.reference)
        keeper = found[0]
        if keeper["id"] != sale_id:
            await self._delete_draft(sale_id)
            return await self._advance(keeper, created=False)
        return await self._advance(keeper, created=True)

    async def get_order(self, reference: str) -> SaleReceipt | None:
        found = await self._sales(reference)
        return await self._receipt(found[0], created=False) if found else None

    async def cancel_order(self, reference: str) -> SaleReceipt | None:
        """Tryton cancels draft and quoted sales; it refuses a confirmed one (its shipment
        must be handled in Tryton), and that refusal is reported as Tryton words it."""
        found = await self._sales(reference)
        if not found:
            return None
        if found[0]["state"] != "cancelled":
            await self._client.call("model.sale.sale.cancel", [found[0]["id"]])
        [fresh] = await self._read("sale.sale", [["id", "=", found[0]["id"]]], SALE_FIELDS)
        return await self._receipt(fresh, created=False)

    async def _advance(self, sale: dict[str, Any], *, created: bool) -> SaleReceipt:
        """Quote and confirm a sale left in draft or quotation (also after a crash midway).
        A refused step is read again first: if a concurrent post of the same order moved the
        sale on meanwhile, that is no refusal (and the sale is not ours to delete); only a
        draft or quotation that stays refused is removed."""
        for _ in range(4):
            state = sale["state"]
            step = STEPS.get(state)
            if step is None:
                break
            try:
                await self._client.call(f"model.sale.sale.{step[0]}", [sale["id"]])
                sale = {**sale, "state": step[1]}
            except BusinessRejection:
                rows = await self._read("sale.sale", [["id", "=", sale["id"]]], SALE_FIELDS)
                if rows and rows[0]["state"] not in (state, "cancelled"):
                    sale = rows[0]  # moved on by someone else: take it from there
                    continue
                if rows and rows[0]["state"] == state:
                    await self._delete_draft(sale["id"])
                raise
        [fresh] = await self._read("sale.sale", [["id", "=", sale["id"]]], SALE_FIELDS)
        return await self._receipt(fresh, created=created)

    async def _delete_draft(self, sale_id: int) -> None:
        rows = await self._read("sale.sale", [["id", "=", sale_id]], ["state"])
        if rows and rows[0]["state"] == "quotation":
            await self._client.call("model.sale.sale.draft", [sale_id])
        if rows:
            await self._client.call("model.sale.sale.delete", [sale_id])

    async def _sales(self, reference: str) -> list[dict[str, Any]]:
        return await self._read(
            "sale.sale", [["reference", "=", reference]], SALE_FIELDS, order=[["id", "ASC"]]
        )

    async def _address_for(self, party_id: int, address: Address) -> int:
        street = "\n".join(part for part in (address.line1, address.line2) if part)
        country = await self.country_id(address.country)
        rows = await self._read(
            "party.address",
            [
                ["party", "=", party_id],
                ["street_unstructured", "=", street],
                ["postal_code", "=", address.postal_code],
                ["city", "=", address.city],
                ["country", "=", country],
            ],
            ["id"],
        )
        if rows:
            return int(rows[0]["id"])
        [created] = await self._client.call(
            "model.party.address.create",
            [
                {
                    "party": party_id,
                    "party_name": f"{address.first_name} {address.last_name}",
                    "street_unstructured": street,
                    "postal_code": address.postal_code,
                    "city": address.city,
                    "country": country,
                }
            ],
        )
        return int(created)

    async def _receipt(self, sale: dict[str, Any], *, created: bool) -> SaleReceipt:
        statuses = await self._statuses([sale])
        return SaleReceipt(
            reference=sale["reference"],
            backend_reference=sale.get("number") or f"sale-{sale['id']}",
            status=statuses[sale["id"]],
            external_ids={NAME: str(sale["id"])},
            created=created,
        )
