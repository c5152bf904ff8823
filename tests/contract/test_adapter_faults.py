"""Transport faults, the same for every adapter that speaks HTTP: a backend that is slow, gone,
resets the connection, answers 5xx, 429 with Retry-After, garbage, a huge body or refuses our
credentials makes the adapter raise the one class of `contracts.errors` the gateway acts on
(retryable, permanent, business rejection), carrying the vendor's Retry-After. The backend is a
real HTTP server on loopback that misbehaves on demand (tests/support/faulty_http.py), after the
adapter logged in to it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.odoo import OdooBackend
from adapters.tryton import TrytonBackend
from contracts.errors import (
    BackendAuthError,
    BackendError,
    BackendOverloaded,
    BackendUnavailable,
    BusinessRejection,
    PermanentBackendError,
    RetryableBackendError,
)
from tests.support.faulty_http import FaultyServer, faulty_http

TIMEOUT = 0.5  # the adapters' own deadline, so a stalled backend fails this test quickly

HTTP_ADAPTERS: dict[str, Callable[[str], Any]] = {
    "tryton": lambda url: TrytonBackend(url, "retail", "admin", "admin", timeout=TIMEOUT),
    "odoo": lambda url: OdooBackend(url, "demo", "admin", "admin", timeout=TIMEOUT),
}

# fault → (the class raised, its kind in the taxonomy, the Retry-After it must carry)
FAULTS: dict[str, tuple[type[BackendError], type[BackendError], float | None]] = {
    "slow": (BackendUnavailable, RetryableBackendError, None),  # no answer within the deadline
    "drop": (BackendUnavailable, RetryableBackendError, None),
    "reset": (BackendUnavailable, RetryableBackendError, None),
    "busy": (BackendOverloaded, RetryableBackendError, 7.0),  # 503 + Retry-After: 7
    "throttle": (BackendOverloaded, RetryableBackendError, 7.0),  # 429 + Retry-After: 7
    "html500": (BackendOverloaded, RetryableBackendError, None),
    "garbage": (BackendUnavailable, RetryableBackendError, None),  # a proxy page, a torn body
    "huge": (BackendUnavailable, RetryableBackendError, None),
    "huge_declared": (BackendUnavailable, RetryableBackendError, None),
    "unauthorized": (BackendAuthError, PermanentBackendError, None),
}


@pytest.fixture(params=sorted(HTTP_ADAPTERS))
async def logged_in(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, FaultyServer]]:
    async with faulty_http() as server:
        backend = HTTP_ADAPTERS[request.param](server.url.rstrip("/"))
        try:
            await backend.check()  # logged in, while the server still behaves
            yield backend, server
        finally:
            await backend.aclose()


def _classified(error: BaseException, fault: str) -> None:
    kind, family, retry_after = FAULTS[fault]
    assert isinstance(error, kind), (fault, type(error).__name__, error)
    assert isinstance(error, family)
    kinds = (RetryableBackendError, PermanentBackendError, BusinessRejection)
    assert sum(isinstance(error, k) for k in kinds) == 1  # exactly one kind of the taxonomy
    assert getattr(error, "retry_after", None) == retry_after, fault


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_a_transport_fault_on_a_read_is_classified(
    logged_in: tuple[Any, FaultyServer], fault: str
) -> None:
    backend, server = logged_in
    server.mode = fault
    with pytest.raises(BackendError) as raised:
        await backend.get_product("TEE-1001")
    _classified(raised.value, fault)


@pytest.mark.parametrize(
    "fault", ["slow", "throttle", "busy", "html500", "garbage", "unauthorized"]
)
async def test_a_transport_fault_on_an_order_is_classified(
    logged_in: tuple[Any, FaultyServer], fault: str
) -> None:
    """What the outbox acts on: retry later, or an operator; never a rejected order."""
    backend, server = logged_in
    server.mode = fault
    with pytest.raises(BackendError) as raised:
        await backend.get_order("ord_faulted")
    _classified(raised.value, fault)


@pytest.mark.parametrize("adapter", sorted(HTTP_ADAPTERS))
async def test_a_refused_connection_is_retryable(adapter: str) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = HTTP_ADAPTERS[adapter](f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(BackendError) as raised:
            await backend.check()
        _classified(raised.value, "drop")
    finally:
        await backend.aclose()


@pytest.mark.parametrize("adapter", sorted(HTTP_ADAPTERS))
async def test_refused_credentials_at_login_are_permanent(adapter: str) -> None:
    async with faulty_http("unauthorized") as server:
        backend = HTTP_ADAPTERS[adapter](server.url.rstrip("/"))
        try:
            with pytest.raises(BackendError) as raised:
                await backend.check()
            _classified(raised.value, "unauthorized")
        finally:
            await backend.aclose()


async def test_odoo_refusing_the_login_itself_is_permanent() -> None:
    """Odoo's own answer to a wrong password: `authenticate` returns false, with HTTP 200."""
    async with faulty_http() as server:
        server.results["common.authenticate"] = False
        backend = HTTP_ADAPTERS["odoo"](server.url.rstrip("/"))
        try:
            with pytest.raises(BackendError) as raised:
                await backend.check()
            _classified(raised.value, "unauthorized")
        finally:
            await backend.aclose()
