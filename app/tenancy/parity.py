"""The parity report of a migration: per domain, the shadow-read counts and the subjects that
differ, each told apart as a standing difference or as drift.

Drift is a difference the migration itself caused: the gateway wrote a subject to the current
backend while shadowing (`MigrationWrite`: a customer created or patched, the customer and SKUs
of an order posted), the candidate never saw that write, so those fields now differ. A
subject's differing fields that a write explains are its `drifted_fields`; a subject is `drift`
when all of them are explained, `standing` when any is not (that one was there regardless).
The classification is made here, when the report is read, so it does not depend on whether the
write or the comparison that saw its effect was recorded first.

Counts (`compared`, `equal`, `different`, `failed`, `timed_out`, `dropped`) are of comparisons;
`standing_subjects` and `drifted_subjects` count subjects. No personal data is read here:
customer examples carry field names only (see `app.tenancy.shadow`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.models import MigrationDifference, MigrationTally, MigrationWrite, TenantMigration

MAX_EXAMPLES = 50  # per domain in the report; standing differences first
# Fields that legitimately differ between backends: their own ids, timestamps, the source.
VOLATILE = frozenset({"external_ids", "updated_at", "created_at", "as_of", "source"})


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
    return [path for path, _, _ in differences(current, candidate, prefix)]


def differences(current: Any, candidate: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(current, dict) and isinstance(candidate, dict):
        found: list[tuple[str, Any, Any]] = []
        for key in sorted(set(current) | set(candidate)):
            found += differences(
                current.get(key), candidate.get(key), f"{prefix}.{key}" if prefix else key
            )
        return found
    if isinstance(current, list) and isinstance(candidate, list) and len(current) == len(candidate):
        found = []
        for index, (a, b) in enumerate(zip(current, candidate, strict=True)):
            found += differences(a, b, f"{prefix}[{index}]")
        return found
    return [] if current == candidate else [(prefix or "$", current, candidate)]


def write_key(domain: str, subject: str) -> str:
    """The subject a write is recorded under: a stock level `SKU@location` is written as
    its SKU (an order moves a SKU's stock wherever the backend takes it from)."""
    return subject.rsplit("@", 1)[0] if domain == "inventory" else subject


def _top(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0].split(" ", 1)[0]


def drifted(fields: list[str], written: list[str] | None) -> list[str]:
    """The differing `fields` explained by writes of these top-level `written` fields."""
    if not written:
        return []
    if "*" in written:
        return list(fields)
    return [path for path in fields if _top(path) in written]


async def parity(session: AsyncSession, migration: TenantMigration) -> dict[str, Any]:
    tallies = (
        await session.scalars(
            select(MigrationTally).where(MigrationTally.migration_id == migration.id)
        )
    ).all()
    differences = (
        await session.scalars(
            select(MigrationDifference)
            .where(MigrationDifference.migration_id == migration.id)
            .order_by(MigrationDifference.domain, MigrationDifference.subject)
        )
    ).all()
    writes = {
        (row.domain, row.subject): list(row.fields)
        for row in (
            await session.scalars(
                select(MigrationWrite).where(MigrationWrite.migration_id == migration.id)
            )
        ).all()
    }
    report: dict[str, Any] = {}
    for tally in sorted(tallies, key=lambda t: t.domain):
        examples = []
        for row in differences:
            if row.domain != tally.domain:
                continue
            written = writes.get((row.domain, write_key(row.domain, row.subject)))
            explained = drifted(row.fields, written)
            examples.append(
                {
                    "subject": row.subject,
                    "kind": "drift" if len(explained) == len(row.fields) else "standing",
                    "fields": row.fields,
                    "drifted_fields": explained,
                    "current": row.current,
                    "candidate": row.candidate,
                    "observed_at": row.observed_at,
                }
            )
        standing = [e for e in examples if e["kind"] == "standing"]
        drift = [e for e in examples if e["kind"] == "drift"]
        report[tally.domain] = {
            "compared": tally.compared,
            "equal": tally.equal,
            "different": tally.different,
            "failed": tally.failed,
            "timed_out": tally.timed_out,
            "dropped": tally.dropped,
            "standing_subjects": len(standing),
            "drifted_subjects": len(drift),
            "examples": (standing + drift)[:MAX_EXAMPLES],
        }
    return report
