"""A Tryton sale's canonical status, read from the sale and its customer shipments, and the feed
of changes to either.

Tryton moves a sale through `confirmed` and `processing` (its shipments and invoices made) to
`done`; how far its goods went is the sale's `shipment_state` (`waiting`, `partially shipped`,
`sent`) and, before anything left, the state of its customer shipments: one that is
`assigned`, `picked` or `packed` holds the stock, so the order is `allocated`.

Reserving stock writes the shipment, not the sale, so the feed reads two streams in write
order, sales and customer shipments, and reports the sale of each change; its cursor holds a
position in each (`sale stamp|sale id|shipment stamp|shipment id`; a two-part cursor of the
sales alone is still understood). One sale's status is reported once per page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.tryton.base import TrytonBase
from adapters.tryton.mapping import SALE_STATES
from contracts.backend import RecordPage, SaleUpdate
from contracts.v1.orders import OrderStatus

SALE_FIELDS = ["reference", "state", "number", "shipment_state", "shipments"]
HOLDING_STOCK = frozenset({"assigned", "picked", "packed"})
OURS = ["reference", "like", "ord_%"]

Position = tuple[datetime, int] | None


def status_of(sale: dict[str, Any], shipment_states: list[str]) -> OrderStatus:
    if sale["state"] in ("confirmed", "processing"):
        shipped = sale.get("shipment_state")
        if shipped == "sent":
            return "shipped"
        if shipped == "partially shipped":
            return "partially_shipped"
        if HOLDING_STOCK & set(shipment_states):
            return "allocated"
        return "accepted"
    return SALE_STATES.get(sale["state"], "submitted")


def _after(position: Position) -> list[Any]:
    if position is None:
        return [["write_date", "!=", None]]
    when, last = position
    return [
        ["write_date", "!=", None],
        ["OR", ["write_date", ">", when], [["write_date", "=", when], ["id", ">", last]]],
    ]


def _position(stamp: str, row_id: str) -> Position:
    return (datetime.fromisoformat(stamp), int(row_id)) if stamp else None


def _parse(cursor: str | None) -> tuple[Position, Position]:
    if not cursor:
        return None, None
    parts = cursor.split("|")
    sales = _position(parts[0], parts[1])
    if len(parts) < 4:  # a cursor of the sales alone: shipments from the same moment on
        return sales, (sales[0], 0) if sales else None
    return sales, _position(parts[2], parts[3])


def _format(sales: Position, shipments: Position) -> str | None:
    if sales is None and shipments is None:
        return None
    return "|".join(
        f"{position[0].isoformat()}|{position[1]}" if position else "|"
        for position in (sales, shipments)
    )


class SaleStatusPart(TrytonBase):
    async def _shipment_states(self, sales: list[dict[str, Any]]) -> dict[int, list[str]]:
        """The states of the customer shipments of sales whose goods have not left yet."""
        waiting = [s for s in sales if s["state"] in ("confirmed", "processing")]
        ids = sorted({sid for sale in waiting for sid in sale.get("shipments") or []})
        if not ids:
            return {}
        rows = await self._read("stock.shipment.out", [["id", "in", ids]], ["state"])
        states = {row["id"]: row["state"] for row in rows}
        return {
            s["id"]: [states[i] for i in s.get("shipments") or [] if i in states] for s in waiting
        }

    async def _statuses(self, sales: list[dict[str, Any]]) -> dict[int, OrderStatus]:
        shipments = await self._shipment_states(sales)
        return {sale["id"]: status_of(sale, shipments.get(sale["id"], [])) for sale in sales}

    async def order_updates(self, cursor: str | None, limit: int) -> RecordPage[SaleUpdate]:
        """Changes to sales carrying one of our references or to their customer shipments, in
        write order (then id), after `cursor`."""
        after_sales, after_shipments = _parse(cursor)
        order = [["write_date", "ASC"], ["id", "ASC"]]
        sales = await self._read(
            "sale.sale", [OURS, *_after(after_sales)], [*SALE_FIELDS, "write_date"],
            limit=limit, order=order,
        )  # fmt: skip
        shipments = await self._read(
            "stock.shipment.out", _after(after_shipments), ["write_date"], limit=limit, order=order
        )
        of_shipment: dict[int, dict[str, Any]] = {}
        if shipments:
            shipped = await self._read(
                "sale.sale", [OURS, ["shipments", "in", [row["id"] for row in shipments]]],
                SALE_FIELDS,
            )  # fmt: skip
            of_shipment = {sid: sale for sale in shipped for sid in sale["shipments"]}
        changes = sorted(
            [(row["write_date"], 0, row["id"], row) for row in sales]
            + [(row["write_date"], 1, row["id"], of_shipment.get(row["id"])) for row in shipments],
            key=lambda change: change[:3],
        )[:limit]
        statuses = await self._statuses([sale for *_, sale in changes if sale is not None])
        updates: list[SaleUpdate] = []
        reported: set[tuple[int, str]] = set()
        for when, stream, row_id, sale in changes:
            if stream == 0:
                after_sales = (when, row_id)
            else:
                after_shipments = (when, row_id)
            if sale is None or (sale["id"], statuses[sale["id"]]) in reported:
                continue  # a shipment of no sale of ours, or this page said it already
            reported.add((sale["id"], statuses[sale["id"]]))
            updates.append(
                SaleUpdate(
                    reference=sale["reference"],
                    backend_reference=sale.get("number") or f"sale-{sale['id']}",
                    status=statuses[sale["id"]],
                    changed_at=when,
                    detail={
                        "state": sale["state"],
                        "shipment_state": sale.get("shipment_state") or "",
                    },
                )
            )
        return RecordPage(
            items=updates, next_cursor=_format(after_sales, after_shipments) or cursor
        )
