"""What the gateway holds of a SKU's stock, and the locks that make deciding on it exact.

A hold counts while its owner does: a reservation while `active` and not past `expires_at`
(expiry needs no sweep to take effect); an order while the backend has not confirmed it
(`received`, `submitted`), and after that until the backend's stock figures are known to
include it. The backend's figures are a snapshot taken at `as_of` (app.inventory.levels, read
through a cache); an order the backend took after that snapshot began is in neither the
snapshot nor, were its hold dropped at once, in our holds. So the hold of an order posted
(its `order.submitted` event, recorded once the backend has the sale) after the snapshot began
keeps counting until a newer snapshot: every order is counted once, by us or by the backend,
never by neither. A delivery therefore need not drop the cached stock of what it posted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.inventory.levels import SkuStock
from app.store.models import OrderEventRow, OrderRow, ReservationRow, StockHold

PENDING_ORDER_STATES = ("received", "submitted")
POSTED = "order.submitted"
# How long the hold of an order the backend took over is kept for the sweep to delete it:
# longer than a stock snapshot is used while the backend answers (the inventory cache keeps
# one fresh for 5 s, then serves it while it refreshes for 5 s more). Older snapshots are
# served only while the backend's stock cannot be read, which is also when orders are not
# being taken over.
HANDOVER = timedelta(minutes=5)
Held = dict[str, dict[str | None, int]]  # sku -> location (None: none) -> quantity held


def lock_names(tenant_id: str, skus: Iterable[str]) -> list[str]:
    return [f"stock:{tenant_id}:{sku}" for sku in skus]


def snapshot_time(stock: Mapping[str, SkuStock], skus: Iterable[str]) -> datetime | None:
    """The oldest snapshot among `skus`' stock: orders taken over since then count as held."""
    times = [stock[sku].as_of for sku in skus if stock[sku].as_of is not None]
    return min(times) if times else None  # type: ignore[type-var]


async def held_now(
    session: AsyncSession,
    skus: Sequence[str],
    now: datetime,
    since: datetime | None,
    *,
    other_than: str | None = None,
) -> Held:
    """What the gateway holds of `skus` now, per location, in the session's tenant, against
    the backend's stock as reported at `since` (None: the backend's figures are not used);
    `other_than` leaves out that order's own holds."""
    held: Held = defaultdict(lambda: defaultdict(int))
    if not skus:
        return held
    counted = [
        and_(ReservationRow.status == "active", ReservationRow.expires_at > now),
        OrderRow.status.in_(PENDING_ORDER_STATES),
    ]
    statement = (
        select(StockHold.sku, StockHold.location_id, func.sum(StockHold.quantity))
        .select_from(StockHold)
        .outerjoin(ReservationRow, ReservationRow.id == StockHold.reservation_id)
        .outerjoin(OrderRow, OrderRow.id == StockHold.order_id)
    )
    if since is not None:
        counted.append(
            exists().where(
                OrderEventRow.order_id == StockHold.order_id,
                OrderEventRow.type == POSTED,
                OrderEventRow.occurred_at > since,
            )
        )
    where = [StockHold.sku.in_(list(skus)), or_(*counted)]
    if other_than is not None:
        where.append(or_(StockHold.order_id.is_(None), StockHold.order_id != other_than))
    rows = await session.execute(
        statement.where(*where).group_by(StockHold.sku, StockHold.location_id)
    )
    for sku, location_id, quantity in rows:
        held[sku][location_id] += int(quantity or 0)
    return held


def finished_holds(now: datetime) -> Any:
    """The holds that can never count again (for the sweep to delete)."""
    return or_(
        StockHold.reservation_id.in_(
            select(ReservationRow.id).where(ReservationRow.status != "active")
        ),
        StockHold.order_id.in_(
            select(OrderRow.id).where(
                OrderRow.status.not_in(PENDING_ORDER_STATES),
                ~exists().where(
                    OrderEventRow.order_id == OrderRow.id,
                    OrderEventRow.type == POSTED,
                    OrderEventRow.occurred_at > now - HANDOVER,
                ),
            )
        ),
    )


@dataclass(frozen=True, slots=True)
class Short:
    sku: str
    location_id: str | None
    requested: int
    available: int


def shortage(item: Short) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "location_id": item.location_id,
        "requested": item.requested,
        "available": item.available,
    }
