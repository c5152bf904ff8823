"""Idempotency keys for creates, as Stripe does them: the first response to a key is kept for
24 h and replayed for the same request; the same key with another body is refused (422);
while the first is still being processed, a repeat gets 409.

Records live in the database, scoped by tenant and client, so every replica sees them. The
in-flight lock lapses after `lock_seconds`, so a request whose process died can be retried.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.problems import (
    IdempotencyInFlight,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InvalidRequest,
)
from app.store.database import Database, insert_for
from app.store.models import IdempotencyRecord
from app.store.types import utcnow

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """The right to process one keyed request; `complete` it with the response."""

    tenant_id: str
    client_id: str
    key: str


def parse_key(value: str | None, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise IdempotencyKeyRequired(
                "send an `Idempotency-Key` header (at most 255 characters)"
            )
        return None
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidRequest(f"`Idempotency-Key` is longer than {MAX_KEY_LENGTH} characters")
    if not value.isprintable() or not value.isascii():
        raise InvalidRequest("`Idempotency-Key` must be printable ASCII")
    return value


def fingerprint(method: str, path: str, raw_body: bytes) -> str:
    """The same request, whatever its whitespace or key order."""
    try:
        canonical = msgspec.json.encode(msgspec.json.decode(raw_body), order="sorted")
    except msgspec.DecodeError:
        canonical = raw_body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


class IdempotencyStore:
    def __init__(self, db: Database, ttl_seconds: int = 86_400, lock_seconds: int = 30) -> None:
        self._db = db
        self._ttl = timedelta(seconds=ttl_seconds)
        self._lock = timedelta(seconds=lock_seconds)

    async def begin(
        self, tenant_id: str, client_id: str, key: str, request_fingerprint: str
    ) -> IdempotencyClaim | StoredResponse:
        for _ in range(3):
            try:
                return await self._begin(tenant_id, client_id, key, request_fingerprint)
            except IntegrityError:
                continue  # another replica inserted the same key first: read what it wrote
        raise IdempotencyInFlight("a request with this Idempotency-Key is being processed")

    async def _begin(
        self, tenant_id: str, client_id: str, key: str, request_fingerprint: str
    ) -> IdempotencyClaim | StoredResponse:
        now = utcnow()
        async with self._db.session(tenant_id, write=True) as session:
            # The common case, a new key, in one statement; the rest read what is there.
            claimed = await session.scalar(
                insert_for(session)(IdempotencyRecord)
                .values(
                    tenant_id=tenant_id,
                    client_id=client_id,
                    key=key,
                    fingerprint=request_fingerprint,
                    state="in_flight",
                    locked_until=now + self._lock,
                    expires_at=now + self._ttl,
                )
                .on_conflict_do_nothing()
                .returning(IdempotencyRecord.key)
            )
            if claimed is not None:
                return IdempotencyClaim(tenant_id, client_id, key)
            row = await self._find(session, client_id, key)
            if row is not None and row.expires_at <= now:
                await session.delete(row)
                await session.flush()
                row = None
            if row is None:
                session.add(
                    IdempotencyRecord(
                        tenant_id=tenant_id,
                        client_id=client_id,
                        key=key,
                        fingerprint=request_fingerprint,
                        state="in_flight",
                        locked_until=now + self._lock,
                        expires_at=now + self._ttl,
                    )
                )
                await session.flush()
                return IdempotencyClaim(tenant_id, client_id, key)
            if row.fingerprint != request_fingerprint:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was used for a different request; use a new key"
                )
            if row.state == "completed" and row.response_status is not None:
                return StoredResponse(
                    status=row.response_status,
                    body=row.response_body or b"",
                    headers=dict(row.response_headers or {}),
                )
            if row.locked_until > now:
                raise IdempotencyInFlight(
                    "a request with this Idempotency-Key is still being processed; retry shortly",
                    headers={"Retry-After": "1"},
                )
            row.locked_until = now + self._lock  # the first attempt died: take over
            return IdempotencyClaim(tenant_id, client_id, key)

    async def complete(
        self,
        claim: IdempotencyClaim,
        response: StoredResponse,
        session: AsyncSession | None = None,
    ) -> None:
        """Store the response; pass the caller's session to commit it with the caller's work."""
        statement = (
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.client_id == claim.client_id, IdempotencyRecord.key == claim.key
            )
            .values(
                state="completed",
                response_status=response.status,
                response_body=response.body,
                response_headers=response.headers,
            )
            .execution_options(synchronize_session=False)
        )
        if session is not None:
            await session.execute(statement)
            return
        async with self._db.session(claim.tenant_id, write=True) as own:
            await own.execute(statement)

    async def release(self, claim: IdempotencyClaim) -> None:
        """Forget a claim whose request had no effect (it failed validation or the backend
        refused), so the client may retry with the same key."""
        async with self._db.session(claim.tenant_id, write=True) as session:
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.client_id == claim.client_id,
                    IdempotencyRecord.key == claim.key,
                    IdempotencyRecord.state == "in_flight",
                )
            )

    async def prune(self) -> int:
        """Delete expired records of every tenant; returns how many."""
        async with self._db.session(write=True) as session:
            result = await session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow())
            )
        return int(getattr(result, "rowcount", 0) or 0)

    @staticmethod
    async def _find(session: AsyncSession, client_id: str, key: str) -> IdempotencyRecord | None:
        result = await session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
            )
        )
        return result.first()
