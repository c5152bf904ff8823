"""`gateway serve` as the README runs it: a real process on a loopback port, starting from an
empty var/ directory. It migrates and seeds before it answers /health/live, writes the demo
credentials, serves the walk-through, and a second start reuses var/. `--backend tryton` starts
a seeded Tryton (the cached one, see tests/support/tryton.py) and serves the demo from it; a
later plain start puts the demo back on the sandbox instead of on that Tryton, now gone."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, var_dir: Path, *options: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "GATEWAY_VAR_DIR": str(var_dir), "GATEWAY_LOG_LEVEL": "WARNING"}
        env.pop("DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port), *options],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_live(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.output()}")
            try:
                if httpx.get(f"{self.base}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("server did not come up")

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        return self.output()

    def output(self) -> str:
        if self.process.stdout is None:
            return ""
        if self.process.poll() is None:
            return ""
        return self.process.stdout.read()


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


def test_first_start_seeds_serves_the_walkthrough_and_a_second_start_reuses_var(
    var_dir: Path,
) -> None:
    server = Server(var_dir)
    try:
        server.wait_live()
        # Live means seeded: the credentials exist and the catalogue answers at once.
        client = json.loads((var_dir / "demo-client.json").read_text())
        admin = json.loads((var_dir / "demo-admin.json").read_text())
        for creds in (client, admin):
            assert re.fullmatch(r"[A-Za-z0-9_-]+", creds["client_secret"])
        assert (var_dir / "demo-client.json").stat().st_mode & 0o077 == 0

        token = httpx.post(
            f"{server.base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        products = httpx.get(
            f"{server.base}/v1/products", params={"limit": 2}, headers=headers
        ).json()
        assert len(products["data"]) == 2 and products["next_cursor"]
        stock = httpx.get(
            f"{server.base}/v1/inventory", params={"sku": "TEE-1001-GRY-S"}, headers=headers
        ).json()
        assert {level["location_id"] for level in stock["data"]} >= {"DC1"}
        order = {
            "channel": "web",
            "external_reference": "WEB-CLI-1",
            "customer": {"email": "ana@example.com", "first_name": "Ana", "last_name": "Smit"},
            "lines": [
                {
                    "sku": "TEE-1001-GRY-S",
                    "quantity": 2,
                    "unit_price": {"amount": "16.00", "currency": "EUR"},
                }
            ],
            "shipping_address": {
                "first_name": "Ana",
                "last_name": "Smit",
                "line1": "Damstraat 1",
                "city": "Amsterdam",
                "postal_code": "1012 AB",
                "country": "NL",
            },
            "placed_at": "2026-11-28T10:00:00Z",
        }
        created = httpx.post(
            f"{server.base}/v1/orders",
            json=order,
            headers={**headers, "Idempotency-Key": "cli-1", "X-Correlation-ID": "cli-corr"},
        )
        assert created.status_code == 202, created.text
        order_id = created.json()["id"]
        deadline = time.monotonic() + 20
        types: list[str] = []
        while time.monotonic() < deadline:
            events = httpx.get(
                f"{server.base}/v1/orders/{order_id}/events", headers=headers
            ).json()["data"]
            types = [event["type"] for event in events]
            if "order.accepted" in types:
                break
            time.sleep(0.2)
        assert types == ["order.received", "order.submitted", "order.accepted"]
        assert all(event["correlation_id"] == "cli-corr" for event in events)
    finally:
        first_output = server.stop()
    assert "client_secret=" in first_output

    second = Server(var_dir)
    try:
        second.wait_live()
        token = httpx.post(
            f"{second.base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert token.status_code == 200  # the same credentials still work: var/ was reused
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        listed = httpx.get(
            f"{second.base}/v1/orders", params={"external_reference": "WEB-CLI-1"}, headers=headers
        )
        assert [o["id"] for o in listed.json()["data"]] == [order_id]
    finally:
        second_output = second.stop()
    assert "client_secret=" not in second_output  # secrets are printed once, at creation


def _demo_headers(server: Server, var_dir: Path) -> dict[str, str]:
    client = json.loads((var_dir / "demo-client.json").read_text())
    token = httpx.post(
        f"{server.base}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _served_by(server: Server, headers: dict[str, str]) -> tuple[set[str], set[str]]:
    """Which backends the demo's products (external_ids) and stock levels (source) come from."""
    products = httpx.get(
        f"{server.base}/v1/products", params={"limit": 3}, headers=headers, timeout=30
    )
    assert products.status_code == 200, products.text
    variants = [v for p in products.json()["data"] for v in p["variants"]]
    assert variants
    stock = httpx.get(
        f"{server.base}/v1/inventory",
        params={"sku": variants[0]["sku"]},
        headers=headers,
        timeout=30,
    )
    assert stock.status_code == 200, stock.text
    assert stock.json()["data"]
    return (
        {key for v in variants for key in v["external_ids"]},
        {level["source"] for level in stock.json()["data"]},
    )


async def _leave_demo_bound_to_a_gone_tryton(var_dir: Path) -> None:
    """What `gateway serve --backend tryton` leaves in var/ once it stopped: the demo bound to
    a Tryton on a port nobody listens on any more (written as the binding store writes it)."""
    from app.bootstrap import build_services
    from app.settings import Settings
    from app.tenancy.registry import DOMAINS

    settings = Settings.from_env({"GATEWAY_VAR_DIR": str(var_dir)})
    services = build_services(settings)
    try:
        await services.bindings.bind(
            "demo",
            list(DOMAINS),
            "tryton",
            {
                "url": f"http://127.0.0.1:{_free_port()}/",
                "database": "retail",
                "username": "admin",
                "store_location_codes": ["ST-AMS", "ST-UTR"],
            },
            {"password": "admin"},
        )
    finally:
        await services.db.dispose()


def test_a_plain_start_after_a_tryton_binding_serves_the_sandbox_again(var_dir: Path) -> None:
    first = Server(var_dir)
    try:
        first.wait_live()
    finally:
        first.stop()
    asyncio.run(_leave_demo_bound_to_a_gone_tryton(var_dir))

    second = Server(var_dir)
    try:
        second.wait_live()
        assert _served_by(second, _demo_headers(second, var_dir)) == ({"sandbox"}, {"sandbox"})
    finally:
        output = second.stop()
    assert "bound to the sandbox backend again (it was bound to tryton)" in output


@pytest.mark.tryton
def test_serve_backend_tryton_serves_the_demo_from_tryton_then_a_plain_start_from_the_sandbox(
    var_dir: Path,
) -> None:
    from tests.support.tryton import tryton_server

    with tryton_server():
        pass  # the seeded database is built and cached (a no-op when it is already)

    server = Server(var_dir, "--backend", "tryton")
    try:
        server.wait_live(timeout=300)
        assert _served_by(server, _demo_headers(server, var_dir)) == ({"tryton"}, {"tryton"})
    finally:
        output = server.stop()
    assert "tenant 'demo' is bound to Tryton" in output

    plain = Server(var_dir)
    try:
        plain.wait_live()
        assert _served_by(plain, _demo_headers(plain, var_dir)) == ({"sandbox"}, {"sandbox"})
    finally:
        plain.stop()
