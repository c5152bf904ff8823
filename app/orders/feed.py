"""Reading each backend's feed of order changes (allocated, shipped, cancelled...) and moving
our orders along the state machine. Any worker may read a feed; a lease per tenant and backend
makes one read it at a time, and the cursor is saved with the changes it led to, so a crash
re-reads rather than skips. Duplicates and late updates are ignored by the state machine.

Each change applied means stock moved in the backend: `on_changed(tenant, skus)` is told the
order's SKUs once the change is committed (the composition root drops their cached levels).
A live sale of an order we cancelled as "the backend never had it" is a post that landed
after its cancel: it is cancelled in the backend (one cancel, however often it shows)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app.orders.cancel import request_backend_cancel
from app.orders.events import record_note, record_transition
from app.store.database import Database
from app.store.models import BackendFeed, OrderRow, Tenant
from app.store.types import utcnow
from app.tenancy.bindings import BackendResolver, NoBinding
from contracts.errors import BackendError

log = logging.getLogger("gateway.feed")
PAGE = 200


class FeedPoller:
    def __init__(
        self,
        db: Database,
        backends: BackendResolver,
        owner: str,
        interval: float,
        lease: float = 60.0,
        *,
        on_changed: Callable[[str, list[str]], Awaitable[object]] | None = None,
    ) -> None:
        self._on_changed = on_changed
        self._db = db
        self._backends = backends
        self._owner = owner
        self._interval = interval
        self._lease = lease

    async def poll_all(self) -> int:
        """Read every tenant's feed that is due; returns how many order changes were applied."""
        async with self._db.session() as session:
            tenants = list(
                (await session.scalars(select(Tenant.id).where(Tenant.status == "active"))).all()
            )
        applied = 0
        for tenant_id in tenants:
            try:
                applied += await self.poll(tenant_id)
            except (BackendError, NoBinding) as error:
                log.info(
                    "feed not read", extra={"tenant": tenant_id, "error": type(error).__name__}
                )
        return applied

    async def poll(self, tenant_id: str) -> int:
        backends = await self._backends.for_tenant(tenant_id, fresh=True)
        target = backends.targets["orders"]
        feed_id = await self._claim(tenant_id, target)
        if feed_id is None:
            return 0
        applied = 0
        try:
            async with self._db.session(tenant_id) as session:
                cursor = await session.scalar(
                    select(BackendFeed.cursor).where(BackendFeed.id == feed_id)
                )
            while True:
                page = await backends.orders.order_updates(cursor, PAGE)
                count, skus = await self._apply(tenant_id, page.items, feed_id, page.next_cursor)
                applied += count
                if skus:
                    await self._stock_moved(tenant_id, sorted(skus))
                cursor = page.next_cursor
                if len(page.items) < PAGE:
                    break
        finally:
            await self._release(tenant_id, feed_id)
        return applied

    async def _claim(self, tenant_id: str, target: str) -> int | None:
        now = utcnow()
        async with self._db.session(tenant_id, write=True) as session:
            feed_id = await session.scalar(
                select(BackendFeed.id).where(BackendFeed.target == target)
            )
            if feed_id is None:
                try:
                    async with session.begin_nested():
                        feed = BackendFeed(tenant_id=tenant_id, target=target)
                        session.add(feed)
                        await session.flush()
                        feed_id = feed.id
                except IntegrityError:
                    feed_id = await session.scalar(
                        select(BackendFeed.id).where(BackendFeed.target == target)
                    )
            result = await session.execute(
                update(BackendFeed)
                .where(
                    BackendFeed.id == feed_id,
                    or_(BackendFeed.lease_expires_at.is_(None), BackendFeed.lease_expires_at < now),
                    or_(
                        BackendFeed.polled_at.is_(None),
                        BackendFeed.polled_at < now - timedelta(seconds=self._interval),
                    ),
                )
                .values(
                    lease_owner=self._owner, lease_expires_at=now + timedelta(seconds=self._lease)
                )
                .execution_options(synchronize_session=False)
            )
        return feed_id if int(getattr(result, "rowcount", 0) or 0) == 1 else None

    async def _stock_moved(self, tenant_id: str, skus: list[str]) -> None:
        if self._on_changed is None:
            return
        try:
            await self._on_changed(tenant_id, skus)
        except Exception:  # the change is applied; a cached level lapses by its freshness
            log.warning("could not report moved stock", extra={"tenant": tenant_id}, exc_info=True)

    async def _apply(
        self, tenant_id: str, updates: list[Any], feed_id: int, cursor: str | None
    ) -> tuple[int, set[str]]:
        applied, skus = 0, set[str]()
        async with self._db.session(tenant_id, write=True) as session:
            ids = sorted({u.reference for u in updates})
            orders = (
                {
                    row.id: row
                    for row in (
                        await session.scalars(select(OrderRow).where(OrderRow.id.in_(ids)))
                    ).all()
                }
                if ids
                else {}
            )
            for item in updates:
                order = orders.get(item.reference)
                if order is None:
                    continue  # a sale the gateway did not post (or another tenant's)
                if order.status == "received":
                    # Its post is under way (or awaits a retry after an unclear answer): the
                    # delivery moves it on. Taking it here would make the delivery skip it and
                    # leave the sale half-done (a draft never confirmed).
                    continue
                if order.status == "cancelled" and order.backend_reference is None:
                    if item.status not in ("cancelled", "rejected"):
                        await self._late_sale(session, order, item)
                    continue
                if order.backend_reference is None:
                    order.backend_reference = item.backend_reference
                changed = record_transition(
                    session,
                    order,
                    item.status,
                    cause="backend",
                    correlation_id=order.correlation_id,
                    backend_reference=item.backend_reference,
                    detail={"changed_at": item.changed_at.isoformat(), **item.detail},
                )
                if changed:
                    applied += 1
                    skus.update(line["sku"] for line in order.lines)
            await session.execute(
                update(BackendFeed)
                .where(BackendFeed.id == feed_id)
                .values(cursor=cursor, polled_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        return applied, skus

    @staticmethod
    async def _late_sale(session: Any, order: OrderRow, item: Any) -> None:
        """A sale for an order cancelled as never posted: its post landed after the cancel
        found nothing. Have the backend cancel it (once: a pending cancel is not doubled)."""
        if await request_backend_cancel(session, order, order.correlation_id):
            record_note(
                session,
                order,
                "order.late_sale_found",
                cause="backend",
                correlation_id=order.correlation_id,
                detail={"backend_reference": item.backend_reference, "status": item.status},
            )

    async def _release(self, tenant_id: str, feed_id: int) -> None:
        async with self._db.session(tenant_id, write=True) as session:
            await session.execute(
                update(BackendFeed)
                .where(BackendFeed.id == feed_id, BackendFeed.lease_owner == self._owner)
                .values(lease_owner=None, lease_expires_at=None, polled_at=utcnow())
                .execution_options(synchronize_session=False)
            )
