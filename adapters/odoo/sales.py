"""Orders as Odoo sale orders: `client_order_ref` carries our order id, so a repeated post finds
the order made before. A new order is confirmed at once; a business refusal cancels and
removes the draft it left behind."""

from __future__ import annotations

import contextlib
from typing import Any

from adapters.odoo.base import ALL
from adapters.odoo.errors import NAME
from adapters.odoo.feed import OrderFeedPart
from adapters.odoo.mapping import FORMAT, partner_address_values, sale_status
from contracts.backend import SaleReceipt, SaleRequest
from contracts.errors import BackendError, BusinessRejection
from contracts.v1 import Address

ORDER_FIELDS = ["name", "state", "client_order_ref", "delivery_status"]
# Odoo 17 answers action_cancel of a confirmed order with a wizard unless told not to.
NO_WIZARD = {"disable_cancel_warning": True}


class SalesPart(OrderFeedPart):
    async def submit_order(self, sale: SaleRequest) -> SaleReceipt:
        existing = await self._orders(sale.reference)
        if existing:
            return await self._advance(existing[0], created=False)
        partners = await self._read(
            "res.partner",
            [["ref", "=", sale.customer_key], ["parent_id", "=", False]],
            ["id"],
            limit=1,
        )
        if not partners:
            raise BusinessRejection(
                "unknown customer",
                reasons=[f"customer {sale.customer_key} does not exist"],
                backend=NAME,
            )
        products = await self._read(
            "product.product",
            [["default_code", "in", [line.sku for line in sale.lines]]],
            ["default_code"],
            context=ALL,
        )
        by_sku = {p["default_code"]: p["id"] for p in products}
        unknown = sorted({line.sku for line in sale.lines if line.sku not in by_sku})
        if unknown:
            raise BusinessRejection(
                "unknown products",
                reasons=[f"SKU {sku} is not sold" for sku in unknown],
                backend=NAME,
            )
        partner_id = partners[0]["id"]
        shipping = await self._delivery_address(partner_id, sale.shipping_address)
        order_id = await self._client.execute(
            "sale.order",
            "create",
            {
                "partner_id": partner_id,
                "partner_shipping_id": shipping,
                "partner_invoice_id": partner_id,
                "client_order_ref": sale.reference,
                "origin": f"{sale.channel} {sale.external_reference}"[:200],
                "date_order": sale.placed_at.strftime(FORMAT),
                "order_line": [
                    [
                        0,
                        0,
                        {
                            "product_id": by_sku[line.sku],
                            "product_uom_qty": line.quantity,
                            "price_unit": float(line.unit_price.value),
                        },
                    ]
                    for line in sale.lines
                ],
            },
        )
        found = await self._orders(sale.reference)
        keeper = found[0]
        if keeper["id"] != order_id:  # a concurrent post got there first
            await self._discard(int(order_id))
            return await self._advance(keeper, created=False)
        return await self._advance(keeper, created=True)

    async def get_order(self, reference: str) -> SaleReceipt | None:
        found = await self._orders(reference)
        return self._receipt(found[0], created=False) if found else None

    async def cancel_order(self, reference: str) -> SaleReceipt | None:
        found = await self._orders(reference)
        if not found:
            return None
        if found[0]["state"] != "cancel":
            await self._client.execute(
                "sale.order", "action_cancel", [found[0]["id"]], context=NO_WIZARD
            )
        [fresh] = await self._read(
            "sale.order", [["id", "=", found[0]["id"]]], ORDER_FIELDS, limit=1
        )
        return self._receipt(fresh, created=False)

    async def _advance(self, order: dict[str, Any], *, created: bool) -> SaleReceipt:
        """Confirm an order left as a quotation. A refusal is read again first: if a
        concurrent post of the same order confirmed it meanwhile, that is no refusal (and the
        order is not ours to discard); only a quotation that stays refused is removed."""
        for _ in range(2):
            state = order["state"]
            if state not in ("draft", "sent"):
                break
            try:
                await self._client.execute("sale.order", "action_confirm", [order["id"]])
            except BusinessRejection:
                rows = await self._read(
                    "sale.order", [["id", "=", order["id"]]], ORDER_FIELDS, limit=1
                )
                if rows and rows[0]["state"] not in (state, "cancel"):
                    order = rows[0]  # moved on by someone else: take it from there
                    continue
                if rows and rows[0]["state"] == state:
                    await self._discard(order["id"])
                raise
            # Confirmed: a sale order now, under the name it was created with (no read-back:
            # one call less per order for an ERP whose quota is the scarce thing).
            return self._receipt({**order, "state": "sale"}, created=created)
        return self._receipt(order, created=created)

    async def _discard(self, order_id: int) -> None:
        with contextlib.suppress(BackendError):
            await self._client.execute("sale.order", "action_cancel", [order_id], context=NO_WIZARD)
        with contextlib.suppress(BackendError):
            await self._client.execute("sale.order", "unlink", [order_id])

    async def _orders(self, reference: str) -> list[dict[str, Any]]:
        return await self._read(
            "sale.order", [["client_order_ref", "=", reference]], ORDER_FIELDS, order="id asc"
        )

    async def _delivery_address(self, partner_id: int, address: Address) -> int:
        country = await self.country_id(address.country)
        values = partner_address_values(address, country)
        domain = [["parent_id", "=", partner_id], ["type", "=", "delivery"]]
        domain += [[key, "=", value] for key, value in values.items()]
        rows = await self._read("res.partner", domain, ["id"], limit=1)
        if rows:
            return int(rows[0]["id"])
        values.update(
            {
                "parent_id": partner_id,
                "type": "delivery",
                "name": f"{address.first_name} {address.last_name}",
            }
        )
        return int(await self._client.execute("res.partner", "create", values))

    @staticmethod
    def _receipt(order: dict[str, Any], *, created: bool) -> SaleReceipt:
        return SaleReceipt(
            reference=order["client_order_ref"],
            backend_reference=order.get("name") or f"sale-{order['id']}",
            status=sale_status(order),
            external_ids={NAME: str(order["id"])},
            created=created,
        )
