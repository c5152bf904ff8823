"""A tenant's channel availability rules and the counters of what stock holding came to: kept
in the database, so every replica applies and counts the same."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.inventory.availability import ChannelRule
from app.store.database import Database, insert_for
from app.store.models import AvailabilityRuleRow, InventoryCounter
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

    @staticmethod
    async def add(
        session: AsyncSession, tenant_id: str, channel: str, name: str, count: int = 1
    ) -> None:
        """Count `name` up by `count`, in the caller's transaction."""
        assert name in COUNTERS, name
        statement = insert_for(session)(InventoryCounter).values(
            tenant_id=tenant_id, channel=channel, name=name, value=count
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "channel", "name"],
                set_={"value": InventoryCounter.value + count},
            )
        )

    async def add_alone(self, tenant_id: str, channel: str, name: str, count: int = 1) -> None:
        async with self._db.session(tenant_id, write=True) as session:
            await self.add(session, tenant_id, channel, name, count)

    async def by_channel(self, tenant_id: str) -> dict[str, dict[str, int]]:
        """Every counter of the tenant, per channel (0 where nothing happened yet)."""
        async with self._db.session(tenant_id) as session:
            rows = await session.execute(
                select(InventoryCounter.channel, InventoryCounter.name, InventoryCounter.value)
            )
            figures: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
            for channel, name, value in rows:
                figures[channel][name] = value
        return dict(sorted(figures.items()))
