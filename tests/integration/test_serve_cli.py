"""`gateway serve` as the README runs it: a real process on a loopback port, starting from an
empty var/ directory. It migrates and seeds before it answers /health/live, writes the demo
credentials, serves the walk-through, and a second start reuses var/."""

from __future__ import annotations

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
    def __init__(self, var_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "GATEWAY_VAR_DIR": str(var_dir), "GATEWAY_LOG_LEVEL": "WARNING"}
        env.pop("DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
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
