"""The fault-injection tools work for real: `FaultProxy` between httpx and the Odoo simulator
(keep-alive, latency, drop, reset, blackhole, held answers, a proxy that goes away), and
`PrivatePostgres` taking asyncpg and SQLAlchemy connections across restarts and a crash."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.fault_proxy import FaultProxy
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.private_pg import PrivatePostgres, private_postgres

VERSION_CALL = {
    "jsonrpc": "2.0",
    "method": "call",
    "id": 1,
    "params": {"service": "common", "method": "version", "args": []},
}
# What a client sees when the proxy hangs up or aborts; which one depends on timing.
CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[Simulator]:
    async with odoo_simulator() as simulator:
        yield simulator


@pytest.fixture
async def proxy(sim: Simulator) -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", sim.port) as running:
        yield running


@pytest.fixture
async def client(proxy: FaultProxy) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proxy.url, timeout=5) as http:
        yield http


async def rpc_requests(sim: Simulator) -> int:
    """JSON-RPC requests the simulator has seen (asked directly, not through the proxy)."""
    stats: Any = await sim.control("GET", "stats")
    return int(stats["requests"])


async def version(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post("/jsonrpc", json=VERSION_CALL)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert body["result"]["server_version"].startswith("17.")
    return body


def causes(error: BaseException | None) -> Iterator[BaseException]:
    """The error and what it was raised from (httpx wraps httpcore wraps anyio wraps OSError)."""
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


async def wait_for_requests(sim: Simulator, count: int) -> None:
    for _ in range(200):
        if await rpc_requests(sim) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the simulator never saw {count} requests")


async def test_keep_alive_connections_are_reused_through_the_proxy(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    for _ in range(5):
        await version(client)
        assert (await client.get("/_sim/health")).json()["ok"] is True
    assert proxy.counters.connections == 1
    assert proxy.counters.bytes_upstream > 0
    assert proxy.counters.bytes_downstream > 0


async def test_latency_delays_each_direction(
    sim: Simulator, proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    await version(client)

    proxy.set_latency(0.3, "upstream")
    started = time.monotonic()
    await version(client)
    delayed = time.monotonic() - started
    assert delayed >= 0.3  # a delay can only add: safe on a busy host

    # Downstream only: the simulator has the request at once, the client its answer late.
    proxy.set_latency(0, "upstream")
    proxy.set_latency(0.5, "downstream")
    before = await rpc_requests(sim)
    started = time.monotonic()
    call = asyncio.create_task(version(client))
    await wait_for_requests(sim, before + 1)
    assert not call.done()
    await call
    assert time.monotonic() - started >= 0.5

    proxy.clear()
    before = await rpc_requests(sim)
    call = asyncio.create_task(version(client))
    await wait_for_requests(sim, before + 1)
    # No latency left: the answer follows the request (compared with the delayed call above
    # measured the same way, not with a wall-clock bound a busy host could break).
    started = time.monotonic()
    await call
    assert time.monotonic() - started < delayed


async def test_dropped_requests_are_not_forwarded(
    sim: Simulator, proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    await version(client)  # a pooled keep-alive connection: the first drop hits it
    before = await rpc_requests(sim)
    proxy.drop_next(2)
    with pytest.raises(httpx.RemoteProtocolError):  # a clean FIN: "server disconnected"
        await version(client)
    with pytest.raises(httpx.RemoteProtocolError):  # ... and on the fresh connection after it
        await version(client)
    assert proxy.drops_pending == 0
    await version(client)
    assert proxy.counters.dropped == 2
    assert proxy.counters.connections == 3
    assert await rpc_requests(sim) == before + 1


async def test_reset_aborts_with_rst(
    sim: Simulator, proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    await version(client)
    before = await rpc_requests(sim)
    proxy.reset(True)
    with pytest.raises(httpx.ReadError) as raised:  # ECONNRESET, not a clean close
        await version(client)
    assert any(isinstance(error, ConnectionResetError) for error in causes(raised.value))
    assert proxy.counters.reset == 1
    assert await rpc_requests(sim) == before
    proxy.reset(False)
    await version(client)


async def test_blackhole_makes_the_client_time_out(
    sim: Simulator, proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    await version(client)
    before = await rpc_requests(sim)
    proxy.blackhole(True)
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/jsonrpc", json=VERSION_CALL, timeout=0.5)
    assert proxy.counters.blackholed > 0
    assert await rpc_requests(sim) == before
    proxy.blackhole(False)
    await version(client)  # httpx closed the timed-out connection; a new one works
    assert await rpc_requests(sim) == before + 1


async def test_held_answers_arrive_only_when_released(
    sim: Simulator, proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    await version(client)
    before = await rpc_requests(sim)
    proxy.hold_responses()
    call = asyncio.create_task(version(client))
    await wait_for_requests(sim, before + 1)  # the backend has done its part ...
    await asyncio.sleep(0.3)
    assert not call.done()  # ... and the client still waits for the answer
    assert proxy.held_bytes > 0
    proxy.release_responses()
    body = await asyncio.wait_for(call, 5)
    assert body["id"] == 1
    assert proxy.held_bytes == 0
    await version(client)  # the connection is in step again
    assert proxy.counters.connections == 1


async def test_a_client_killed_while_held_never_gets_its_answer(
    sim: Simulator, proxy: FaultProxy
) -> None:
    before = await rpc_requests(sim)
    proxy.hold_responses()
    script = f"import httpx; httpx.post({proxy.url + '/jsonrpc'!r}, json={VERSION_CALL!r})"
    worker = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    try:
        await wait_for_requests(sim, before + 1)  # the sale is made ...
        assert worker.returncode is None  # ... and its worker still waits for the answer
    finally:
        worker.kill()
        await worker.wait()
    for _ in range(100):  # the proxy sees the client gone and forgets its answer
        if proxy.open_connections == 0:
            break
        await asyncio.sleep(0.02)
    assert proxy.open_connections == 0
    assert proxy.held_bytes == 0
    proxy.release_responses()
    async with httpx.AsyncClient(base_url=proxy.url) as survivor:
        await version(survivor)
    assert await rpc_requests(sim) == before + 2


async def test_a_stopped_proxy_refuses_and_restarts_on_its_port(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    await version(client)
    port = proxy.port
    await proxy.stop()
    with pytest.raises((*CONNECTION_ERRORS, httpx.ConnectError)):
        await version(client)  # the pooled connection was cut ...
    with pytest.raises(httpx.ConnectError):
        await version(client)  # ... and nothing listens any more
    assert await proxy.start() == port
    await version(client)


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening, so connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def test_an_unreachable_upstream_hangs_up_on_the_client() -> None:
    with refused_port() as dead_port:
        async with (
            FaultProxy("127.0.0.1", dead_port) as proxy,
            httpx.AsyncClient(base_url=proxy.url) as http,
        ):
            with pytest.raises(CONNECTION_ERRORS):
                await http.get("/")
            assert proxy.counters.upstream_failures == 1


# -- the private PostgreSQL ------------------------------------------------------------------


@pytest.fixture(scope="module")
async def pg() -> AsyncIterator[PrivatePostgres]:
    async with private_postgres("faults") as cluster:
        yield cluster


async def connect(pg: PrivatePostgres) -> asyncpg.Connection:
    return await asyncpg.connect(pg.dsn, timeout=5)


async def test_private_postgres_is_its_own_cluster(pg: PrivatePostgres) -> None:
    assert pg.url == f"postgresql+asyncpg://postgres@127.0.0.1:{pg.port}/faults"
    assert pg.port != 5432
    assert (pg.data_dir / "PG_VERSION").is_file()
    conn = await connect(pg)
    try:
        assert await conn.fetchval("SELECT current_database()") == "faults"
        assert await conn.fetchval("SHOW data_directory") == str(pg.data_dir)
    finally:
        await conn.close()
    engine = create_async_engine(pg.url)  # the URL the gateway's settings take
    try:
        async with engine.connect() as sa:
            assert (await sa.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_the_proxy_relays_postgres_too(pg: PrivatePostgres) -> None:
    async with FaultProxy("127.0.0.1", pg.port) as proxy:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=proxy.port, user="postgres", database="faults", timeout=5
        )
        try:
            assert await conn.fetchval("SELECT 40 + 2") == 42
            proxy.reset(True)
            with pytest.raises((asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)):
                await conn.fetchval("SELECT 1")
        finally:
            conn.terminate()
        assert proxy.counters.reset == 1


async def test_restart_cuts_open_connections_and_keeps_data(pg: PrivatePostgres) -> None:
    conn = await connect(pg)
    await conn.execute("CREATE TABLE IF NOT EXISTS marks (n int); INSERT INTO marks VALUES (1)")
    await pg.restart()
    with pytest.raises((asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)):
        await conn.fetchval("SELECT 1")
    conn.terminate()
    conn = await connect(pg)
    try:
        assert await conn.fetchval("SELECT count(*) FROM marks") >= 1
    finally:
        await conn.close()


async def test_immediate_stop_refuses_then_recovers(pg: PrivatePostgres) -> None:
    conn = await connect(pg)
    await conn.execute("CREATE TABLE IF NOT EXISTS crash (n int); INSERT INTO crash VALUES (7)")
    await pg.stop("immediate")
    assert not pg.running
    with pytest.raises((asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)):
        await conn.fetchval("SELECT 1")
    conn.terminate()
    with pytest.raises(ConnectionRefusedError):  # nothing listens
        await connect(pg)
    await pg.start()  # crash recovery replays the committed insert
    conn = await connect(pg)
    try:
        assert await conn.fetchval("SELECT n FROM crash") == 7
    finally:
        await conn.close()


async def test_the_cluster_directory_is_removed_on_exit() -> None:
    async with private_postgres() as cluster:
        base = cluster.base_dir
        assert cluster.running
    assert not base.exists()
    assert not cluster.running
