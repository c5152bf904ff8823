"""Shadow reads during a migration: after a read is served by the current backend, the same
records are read from the candidate in the background and the canonical answers compared.

Never on the channel's path. `observe` does no I/O: whether the tenant is being migrated comes
from the snapshot in `app.tenancy.migration_state`, so a tenant without a migration costs a
dictionary lookup. Comparisons run as tasks with bounded concurrency, each bounded by `timeout`;
when `backlog` of them are already waiting, new ones are dropped, and counted as `dropped`.

Counts are of comparisons: one subject (a product, a stock level, a customer) of one shadowed
read. `compared` = `equal` + `different`; `failed` are comparisons the candidate could not answer
(an error, or no answer within `timeout`: `timed_out`); `dropped` were not attempted.

Differences are recorded per subject: the differing field paths and, for catalog and inventory
only, their two values. Customer values are personal data and are never stored (API.md: personal
data never in logs); their examples carry field names and the customer id only.

Writes the gateway makes to the current backend during the migration (`wrote`) never reach the
candidate, so the differences they cause are drift, not standing differences; they are recorded
as `MigrationWrite`s and told apart when the report is read (`app.tenancy.parity`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.shield.policy import operation
from app.store.database import Database
from app.store.models import MigrationDifference, MigrationTally, MigrationWrite
from app.store.types import utcnow
from app.tenancy.bindings import BackendResolver, BindingStore
from app.tenancy.migration import MigrationService
from app.tenancy.migration_state import ActiveMigration
from app.tenancy.parity import comparable, differences
from contracts.errors import BackendError

log = logging.getLogger("gateway.shadow")

PERSONAL = frozenset({"customers"})  # domains whose values are never stored
MAX_RECORDED = 10_000  # differing subjects recorded per migration and domain
MISSING = "$ (missing in candidate)"

# The candidate's answer for each subject: None when it does not have that record.
CandidateRead = Callable[[Any], Awaitable[dict[str, Any | None]]]


def applies(migration: ActiveMigration, domain: str) -> bool:
    return migration.state == "shadowing" and domain in migration.domains


def _sampled(migration: ActiveMigration) -> bool:
    return migration.sample_rate >= 1.0 or random.random() < migration.sample_rate  # noqa: S311


class ShadowReads:
    def __init__(
        self,
        db: Database,
        migrations: MigrationService,
        bindings: BindingStore,
        backends: BackendResolver,
        *,
        concurrency: int = 8,
        backlog: int = 200,
        timeout: float = 10.0,
    ) -> None:
        self._db = db
        self._migrations = migrations
        self._bindings = bindings
        self._backends = backends
        self._slots = asyncio.Semaphore(concurrency)
        self._backlog = backlog
        self._timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()
        # Comparisons dropped and not yet added to their tally, by (tenant, domain).
        self._dropped: Counter[tuple[str, str]] = Counter()

    @property
    def in_flight(self) -> int:
        """Comparisons queued or running in this process."""
        return len(self._tasks)

    async def observe(
        self, tenant_id: str, domain: str, current: dict[str, Any], read: CandidateRead
    ) -> None:
        """Called after a read was served: compare `current` (subject → canonical answer) with
        what the candidate answers, in the background. Does no I/O and never waits."""
        migration = self._migrations.states.peek(tenant_id)
        if migration is None or not current:
            return
        sampled = isinstance(migration, ActiveMigration)  # else decided once it is known
        if isinstance(migration, ActiveMigration) and not (
            applies(migration, domain) and _sampled(migration)
        ):
            return
        if len(self._tasks) >= self._backlog:
            self._dropped[(tenant_id, domain)] += len(current)
            return
        self._spawn(self._compare(tenant_id, domain, current, read, sampled=sampled))

    async def wrote(self, tenant_id: str, domain: str, subjects: dict[str, list[str]]) -> None:
        """The gateway wrote these subjects (subject → top-level fields, or ["*"]) to the
        current backend. Remembered while the tenant's migration shadows `domain`."""
        if not subjects:
            return
        migration = await self._migrations.active(tenant_id)
        if migration is None or not applies(migration, domain):
            return
        for _ in range(3):  # two replicas may mark the same subject at the same moment
            try:
                await self._mark(migration.id, domain, subjects)
                return
            except IntegrityError:
                continue
        log.warning(
            "could not record a write during a migration", extra={"migration": migration.id}
        )

    async def drain(self) -> None:
        """Wait for the comparisons in flight and count what was dropped (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._flush_drops()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:  # our database, say
            log.warning("a shadow comparison was lost", exc_info=task.exception())
        if self._dropped and not self._tasks:  # nobody left to count the drops: do it now
            flush = asyncio.ensure_future(self._flush_drops())
            self._tasks.add(flush)
            flush.add_done_callback(self._tasks.discard)

    async def _compare(
        self,
        tenant_id: str,
        domain: str,
        current: dict[str, Any],
        read: CandidateRead,
        *,
        sampled: bool,
    ) -> None:
        migration = await self._migrations.active(tenant_id)
        if migration is None or not applies(migration, domain):
            return
        if not sampled and not _sampled(migration):
            return
        async with self._slots:
            try:
                answers = await self._ask(migration, read)
            except TimeoutError:
                await self._tally(migration.id, domain, failed=len(current), timed_out=len(current))
                return
            except (BackendError, OSError) as error:
                log.info(
                    "shadow read failed",
                    extra={"migration": migration.id, "error": type(error).__name__},
                )
                await self._tally(migration.id, domain, failed=len(current))
                return
            except Exception:  # a candidate adapter's bug is tallied, never raised here
                log.exception("shadow read crashed", extra={"migration": migration.id})
                await self._tally(migration.id, domain, failed=len(current))
                return
            equal = different = 0
            for subject, answer in current.items():
                mine, theirs = comparable(answer), comparable(answers.get(subject))
                if mine == theirs:
                    equal += 1
                    continue
                different += 1
                await self._record(migration.id, domain, subject, mine, theirs)
            await self._tally(migration.id, domain, equal=equal, different=different)
        await self._flush_drops()

    async def _ask(self, migration: ActiveMigration, read: CandidateRead) -> dict[str, Any]:
        secrets = self._bindings.decrypt_secrets(migration.tenant_id, migration.secrets_encrypted)
        candidate = await self._backends.instance(migration.adapter, migration.settings, secrets)
        with operation():
            async with asyncio.timeout(self._timeout):
                return await read(candidate)

    async def _flush_drops(self) -> None:
        if not self._dropped:
            return
        dropped, self._dropped = self._dropped, Counter()
        for (tenant_id, domain), count in dropped.items():
            migration = await self._migrations.active(tenant_id)
            if migration is not None and applies(migration, domain):
                await self._tally(migration.id, domain, dropped=count)

    async def _tally(
        self,
        migration_id: str,
        domain: str,
        *,
        equal: int = 0,
        different: int = 0,
        failed: int = 0,
        timed_out: int = 0,
        dropped: int = 0,
    ) -> None:
        t = MigrationTally
        async with self._db.session(write=True) as session:
            await session.execute(
                update(t)
                .where(t.migration_id == migration_id, t.domain == domain)
                .values(
                    compared=t.compared + equal + different,
                    equal=t.equal + equal,
                    different=t.different + different,
                    failed=t.failed + failed,
                    timed_out=t.timed_out + timed_out,
                    dropped=t.dropped + dropped,
                )
            )

    async def _record(
        self, migration_id: str, domain: str, subject: str, current: Any, candidate: Any
    ) -> None:
        if candidate is None:
            fields, mine, theirs = [MISSING], {}, {}
        else:
            found = differences(current, candidate)
            fields = [path for path, _, _ in found][:50]
            personal = domain in PERSONAL
            mine = {} if personal else {path: a for path, a, _ in found[:50]}
            theirs = {} if personal else {path: b for path, _, b in found[:50]}
        d = MigrationDifference
        try:
            async with self._db.session(write=True) as session:
                existing = await session.scalar(
                    select(d).where(
                        d.migration_id == migration_id, d.domain == domain, d.subject == subject
                    )
                )
                if existing is not None:
                    existing.fields, existing.current, existing.candidate = fields, mine, theirs
                    existing.observed_at = utcnow()
                    return
                count = await session.scalar(
                    select(func.count())
                    .select_from(d)
                    .where(d.migration_id == migration_id, d.domain == domain)
                )
                if (count or 0) < MAX_RECORDED:
                    session.add(
                        d(
                            migration_id=migration_id,
                            domain=domain,
                            subject=subject[:200],
                            fields=fields,
                            current=mine,
                            candidate=theirs,
                        )
                    )
        except IntegrityError:
            pass  # another replica recorded the same subject at the same moment

    async def _mark(self, migration_id: str, domain: str, subjects: dict[str, list[str]]) -> None:
        w = MigrationWrite
        async with self._db.session(write=True) as session:
            rows = {
                row.subject: row
                for row in (
                    await session.scalars(
                        select(w).where(
                            w.migration_id == migration_id,
                            w.domain == domain,
                            w.subject.in_([s[:200] for s in subjects]),
                        )
                    )
                ).all()
            }
            for subject, fields in subjects.items():
                row = rows.get(subject[:200])
                if row is None:
                    session.add(
                        w(
                            migration_id=migration_id,
                            domain=domain,
                            subject=subject[:200],
                            fields=sorted(set(fields)),
                        )
                    )
                elif not set(fields) <= set(row.fields):
                    row.fields = sorted(set(row.fields) | set(fields))
