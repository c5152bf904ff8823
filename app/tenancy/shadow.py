"""Shadow reads during a migration: after a read is served by the current backend, the same
records are read from the candidate in the background and the canonical answers compared.

Never on the channel's path: comparisons run as tasks with bounded concurrency, and when too
many are queued new ones are dropped (and not counted) rather than slowing anything down.
Fields that legitimately differ between backends (their own ids, timestamps, the name of the
source) are left out of the comparison.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.shield.policy import operation
from app.store.database import Database
from app.store.models import MigrationDifference, MigrationTally
from app.tenancy.bindings import BackendResolver, BindingStore
from app.tenancy.migration import ActiveMigration, MigrationService
from contracts.errors import BackendError

log = logging.getLogger("gateway.shadow")

VOLATILE = frozenset({"external_ids", "updated_at", "created_at", "as_of", "source"})
MAX_EXAMPLES = 50

# The candidate's answer for each subject: None when it does not have that record.
CandidateRead = Callable[[Any], Awaitable[dict[str, Any | None]]]


def comparable(value: Any) -> Any:
    """A canonical answer reduced to what must match across backends."""
    value = msgspec.to_builtins(value)
    return _strip(value)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def differing_fields(current: Any, candidate: Any, prefix: str = "") -> list[str]:
    if isinstance(current, dict) and isinstance(candidate, dict):
        fields: list[str] = []
        for key in sorted(set(current) | set(candidate)):
            fields += differing_fields(
                current.get(key), candidate.get(key), f"{prefix}.{key}" if prefix else key
            )
        return fields
    if isinstance(current, list) and isinstance(candidate, list) and len(current) == len(candidate):
        fields = []
        for index, (a, b) in enumerate(zip(current, candidate, strict=True)):
            fields += differing_fields(a, b, f"{prefix}[{index}]")
        return fields
    return [] if current == candidate else [prefix or "$"]


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

    async def observe(
        self, tenant_id: str, domain: str, current: dict[str, Any], read: CandidateRead
    ) -> None:
        """Called after a read was served: compare `current` (subject → canonical answer) with
        what the candidate answers, in the background."""
        migration = await self._migrations.active(tenant_id)
        if migration is None or migration.state != "shadowing" or domain not in migration.domains:
            return
        if not current or len(self._tasks) >= self._backlog:
            return
        if migration.sample_rate < 1.0 and random.random() >= migration.sample_rate:  # noqa: S311
            return
        task = asyncio.create_task(self._compare(migration, domain, current, read))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the comparisons in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _compare(
        self, migration: ActiveMigration, domain: str, current: dict[str, Any], read: CandidateRead
    ) -> None:
        async with self._slots:
            try:
                secrets = self._bindings.decrypt_secrets(
                    migration.tenant_id, migration.secrets_encrypted
                )
                candidate = await self._backends.instance(
                    migration.adapter, migration.settings, secrets
                )
                with operation():
                    async with asyncio.timeout(self._timeout):
                        answers = await read(candidate)
            except (BackendError, TimeoutError, OSError) as error:
                log.info(
                    "shadow read failed",
                    extra={"migration": migration.id, "error": type(error).__name__},
                )
                await self._tally(migration.id, domain, failed=len(current))
                return
            except Exception:
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

    async def _tally(
        self, migration_id: str, domain: str, *, equal: int = 0, different: int = 0, failed: int = 0
    ) -> None:
        async with self._db.session(write=True) as session:
            await session.execute(
                update(MigrationTally)
                .where(MigrationTally.migration_id == migration_id, MigrationTally.domain == domain)
                .values(
                    compared=MigrationTally.compared + equal + different,
                    equal=MigrationTally.equal + equal,
                    different=MigrationTally.different + different,
                    failed=MigrationTally.failed + failed,
                )
            )

    async def _record(
        self, migration_id: str, domain: str, subject: str, current: Any, candidate: Any
    ) -> None:
        fields = (
            differing_fields(current, candidate)
            if candidate is not None
            else ["$ (missing in candidate)"]
        )
        row_current = current if isinstance(current, dict) else {"value": current}
        row_candidate = candidate if isinstance(candidate, dict) else {"value": candidate}
        try:
            async with self._db.session(write=True) as session:
                existing = await session.scalar(
                    select(MigrationDifference).where(
                        MigrationDifference.migration_id == migration_id,
                        MigrationDifference.domain == domain,
                        MigrationDifference.subject == subject,
                    )
                )
                if existing is not None:
                    existing.fields, existing.current, existing.candidate = (
                        fields,
                        row_current,
                        row_candidate,
                    )
                    return
                count = await session.scalar(
                    select(func.count())
                    .select_from(MigrationDifference)
                    .where(
                        MigrationDifference.migration_id == migration_id,
                        MigrationDifference.domain == domain,
                    )
                )
                if (count or 0) < MAX_EXAMPLES:
                    session.add(
                        MigrationDifference(
                            migration_id=migration_id,
                            domain=domain,
                            subject=subject[:200],
                            fields=fields[:50],
                            current=row_current,
                            candidate=row_candidate,
                        )
                    )
        except IntegrityError:
            pass  # another replica recorded the same subject at the same moment
