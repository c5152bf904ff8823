"""Reaching the real PostgreSQL and Redis the suite runs against.

Tests that need a service ask for it through these helpers. When the service is unreachable
they are skipped, loudly (see the summary at the end of the run); with REQUIRE_SERVICES=1 they
fail instead, which is how CI runs.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

SKIPPED_SERVICES: set[str] = set()


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need(service: str, ok: bool, detail: str) -> None:
    if ok:
        return
    if services_required():
        pytest.fail(f"{service} is required (REQUIRE_SERVICES=1) but unreachable: {detail}")
    SKIPPED_SERVICES.add(service)
    pytest.skip(f"{service} unreachable: {detail}")


async def create_database() -> str:
    """A fresh, empty PostgreSQL database for this test session; returns its asyncpg URL."""
    import asyncpg

    need("PostgreSQL", reachable(PG_HOST, PG_PORT), f"{PG_HOST}:{PG_PORT}")
    name = f"rg_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


async def drop_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[-1]
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


def need_redis() -> str:
    from urllib.parse import urlparse

    parsed = urlparse(REDIS_URL)
    need("Redis", reachable(parsed.hostname or "127.0.0.1", parsed.port or 6379), REDIS_URL)
    return REDIS_URL
