"""Which tenants are being migrated, known without I/O on the request path.

Every read served on a cache miss asks whether its tenant has a migration to shadow. The answer
for all tenants at once is one snapshot in process memory: the running migrations (there are
rarely more than a handful), loaded with one query. Tenants without a migration therefore cost a
dictionary lookup, never a query of their own.

The snapshot is dropped when it is known to be wrong: at once in the process that started, cut
over or rolled back a migration, and in every other replica through a message on a Redis channel
(`CHANNEL`, one per Redis database). A replica that lost that channel, or runs without Redis
(the embedded tier is one process; a `gateway migration` command run beside it is picked up
within `ttl_alone`), re-reads the snapshot when it is older than its time to live, in the
background, serving the previous one meanwhile. Nothing here decides where an order goes: the
worker reads the switch from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.store.database import Database
from app.store.models import TenantMigration

log = logging.getLogger("gateway.migrations")

# Pub/sub channels are shared by every database of a Redis server: the channel names its own.
CHANNEL = "rg:migrations:changed:{db}"
ACTIVE = ("shadowing", "switching")
RETRY_AFTER_FAILURE = 1.0  # seconds between attempts to read the snapshot while the DB is away


@dataclass(frozen=True, slots=True)
class ActiveMigration:
    id: str
    tenant_id: str
    state: str
    domains: tuple[str, ...]
    adapter: str
    settings: dict[str, Any]
    secrets_encrypted: str | None
    sample_rate: float


class _Unknown:
    """The snapshot was dropped and is being read again."""


UNKNOWN: Final = _Unknown()


class MigrationStates:
    def __init__(
        self,
        db: Database,
        redis: Redis | None = None,
        *,
        ttl_listening: float = 60.0,
        ttl_alone: float = 5.0,
    ) -> None:
        self._db = db
        self._redis = redis
        number = redis.connection_pool.connection_kwargs.get("db", 0) if redis else 0
        self.channel = CHANNEL.format(db=number)
        self._ttl_listening = ttl_listening
        self._ttl_alone = ttl_alone
        self._snapshot: dict[str, ActiveMigration] | None = None
        self._loaded_at = 0.0
        self._generation = 0  # bumped by every invalidation: a load begun before it is stale
        self._loading: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = False
        self._failed_at = -RETRY_AFTER_FAILURE
        self.loads = 0  # how many times the snapshot was read (tests, telemetry)

    def peek(self, tenant_id: str) -> ActiveMigration | _Unknown | None:
        """The tenant's running migration, None, or UNKNOWN while the snapshot is re-read.
        Never waits; an old snapshot is served while a fresh one loads in the background."""
        snapshot = self._snapshot
        if snapshot is None:
            self._refresh_soon()
            return UNKNOWN
        if time.monotonic() - self._loaded_at > self._ttl():
            self._refresh_soon()
        return snapshot.get(tenant_id)

    async def get(self, tenant_id: str) -> ActiveMigration | None:
        """The tenant's running migration, loading the snapshot first if it was dropped."""
        found = self.peek(tenant_id)
        while isinstance(found, _Unknown):
            await self._load_once()
            found = self.peek(tenant_id)
        return found

    def invalidate(self) -> None:
        self._generation += 1
        self._snapshot = None

    async def changed(self, tenant_id: str) -> None:
        """A migration of `tenant_id` changed here: drop the snapshot here and everywhere."""
        self.invalidate()
        if self._redis is None:
            return
        try:
            await self._redis.publish(self.channel, tenant_id)
        except (RedisError, OSError) as error:  # other replicas catch up within their ttl
            log.warning("could not announce a migration change", extra={"error": str(error)})

    def _ttl(self) -> float:
        return self._ttl_listening if self._subscribed else self._ttl_alone

    def _refresh_soon(self) -> None:
        if self._loading is not None and not self._loading.done():
            return
        if time.monotonic() - self._failed_at < RETRY_AFTER_FAILURE:
            return  # our database is away: do not try again on every request
        self._loading = asyncio.create_task(self._load(), name="migration-states")
        self._loading.add_done_callback(_retrieve)

    async def _load_once(self) -> None:
        self._refresh_soon()
        assert self._loading is not None
        await asyncio.shield(self._loading)

    async def _load(self) -> None:
        generation = self._generation
        try:
            async with self._db.session() as session:  # platform-wide: one query, all tenants
                rows = (
                    await session.scalars(
                        select(TenantMigration).where(TenantMigration.state.in_(ACTIVE))
                    )
                ).all()
        except (DBAPIError, OSError) as error:
            self._failed_at = time.monotonic()
            log.warning("could not read running migrations", extra={"error": type(error).__name__})
            raise
        self.loads += 1
        snapshot = {row.tenant_id: _active(row) for row in rows}
        if generation == self._generation:
            self._snapshot, self._loaded_at = snapshot, time.monotonic()
        else:  # invalidated while loading: what was read may predate the change
            self._loading = None
            self._refresh_soon()

    async def start(self) -> None:
        """Listen for changes made by other replicas (Redis tier)."""
        if self._redis is not None and self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="migration-changes")

    async def stop(self) -> None:
        for task in (self._listener, self._loading):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._listener = self._loading = None
        self._subscribed = False

    @property
    def listening(self) -> bool:
        return self._subscribed

    async def _listen(self) -> None:
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._subscribed = True
                    self.invalidate()  # changes may have been missed while away
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.invalidate()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self._subscribed = False
                log.warning("migration change channel lost; retrying", extra={"error": str(error)})
                await asyncio.sleep(1.0)


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a failed load's error as seen (it was logged; `get` callers see it raised)."""
    if not task.cancelled():
        task.exception()


def _active(row: TenantMigration) -> ActiveMigration:
    return ActiveMigration(
        id=row.id,
        tenant_id=row.tenant_id,
        state=row.state,
        domains=tuple(row.domains),
        adapter=row.target["adapter"],
        settings=dict(row.target["settings"]),
        secrets_encrypted=row.target.get("secrets_encrypted"),
        sample_rate=row.sample_rate,
    )
