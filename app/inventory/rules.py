"""A tenant's channel availability rules, and the figures of what stock holding came to: kept
in the database, so every replica applies and counts the same.

The figures are counted from what happened, not kept as counters beside it: each reservation
is a row (created, then released, expired or consumed; a refused one is a row too) and each
oversold order has its `order.oversold` event. Counting them when the figures are asked for
keeps them exact without a shared row that every reservation of a channel would have to lock."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.inventory.availability import ChannelRule
from app.store.database import Database, insert_for
from app.store.models import AvailabilityRuleRow, OrderEventRow, OrderRow, ReservationRow
from app.store.types import utcnow

BASIS_POINTS = 10_000
COUNTERS = (
    "reservations_created",
    "reservations_refused",
    "reservations_released",
    "reservations_expired",
    "reservations_consumed",
    "orders_oversold",
)


def to_rule(row: AvailabilityRuleRow) -> ChannelRule:
    return ChannelRule(
        channel=row.channel,
        allocation_share=Decimal(row.allocation_bp) / BASIS_POINTS,
        reserve_threshold=row.reserve_threshold,
        safety_stock=row.safety_stock,
        excluded_locations=frozenset(row.excluded_locations),
    )


class AvailabilityRules:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def rule_for(
        self, tenant_id: str, channel: str, session: AsyncSession | None = None
    ) -> ChannelRule:
        """The channel's rule; a channel without one is shown everything."""
        statement = select(AvailabilityRuleRow).where(AvailabilityRuleRow.channel == channel)
        if session is not None:
            row = await session.scalar(statement)
        else:
            async with self._db.session(tenant_id) as own:
                row = await own.scalar(statement)
        return to_rule(row) if row is not None else ChannelRule(channel=channel)

    async def list(self, tenant_id: str) -> list[ChannelRule]:
        async with self._db.session(tenant_id) as session:
            rows = await session.scalars(
                select(AvailabilityRuleRow).order_by(AvailabilityRuleRow.channel)
            )
            return [to_rule(row) for row in rows]

    async def put(self, tenant_id: str, rule: ChannelRule) -> ChannelRule:
        values = {
            "allocation_bp": int(rule.allocation_share * BASIS_POINTS),
            "reserve_threshold": rule.reserve_threshold,
            "safety_stock": rule.safety_stock,
            "excluded_locations": sorted(rule.excluded_locations),
            "updated_at": utcnow(),
        }
        async with self._db.session(tenant_id, write=True) as session:
            statement = insert_for(session)(AvailabilityRuleRow).values(
                tenant_id=tenant_id, channel=rule.channel, created_at=utcnow(), **values
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["tenant_id", "channel"], set_=values
                )
            )
        return rule

    async def remove(self, tenant_id: str, channel: str) -> bool:
        async with self._db.session(tenant_id, write=True) as session:
            result = await session.execute(
                delete(AvailabilityRuleRow)
                .where(AvailabilityRuleRow.channel == channel)
                .execution_options(synchronize_session=False)
            )
        return bool(getattr(result, "rowcount", 0))


class InventoryFigures:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_channel(self, tenant_id: str) -> dict[str, dict[str, int]]:
        """Every figure of the tenant, per channel (0 where nothing happened yet)."""
        now = utcnow()
        # An active reservation past its time has expired, swept or not.
        outcome = case(
            (
                and_(ReservationRow.status == "active", ReservationRow.expires_at <= now),
                "expired",
            ),
            else_=ReservationRow.status,
        )
        figures: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
        async with self._db.session(tenant_id) as session:
            reservations = await session.execute(
                select(ReservationRow.channel, outcome, func.count()).group_by(
                    ReservationRow.channel, outcome
                )
            )
            for channel, status, count in reservations:
                row = figures[channel]
                if status == "refused":
                    row["reservations_refused"] += count
                    continue
                row["reservations_created"] += count
                if status in ("released", "expired", "consumed"):
                    row[f"reservations_{status}"] += count
            oversold = await session.execute(
                select(OrderRow.channel, func.count(func.distinct(OrderEventRow.order_id)))
                .select_from(OrderEventRow)
                .join(OrderRow, OrderRow.id == OrderEventRow.order_id)
                .where(OrderEventRow.type == "order.oversold")
                .group_by(OrderRow.channel)
            )
            for channel, count in oversold:
                figures[channel]["orders_oversold"] += count
        return dict(sorted(figures.items()))
