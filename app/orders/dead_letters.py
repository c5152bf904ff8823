"""Dead letters: outbox deliveries an operator must look at (retries exhausted, or a fault no
retry fixes). Listing them, inspecting one with its order and events, and replaying: the
delivery starts again with a fresh attempt budget, and the order says who replayed it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.orders.events import record_note
from app.orders.views import to_event, to_order
from app.problems import Conflict, NotFound
from app.store.database import Database
from app.store.models import OrderEventRow, OrderRow, OutboxEntry
from app.store.types import utcnow


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    tenant_id: str
    kind: str
    order_id: str
    attempts: int
    last_error: str | None
    created_at: datetime
    dead_since: datetime


def _view(entry: OutboxEntry) -> DeadLetter:
    return DeadLetter(
        entry.id,
        entry.tenant_id,
        entry.kind,
        entry.subject_id,
        entry.attempts,
        entry.last_error,
        entry.created_at,
        entry.updated_at,
    )


class DeadLetters:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, tenant_id: str | None, limit: int) -> list[DeadLetter]:
        query = (
            select(OutboxEntry)
            .where(OutboxEntry.state == "dead")
            .order_by(OutboxEntry.updated_at)
            .limit(limit)
        )
        if tenant_id:
            query = query.where(OutboxEntry.tenant_id == tenant_id)
        async with self._db.session() as session:
            return [_view(entry) for entry in (await session.scalars(query)).all()]

    async def inspect(self, entry_id: str) -> dict[str, Any]:
        async with self._db.session() as session:
            entry = await session.get(OutboxEntry, entry_id)
            if entry is None or entry.state != "dead":
                raise NotFound(f"no dead letter {entry_id}")
            order = await session.scalar(select(OrderRow).where(OrderRow.id == entry.subject_id))
            events = (
                await session.scalars(
                    select(OrderEventRow)
                    .where(OrderEventRow.order_id == entry.subject_id)
                    .order_by(OrderEventRow.sequence)
                )
            ).all()
        return {
            "dead_letter": _view(entry),
            "order": to_order(order) if order else None,
            "events": [to_event(event) for event in events],
        }

    async def replay(
        self, entry_ids: list[str], operator: str, tenant_id: str | None = None
    ) -> list[str]:
        """Put dead deliveries back in the outbox (only `tenant_id`'s, when given); returns
        the ids replayed."""
        replayed: list[str] = []
        for entry_id in entry_ids:
            async with self._db.session() as session:
                found = (
                    await session.execute(
                        select(OutboxEntry.tenant_id, OutboxEntry.subject_id).where(
                            OutboxEntry.id == entry_id
                        )
                    )
                ).first()
            if found is None or (tenant_id is not None and found.tenant_id != tenant_id):
                continue
            async with self._db.session(found.tenant_id, write=True) as session:
                # The order first, then its entry: the lock order of a cancel and of every
                # delivery outcome, so none of them waits on another in a circle.
                order = await session.scalar(
                    select(OrderRow).where(OrderRow.id == found.subject_id).with_for_update()
                )
                entry = await session.scalar(
                    select(OutboxEntry).where(OutboxEntry.id == entry_id).with_for_update()
                )
                if entry is None or entry.state != "dead":
                    continue
                entry.state, entry.attempts, entry.available_at = "pending", 0, utcnow()
                entry.lease_owner = entry.lease_expires_at = None
                if order is not None:
                    order.dead_lettered = False
                    record_note(
                        session,
                        order,
                        "order.replayed",
                        cause="operator",
                        correlation_id=order.correlation_id,
                        detail={
                            "dead_letter": entry.id,
                            "operator": operator,
                            "last_error": (entry.last_error or "")[:500],
                        },
                    )
            replayed.append(entry_id)
        return replayed

    async def replay_one(self, entry_id: str, operator: str) -> DeadLetter:
        if not await self.replay([entry_id], operator):
            raise Conflict(f"{entry_id} is not a dead letter (already replayed, or unknown)")
        async with self._db.session() as session:
            entry = await session.get(OutboxEntry, entry_id)
        assert entry is not None
        return _view(entry)

    async def dead_ids(self, tenant_id: str | None) -> list[str]:
        return [letter.id for letter in await self.find(tenant_id, 10_000)]
