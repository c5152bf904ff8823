"""`gateway simulate odoo` as its own process: it serves Odoo's JSON-RPC on the chosen port and
accepts the database, login and password it was told (demo / admin / admin unless told
otherwise), and nothing else."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def simulate(*options: str) -> Iterator[str]:
    """`gateway simulate odoo --port N *options`, until it answers; yields its URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "simulate", "odoo", "--port", str(port), *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"the simulator exited: {output}")
            try:
                if httpx.get(f"{url}/_sim/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the simulator did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rpc(url: str, service: str, method: str, *args: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"service": service, "method": method, "args": list(args)},
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_simulate_odoo_accepts_the_credentials_it_was_given_and_only_those() -> None:
    with simulate("--database", "shop", "--login", "ops", "--password", "s3cret") as url:
        assert httpx.get(f"{url}/_sim/health").json()["database"] == "shop"
        uid = rpc(url, "common", "authenticate", "shop", "ops", "s3cret", {})["result"]
        assert isinstance(uid, int) and uid > 0
        # The account works for real calls, and the seeded catalogue is there.
        count = rpc(
            url,
            "object",
            "execute_kw",
            "shop",
            uid,
            "s3cret",
            "product.product",
            "search_count",
            [[]],
        )
        assert count["result"] >= 200, count
        # Anything else is refused.
        assert rpc(url, "common", "authenticate", "shop", "ops", "admin", {})["result"] is False
        assert rpc(url, "common", "authenticate", "shop", "admin", "admin", {})["result"] is False
        other_db = rpc(url, "common", "authenticate", "demo", "ops", "s3cret", {})
        assert "error" in other_db and "result" not in other_db
        wrong_password = rpc(
            url,
            "object",
            "execute_kw",
            "shop",
            uid,
            "admin",
            "product.product",
            "search_count",
            [[]],
        )
        assert wrong_password["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"


def test_simulate_odoo_defaults_to_demo_admin_admin() -> None:
    with simulate() as url:
        uid = rpc(url, "common", "authenticate", "demo", "admin", "admin", {})["result"]
        assert isinstance(uid, int) and uid > 0
        assert rpc(url, "common", "authenticate", "demo", "admin", "wrong", {})["result"] is False


def test_simulate_odoo_empty_has_no_demo_catalogue() -> None:
    with simulate("--empty") as url:
        uid = rpc(url, "common", "authenticate", "demo", "admin", "admin", {})["result"]
        count = rpc(
            url,
            "object",
            "execute_kw",
            "demo",
            uid,
            "admin",
            "product.product",
            "search_count",
            [[]],
        )
        assert count["result"] == 0
