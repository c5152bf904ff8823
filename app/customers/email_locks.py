"""One customer per e-mail address and tenant: the check-then-create of a customer (and a
change of e-mail) runs under a lock on (tenant, address) that every replica shares.

The backend is the system of record for customers, and neither Tryton nor Odoo keeps e-mail
addresses unique, so the gateway serialises its own writes of an address:

- within a process, an asyncio lock per address, so at most one request per replica waits in
  the database (waiting requests hold no database connection);
- on PostgreSQL, `lock_keys` (a transaction-level advisory lock, the mechanism reservations
  use) in a transaction of its own, held until the backend has answered;
- on SQLite the single writer cannot be the lock: a write transaction held across the backend
  call would stall every other writer behind a remote ERP, and the sandbox backend, writing
  the same file through another connection, would wait on it until the busy timeout. Processes
  sharing the file (uvicorn workers) take an exclusive `flock` instead, on one of 256 lock
  files beside the database (`<db>.locks/`); two addresses sharing a file merely queue.

Waiting is bounded: past `wait` seconds the request is refused with a 409 to retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.problems import Conflict
from app.store.database import Database, lock_keys

if sys.platform != "win32":
    import fcntl

LOCK_TIMEOUT_STATE = "55P03"  # PostgreSQL lock_not_available
STRIPES = 256


def email_key(tenant_id: str, email: str) -> str:
    return f"customer-email:{tenant_id}:{email.strip().lower()}"


def _lock_dir(db: Database) -> Path | None:
    database = db.engine.url.database
    if not db.is_sqlite or not database or database == ":memory:":
        return None
    path = Path(database)
    return path.with_name(path.name + ".locks")


class EmailLocks:
    def __init__(self, db: Database, *, wait: float = 30.0) -> None:
        self._db = db
        self._wait = wait
        self._local: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._lock_dir = _lock_dir(db)

    def _busy(self) -> Conflict:
        return Conflict(
            "another request is writing a customer with this e-mail address; retry shortly",
            headers={"Retry-After": "1"},
        )

    @asynccontextmanager
    async def hold(self, tenant_id: str, email: str) -> AsyncIterator[None]:
        """Run the block alone among every request for this address of this tenant."""
        key = email_key(tenant_id, email)
        async with self._in_process(key):
            if self._db.is_sqlite:
                async with self._file_lock(key):
                    yield
            else:
                async with self._advisory(key):
                    yield

    @asynccontextmanager
    async def _in_process(self, key: str) -> AsyncIterator[None]:
        lock, users = self._local.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            try:
                async with asyncio.timeout(self._wait):
                    await lock.acquire()
            except TimeoutError:
                raise self._busy() from None
            try:
                yield
            finally:
                lock.release()
        finally:
            users[0] -= 1
            if users[0] == 0:
                self._local.pop(key, None)

    @asynccontextmanager
    async def _advisory(self, key: str) -> AsyncIterator[None]:
        async with self._db.session(write=True) as session:
            await session.execute(
                text("SELECT set_config('lock_timeout', :timeout, true)"),
                {"timeout": f"{int(self._wait * 1000)}ms"},
            )
            try:
                await lock_keys(session, [key])
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) == LOCK_TIMEOUT_STATE:
                    raise self._busy() from None
                raise
            yield  # the lock is the transaction's: it ends with it, however the block ends

    @asynccontextmanager
    async def _file_lock(self, key: str) -> AsyncIterator[None]:
        if self._lock_dir is None or sys.platform == "win32":
            yield  # an in-memory database lives in one process: the asyncio lock suffices
            return
        self._lock_dir.mkdir(parents=True, exist_ok=True)
        stripe = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % STRIPES
        fd = os.open(self._lock_dir / f"{stripe:03d}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._wait
            delay = 0.005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if loop.time() >= deadline:
                        raise self._busy() from None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.1)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
