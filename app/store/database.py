"""Engine and sessions for both tiers, and the tenant scoping every tenant query goes through.

SQLite traps handled here on purpose:
- WAL journal and a busy timeout, because the in-process worker writes while requests do;
- writes begin with `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can
  fail at once with "database is locked" instead of waiting, when another writer got there
  first; reads stay deferred so they never queue behind writers;
- `FOR UPDATE SKIP LOCKED` is not rendered on SQLite; the outbox claims rows with a guarded
  UPDATE instead, which SQLite's single writer makes atomic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from app.admission import admitted
from app.settings import DatabaseSettings
from app.store.models import TenantScoped

TENANT_KEY = "tenant_id"


def _json_dumps(value: Any) -> str:
    # JSON columns hold builtins (msgspec.to_builtins made them); msgspec writes them several
    # times faster than the json module SQLAlchemy uses by default.
    return msgspec.json.encode(value).decode()


class TenantMismatch(RuntimeError):
    """A row of one tenant was about to be written through another tenant's session."""


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    if settings.is_sqlite:
        path = settings.url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            settings.url,
            echo=settings.echo,
            connect_args={"timeout": 30},
            json_serializer=_json_dumps,
            json_deserializer=msgspec.json.decode,
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        settings.url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        pool_timeout=settings.pool_timeout,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
        json_deserializer=msgspec.json.decode,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so we can choose BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get(TENANT_KEY)
    if tenant_id is None or not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _context: Any, _instances: Any) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is None:
        return
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, TenantScoped):
            current: str | None = getattr(obj, "tenant_id", None)
            if current is None:
                obj.tenant_id = tenant_id
            elif current != tenant_id:
                raise TenantMismatch(type(obj).__name__)


def insert_for(session: AsyncSession) -> Any:
    """INSERT that can say ON CONFLICT, for the session's database (PostgreSQL or SQLite)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


async def lock_keys(session: AsyncSession, keys: Iterable[str]) -> None:
    """Serialise transactions on `keys` until this one ends, across every replica: PostgreSQL
    advisory locks, taken in sorted order so two transactions never wait on each other. On
    SQLite a write transaction (BEGIN IMMEDIATE) already runs alone."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )


class Database:
    """Hands out sessions: tenant-scoped ones for tenant data, unscoped ones only for the
    platform's own tables (tenants, clients, keys) and for the worker's claims."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        writer = engine.execution_options(sqlite_write=True) if self.is_sqlite else engine
        self._read = async_sessionmaker(engine, expire_on_commit=False)
        self._write = async_sessionmaker(writer, expire_on_commit=False)

    @asynccontextmanager
    async def session(
        self, tenant_id: str | None = None, *, write: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A session; with `write=True` it runs in a transaction committed on success. A read
        whose quota is still being decided waits for it (app.admission) first."""
        await admitted()
        factory = self._write if write else self._read
        async with factory() as session:
            if tenant_id is not None:
                session.info[TENANT_KEY] = tenant_id
            if write:
                async with session.begin():
                    yield session
            else:
                yield session

    async def ping(self) -> None:
        """One round trip to the database; raises whatever stops it."""
        async with self.session() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
