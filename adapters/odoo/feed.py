"""The feed of changes to our orders in Odoo: sale orders carrying one of our references, in
write order (then id).

Odoo's external API gives `write_date` to the second ("2026-11-28 10:00:00"), and an order is
often written twice within one (confirmed, then its delivery validated). Resuming strictly
after the last (stamp, id) would never see the second write, so the feed resumes at the last
second itself and leaves out what it already reported there: the cursor is
`stamp|last id|id:status,id:status...` for the orders reported at that second. An order
written again within that second with a new status is reported; the same status is not
repeated. (A two-part cursor, `stamp|id`, is still read as before.)
"""

from __future__ import annotations

from typing import Any

from adapters.odoo.base import OdooBase
from adapters.odoo.mapping import sale_status, when
from contracts.backend import RecordPage, SaleUpdate

FEED_FIELDS = ["name", "state", "client_order_ref", "delivery_status", "write_date"]


def _parse(cursor: str) -> tuple[str, int, set[tuple[int, str]] | None]:
    stamp, _, rest = cursor.partition("|")
    last, marked, marks = rest.partition("|")
    if not marked:  # a two-part cursor
        return stamp, int(last), None
    seen = set()
    for mark in filter(None, marks.split(",")):
        row_id, _, status = mark.partition(":")
        seen.add((int(row_id), status))
    return stamp, int(last), seen


class OrderFeedPart(OdooBase):
    async def order_updates(self, cursor: str | None, limit: int) -> RecordPage[SaleUpdate]:
        """Orders carrying one of our references changed after `cursor`, oldest first."""
        domain: list[Any] = [["client_order_ref", "=like", "ord_%"]]
        at: str | None = None
        reported: set[tuple[int, str]] = set()
        if cursor:
            at, last_id, seen = _parse(cursor)
            if seen is None:  # strictly after (stamp, id), as two-part cursors meant
                domain += ["|", ["write_date", ">", at], "&", ["write_date", "=", at]]
                domain.append(["id", ">", last_id])
                at = None
            else:
                domain.append(["write_date", ">=", at])
                reported = seen
        rows = await self._read(
            "sale.order",
            domain,
            FEED_FIELDS,
            limit=limit + len(reported),
            order="write_date asc, id asc",
        )
        updates: list[SaleUpdate] = []
        last = 0
        for row in rows:
            written, status = str(row["write_date"]), sale_status(row)
            if written == at and (row["id"], status) in reported:
                continue  # reported at this second already
            if len(updates) == limit:
                break
            if written != at:
                at, reported = written, set()
            reported.add((row["id"], status))
            last = row["id"]
            updates.append(
                SaleUpdate(
                    reference=row["client_order_ref"],
                    backend_reference=row.get("name") or f"sale-{row['id']}",
                    status=status,
                    changed_at=when(row["write_date"]),
                    detail={
                        "state": row["state"],
                        "delivery_status": row.get("delivery_status") or "",
                    },
                )
            )
        if not updates:
            return RecordPage(items=[], next_cursor=cursor)
        marks = ",".join(f"{row_id}:{status}" for row_id, status in sorted(reported))
        return RecordPage(items=updates, next_cursor=f"{at}|{last}|{marks}")
