"""The Odoo 17 simulator as a real process on a loopback port, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# Odoo caps warehouse codes at five characters; the binding maps them to our location ids.
ODOO_LOCATIONS = {"STAMS": "ST-AMS", "STUTR": "ST-UTR"}
STORES = ("ST-AMS", "ST-UTR")


@dataclass
class Simulator:
    url: str
    port: int
    process: subprocess.Popen[bytes]

    async def control(self, method: str, path: str, json: object | None = None) -> object:
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.request(method, f"/_sim/{path}", json=json)
            response.raise_for_status()
            return response.json()

    def binding(self) -> tuple[dict[str, object], dict[str, str]]:
        settings = {
            "url": self.url,
            "database": "demo",
            "username": "admin",
            "location_codes": ODOO_LOCATIONS,
            "store_location_codes": list(STORES),
        }
        return settings, {"password": "admin"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def odoo_simulator() -> AsyncIterator[Simulator]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.odoo.simulator", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    simulator = Simulator(url=f"http://127.0.0.1:{port}", port=port, process=process)
    try:
        for _ in range(200):
            try:
                await simulator.control("GET", "health")
                break
            except httpx.HTTPError:
                if process.poll() is not None:
                    raise RuntimeError("the Odoo simulator exited") from None
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the Odoo simulator did not start")
        yield simulator
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
