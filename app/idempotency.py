"""Idempotency keys for creates, as Stripe does them: the first response to a key is kept for
24 h and replayed for the same request; the same key with another body is refused (422);
while the first is still being processed, a repeat gets 409.

Records live in the database, scoped by tenant and client, so every replica sees them. A create
whose whole effect is in our database (an order, a reservation) claims its key inside its own
transaction (`claim_in`): the record is written with the order and its answer, in one commit,
and while that transaction runs, a PostgreSQL advisory lock on the key (taken without waiting)
tells any replica the key is in flight. A create with an effect elsewhere (a customer written
to the backend) claims the key first in a transaction of its own (`begin`); that in-flight
record lapses after `lock_seconds`, so a request whose process died can be retried.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import delete, select, text, update
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
    # Read back from an earlier request with the key (never stored itself).
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """One keyed request: the right to process it once `begin` or `claim_in` granted it;
    `complete` it with the response."""

    tenant_id: str
    client_id: str
    key: str
    fingerprint: str


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
        """Claim the key in a transaction of its own (for work with effects outside the
        database): the claim, or the response to replay."""
        claim = IdempotencyClaim(tenant_id, client_id, key, request_fingerprint)
        for _ in range(3):
            try:
                async with self._db.session(tenant_id, write=True) as session:
                    replay = await self.claim_in(session, claim)
                return replay if replay is not None else claim
            except IntegrityError:
                continue  # another replica inserted the same key first: read what it wrote
        raise IdempotencyInFlight("a request with this Idempotency-Key is being processed")

    async def claim_in(
        self, session: AsyncSession, claim: IdempotencyClaim
    ) -> StoredResponse | None:
        """Claim the key in the caller's transaction: None to go ahead (the record commits
        with the caller's work, or vanishes with it), else the stored response to replay.
        Raises 409 while another request with the key is in flight, 422 for another body."""
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            # Held until this transaction ends, on every replica; never waited for.
            locked = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))"),
                {"name": f"idem:{claim.tenant_id}:{claim.client_id}:{claim.key}"},
            )
            if not locked:
                raise IdempotencyInFlight(
                    "a request with this Idempotency-Key is still being processed; retry shortly",
                    headers={"Retry-After": "1"},
                )
        now = utcnow()
        # The common case, a new key, in one statement; the rest read what is there.
        claimed = await session.scalar(
            insert_for(session)(IdempotencyRecord)
            .values(
                tenant_id=claim.tenant_id,
                client_id=claim.client_id,
                key=claim.key,
                fingerprint=claim.fingerprint,
                state="in_flight",
                locked_until=now + self._lock,
                expires_at=now + self._ttl,
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyRecord.key)
        )
        if claimed is not None:
            return None
        row = await self._find(session, claim.client_id, claim.key)
        if row is not None and row.expires_at <= now:
            await session.delete(row)
            await session.flush()
            row = None
        if row is None:
            session.add(
                IdempotencyRecord(
                    tenant_id=claim.tenant_id,
                    client_id=claim.client_id,
                    key=claim.key,
                    fingerprint=claim.fingerprint,
                    state="in_flight",
                    locked_until=now + self._lock,
                    expires_at=now + self._ttl,
                )
            )
            await session.flush()
            return None
        stored = self._answer(row, claim)
        if stored is not None:
            return stored
        if row.locked_until > now:
            raise IdempotencyInFlight(
                "a request with this Idempotency-Key is still being processed; retry shortly",
                headers={"Retry-After": "1"},
            )
        row.locked_until = now + self._lock  # the first attempt died: take over
        return None

    async def lookup(self, claim: IdempotencyClaim) -> StoredResponse | None:
        """What an earlier request with the key answered, if it finished (422 if it had
        another body): asked when this one failed before its transaction, so that a repeat
        of a completed request replays even if it would no longer pass."""
        async with self._db.session(claim.tenant_id) as session:
            row = await self._find(session, claim.client_id, claim.key)
        if row is None or row.expires_at <= utcnow():
            return None
        return self._answer(row, claim)

    @staticmethod
    def _answer(row: IdempotencyRecord, claim: IdempotencyClaim) -> StoredResponse | None:
        if row.fingerprint != claim.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request; use a new key"
            )
        if row.state == "completed" and row.response_status is not None:
            return StoredResponse(
                status=row.response_status,
                body=row.response_body or b"",
                headers=dict(row.response_headers or {}),
                replayed=True,
            )
        return None

    def completed_values(
        self, claim: IdempotencyClaim, response: StoredResponse, now: datetime
    ) -> dict[str, object]:
        """The record of a key claimed and answered in one go (a row to insert)."""
        return {
            "tenant_id": claim.tenant_id,
            "client_id": claim.client_id,
            "key": claim.key,
            "fingerprint": claim.fingerprint,
            "state": "completed",
            "response_status": response.status,
            "response_body": response.body,
            "response_headers": response.headers,
            "locked_until": now,
            "created_at": now,
            "expires_at": now + self._ttl,
        }

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
