"""The Tryton adapter under transport faults and Tryton's own refusals: every failure comes out
as exactly one `contracts.errors` class, and nothing else ever escapes.

The first half points `TrytonClient` at `tests.support.faulty_http` (a real HTTP server that
times out, drops, resets, floods or refuses on demand). The second half runs against a real
trytond (see tests/support/tryton.py): wrong credentials, an expiring session, an unknown
model, a business refusal and a unique-constraint violation.
"""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import httpx
import pytest

from adapters._http import HttpEndpoint
from adapters.tryton import TrytonBackend
from adapters.tryton.client import TrytonClient
from adapters.tryton.errors import NAME
from contracts.errors import (
    BackendAuthError,
    BackendError,
    BackendOverloaded,
    BackendProtocolError,
    BackendUnavailable,
    BusinessRejection,
    RetryableBackendError,
)
from deploy.tryton.tryton_server import TrytonProcess
from tests.support.faulty_http import HUGE, FaultyServer, faulty_http
from tests.support.tryton import tryton_server

DATABASE = "retail"
TIMEOUT = 0.5  # seconds the client waits; the `slow` mode sleeps 30
SEARCH = ("model.party.party.search_read", [], 0, 1, None, ["code"])


async def raised(call: Awaitable[Any]) -> BackendError:
    """The `contracts.errors` exception `call` raised; anything else fails the test."""
    try:
        await call
    except BackendError as error:
        return error
    except Exception as error:
        pytest.fail(f"{type(error).__module__}.{type(error).__name__} escaped: {error!r}")
    pytest.fail("no error raised")


def client_for(url: str, *, timeout: float = TIMEOUT, max_body: int | None = None) -> TrytonClient:
    endpoint = (
        HttpEndpoint(url, backend=NAME, timeout=timeout, max_body=max_body)
        if max_body is not None
        else None
    )
    return TrytonClient(url, DATABASE, "admin", "admin", timeout=timeout, endpoint=endpoint)


@pytest.fixture
async def faulty() -> AsyncIterator[FaultyServer]:
    async with faulty_http() as server:
        yield server


@pytest.fixture
async def client(faulty: FaultyServer) -> AsyncIterator[TrytonClient]:
    client = client_for(faulty.url)
    yield client
    await client.aclose()


# -- transport faults ------------------------------------------------------------------------

FAULTS = [
    # mode, expected exact class, retry_after
    ("slow", BackendUnavailable, None),
    ("drop", BackendUnavailable, None),
    ("reset", BackendUnavailable, None),
    ("garbage", BackendUnavailable, None),
    ("busy", BackendOverloaded, 7),
    ("throttle", BackendOverloaded, 7),
    ("html500", BackendOverloaded, None),
    ("unauthorized", BackendAuthError, None),
]


@pytest.mark.parametrize("moment", ["at_login", "mid_session"])
@pytest.mark.parametrize(("mode", "expected", "retry_after"), FAULTS)
async def test_fault_maps_to_one_error_class(
    faulty: FaultyServer,
    client: TrytonClient,
    mode: str,
    expected: type[BackendError],
    retry_after: float | None,
    moment: str,
) -> None:
    if moment == "mid_session":
        assert await client.call(*SEARCH) == []
        assert faulty.methods[0] == "common.db.login"
    faulty.mode = mode
    started = time.monotonic()
    error = await raised(client.call(*SEARCH))
    assert type(error) is expected, repr(error)
    assert error.backend == NAME
    if isinstance(error, RetryableBackendError):
        assert error.retry_after == retry_after
    assert time.monotonic() - started < 10 * TIMEOUT  # the slow server did not hold us 30 s
    # A passing fault leaves the client usable: the next call once the server heals succeeds.
    faulty.mode = "ok"
    assert await client.call(*SEARCH) == []


async def test_timeout_honours_the_client_timeout(faulty: FaultyServer) -> None:
    faulty.mode = "slow"
    client = client_for(faulty.url, timeout=0.2)
    try:
        started = time.monotonic()
        error = await raised(client.ensure_session())
        assert type(error) is BackendUnavailable
        # Waited for its own timeout, and was not held for the server's 30 s (a bound a busy
        # host cannot break: it says which of the two ended the call).
        assert 0.15 < time.monotonic() - started < 15
    finally:
        await client.aclose()


async def test_refused_connection_is_unavailable() -> None:
    # A bound socket that never listens: connecting to it is refused, and no other process
    # can take the port while the test holds it.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
        client = client_for(url)
        try:
            error = await raised(client.call(*SEARCH))
        finally:
            await client.aclose()
    assert type(error) is BackendUnavailable
    assert error.backend == NAME


GARBAGE = {
    "binary": b"\x00\xff\xfe<html>definitely not JSON",
    "truncated": b'{"id": 1, "result": [1, "sess',
    "html": b"<!doctype html><title>Gateway</title><p>upstream says hi</p>",
    "empty": b"",
    "not_utf8": b'{"id": 1, "result": "\xff\xfe"}',
    # Syntactically JSON, but no JSON-RPC a Tryton could send:
    "deeply_nested": b"[" * 100_000 + b"]" * 100_000,
    "bad_decimal": b'{"id": 1, "result": {"__class__": "Decimal", "decimal": "abc"}}',
    "bad_date": b'{"id": 1, "result": {"__class__": "date", "year": 2024, "month": 13, "day": 1}}',
}


@pytest.mark.parametrize("name", list(GARBAGE))
async def test_garbage_200_body_is_a_passing_fault(
    faulty: FaultyServer, client: TrytonClient, name: str
) -> None:
    await client.ensure_session()
    faulty.mode, faulty.garbage = "garbage", GARBAGE[name]
    error = await raised(client.call(*SEARCH))
    assert type(error) is BackendUnavailable, repr(error)
    assert isinstance(error, RetryableBackendError)  # retried by the outbox, not dead-lettered
    faulty.mode = "ok"
    assert await client.call(*SEARCH) == []


@pytest.mark.parametrize("mode", ["huge", "huge_declared"])
async def test_huge_body_is_refused_without_reading_it(faulty: FaultyServer, mode: str) -> None:
    max_body = 256 * 1024
    client = client_for(faulty.url, max_body=max_body)
    try:
        await client.ensure_session()
        faulty.mode = mode
        tracemalloc.start()
        try:
            error = await raised(client.call(*SEARCH))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert type(error) is BackendUnavailable, repr(error)
        assert peak < 16 * 1024 * 1024, f"peak {peak} bytes: the body was read into memory"
        await asyncio.sleep(0.05)  # let the server notice the hang-up
        assert faulty.sent < HUGE // 2, f"the client kept reading: {faulty.sent} bytes sent"
        faulty.mode = "ok"
        assert await client.call(*SEARCH) == []
    finally:
        await client.aclose()


async def test_unauthorized_at_login_is_an_auth_error(faulty: FaultyServer) -> None:
    faulty.mode = "unauthorized"
    client = client_for(faulty.url)
    try:
        error = await raised(client.ensure_session())
    finally:
        await client.aclose()
    assert type(error) is BackendAuthError
    assert error.vendor_code == "401"
    assert faulty.methods == ["common.db.login"]  # refused credentials are not retried


async def test_expired_session_logs_in_once_more(
    faulty: FaultyServer, client: TrytonClient
) -> None:
    await client.ensure_session()
    faulty.mode = "unauthorized"
    error = await raised(client.call(*SEARCH))
    assert type(error) is BackendAuthError
    # The 401 was taken for an expired session: one more login, then no more.
    assert faulty.methods[-2:] == ["model.party.party.search_read", "common.db.login"]
    assert faulty.methods.count("common.db.login") == 2


@pytest.mark.parametrize(
    ("mode", "expected", "retry_after"),
    [
        ("busy", BackendOverloaded, 7),
        ("throttle", BackendOverloaded, 7),
        ("html500", BackendOverloaded, None),
        ("slow", BackendUnavailable, None),
        ("reset", BackendUnavailable, None),
        ("garbage", BackendUnavailable, None),
        ("unauthorized", BackendAuthError, None),
    ],
)
async def test_backend_reports_the_same_class(
    faulty: FaultyServer, mode: str, expected: type[BackendError], retry_after: float | None
) -> None:
    faulty.mode = mode
    backend = TrytonBackend(faulty.url, DATABASE, "admin", "admin", timeout=TIMEOUT)
    try:
        error = await raised(backend.check())
    finally:
        await backend.aclose()
    assert type(error) is expected
    if isinstance(error, RetryableBackendError):
        assert error.retry_after == retry_after


# -- a real Tryton ---------------------------------------------------------------------------

SESSION_AGE = 2  # seconds, for the short-lived server


@pytest.fixture(scope="module")
def tryton() -> Iterator[TrytonProcess]:
    with tryton_server() as server:
        yield server


@pytest.fixture(scope="module")
def short_lived_tryton() -> Iterator[TrytonProcess]:
    with tryton_server(session_max_age=SESSION_AGE) as server:
        yield server


@pytest.fixture
async def real_client(tryton: TrytonProcess) -> AsyncIterator[TrytonClient]:
    client = TrytonClient(tryton.url, tryton.database, tryton.user, tryton.password)
    yield client
    await client.aclose()


async def raw_rpc(
    server: TrytonProcess, method: str, params: list[Any], authorization: str | None
) -> tuple[int, Any]:
    """The server's own answer, read without the adapter: the oracle for the adapter's."""
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx.AsyncClient() as http:
        response = await http.post(
            server.rpc_url, json={"id": 0, "method": method, "params": params}, headers=headers
        )
    return response.status_code, response.json() if response.status_code == 200 else None


@pytest.mark.tryton
async def test_wrong_password_is_an_auth_error(tryton: TrytonProcess) -> None:
    backend = TrytonBackend(tryton.url, tryton.database, tryton.user, "not-" + tryton.password)
    try:
        error = await raised(backend.check())
    finally:
        await backend.aclose()
    assert type(error) is BackendAuthError
    assert error.backend == NAME


@pytest.mark.tryton
@pytest.mark.slow
async def test_expired_session_is_renewed_transparently(short_lived_tryton: TrytonProcess) -> None:
    server = short_lived_tryton
    client = TrytonClient(server.url, server.database, server.user, server.password)
    try:
        first = await client.call(*SEARCH)
        stale = client._authorization
        assert stale is not None
        await asyncio.sleep(SESSION_AGE + 1.5)
        second = await client.call(*SEARCH)  # no error: the client logged in again
        assert second == first
        renewed = client._authorization
        assert renewed is not None
        assert renewed != stale, "no second login happened"
        # ...and the renewal was needed: Tryton now refuses the old session outright.
        status, _ = await raw_rpc(server, "model.res.user.get_preferences", [True, {}], stale)
        assert status == 401
        status, _ = await raw_rpc(server, "model.res.user.get_preferences", [True, {}], renewed)
        assert status == 200
    finally:
        await client.aclose()


@pytest.mark.tryton
async def test_unknown_model_is_a_protocol_error(real_client: TrytonClient) -> None:
    error = await raised(real_client.call("model.no.such.model.search_read", [], 0, 1, None, []))
    assert type(error) is BackendProtocolError, repr(error)
    assert "no.such.model" in (error.vendor_code or "")


@pytest.mark.tryton
async def test_business_refusal_carries_trytons_message(
    tryton: TrytonProcess, real_client: TrytonClient
) -> None:
    error = await raised(real_client.call("model.sale.sale.confirm", [999999]))
    assert isinstance(error, BusinessRejection)
    assert type(error) is BusinessRejection
    assert error.vendor_code == "UserError"
    _, raw = await raw_rpc(
        tryton,
        "model.sale.sale.confirm",
        [[999999], real_client.context],
        real_client._authorization,
    )
    name, (message, _description, _domain) = raw["error"]
    assert name == "UserError"
    assert any(message in reason for reason in error.reasons), (message, error.reasons)
    assert any("999999" in reason for reason in error.reasons)


@pytest.mark.tryton
async def test_duplicate_party_code_is_a_business_rejection(
    tryton: TrytonProcess, real_client: TrytonClient
) -> None:
    code = f"DUP-{uuid.uuid4().hex[:8]}"
    [party_id] = await real_client.call(
        "model.party.party.create", [{"name": "First", "code": code}]
    )
    try:
        error = await raised(
            real_client.call("model.party.party.create", [{"name": "Second", "code": code}])
        )
        assert type(error) is BusinessRejection, repr(error)
        _, raw = await raw_rpc(
            tryton,
            "model.party.party.create",
            [[{"name": "Third", "code": code}], real_client.context],
            real_client._authorization,
        )
        assert raw["error"][0] == "UserError"
        assert any(raw["error"][1][0] in reason for reason in error.reasons), error.reasons
        rows = await real_client.call(
            "model.party.party.search_read", [["code", "=", code]], 0, None, None, ["name"]
        )
        assert [row["name"] for row in rows] == ["First"]  # neither duplicate was stored
    finally:
        await real_client.call("model.party.party.delete", [party_id])
