"""Starting and stopping what a benchmark measures: gateways, the bare baseline, the Odoo
simulator, each a real process on a loopback port; a PostgreSQL database of its own."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PG = "postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/15"
# Every gateway and worker of a run shares one master key, as production replicas must.
ISSUER = "http://gateway.bench"
SECRET_KEY = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
HIGH_QUOTAS = {
    "read": {
        "tenant": {"quota": 100_000_000, "window": 60},
        "client": {"quota": 100_000_000, "window": 60},
    },
    "write": {
        "tenant": {"quota": 100_000_000, "window": 60},
        "client": {"quota": 100_000_000, "window": 60},
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass
class Stack:
    """Every process and database a benchmark started, stopped together."""

    procs: list[Proc] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rg-bench-")))

    def spawn(
        self,
        name: str,
        command: list[str],
        url: str,
        env: dict[str, str] | None = None,
        ready: str = "",
    ) -> Proc:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, url, process, log)
        self.procs.append(proc)
        if ready:
            wait_http(proc, url + ready)
        return proc

    def gateway(
        self,
        name: str,
        database_url: str,
        *,
        workers: int = 2,
        env: dict[str, str] | None = None,
        var: str | None = None,
    ) -> Proc:
        """`var` shares one var/ directory between gateways (one demo tenant, one set of
        credentials)."""
        port = free_port()
        var_dir = self.workdir / f"var-{var or name}"
        settings = {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "GATEWAY_VAR_DIR": str(var_dir),
            "GATEWAY_SECRET_KEY": SECRET_KEY,
            # Replicas behind one address share one issuer (the default names the port, so a
            # token of one gateway would be refused by the next).
            "GATEWAY_ISSUER": ISSUER,
            "GATEWAY_DEMO": "1",
            "GATEWAY_EMBEDDED_WORKER": "0",
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_QUOTA_DEFAULTS": json.dumps(HIGH_QUOTAS),
            **(env or {}),
        }
        command = [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        return self.spawn(
            name, command, f"http://127.0.0.1:{port}", settings, ready="/health/ready"
        )

    def worker(self, name: str, database_url: str, env: dict[str, str] | None = None) -> Proc:
        settings = {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "GATEWAY_SECRET_KEY": SECRET_KEY,
            "GATEWAY_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        return self.spawn(name, [sys.executable, "-m", "app.cli", "worker"], "", settings)

    def simulator(self, name: str = "odoo") -> Proc:
        port = free_port()
        command = [sys.executable, "-m", "adapters.odoo.simulator", "--port", str(port)]
        return self.spawn(name, command, f"http://127.0.0.1:{port}", ready="/_sim/health")

    def bare(self, body: bytes = b"{}", workers: int = 2, database_url: str = "") -> Proc:
        body_file = self.workdir / "body.json"
        body_file.write_bytes(body)
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        return self.spawn(
            "bare",
            command,
            f"http://127.0.0.1:{port}",
            {"BENCH_BODY_FILE": str(body_file), "BENCH_DATABASE_URL": database_url},
        )

    def database(self) -> str:
        import asyncpg

        name = f"rg_bench_{uuid.uuid4().hex[:10]}"

        async def create() -> None:
            conn = await asyncpg.connect(f"postgresql://{PG}/postgres")
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        self.databases.append(name)
        return f"postgresql://{PG}/{name}"

    def close(self) -> None:
        import asyncpg

        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()

        async def drop() -> None:
            conn = await asyncpg.connect(f"postgresql://{PG}/postgres")
            try:
                for name in self.databases:
                    await conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                        name,
                    )
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            finally:
                await conn.close()

        if self.databases:
            asyncio.run(drop())
            self.databases.clear()


def wait_http(proc: Proc, url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer {url}")


def demo_token(gateway: Proc, stack: Stack, var: str | None = None) -> str:
    creds = json.loads(
        (stack.workdir / f"var-{var or gateway.name}" / "demo-client.json").read_text()
    )
    response = httpx.post(
        f"{gateway.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def operator_headers(gateway: Proc, stack: Stack, var: str | None = None) -> dict[str, str]:
    creds = json.loads(
        (stack.workdir / f"var-{var or gateway.name}" / "demo-admin.json").read_text()
    )
    response = httpx.post(
        f"{gateway.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def odoo_tenant(
    gateway: Proc,
    stack: Stack,
    simulator: Proc,
    tenant: str,
    shield: dict[str, Any] | None = None,
    var: str | None = None,
) -> str:
    """A tenant bound to the simulator, with a channel client; returns its access token."""
    admin = operator_headers(gateway, stack, var)
    with httpx.Client(base_url=gateway.url, headers=admin, timeout=30) as client:
        client.post("/admin/tenants", json={"id": tenant, "name": tenant}).raise_for_status()
        client.put(
            f"/admin/tenants/{tenant}/bindings",
            json={
                "adapter": "odoo",
                "settings": {
                    "url": simulator.url,
                    "database": "demo",
                    "username": "admin",
                    "location_codes": {"STAMS": "ST-AMS", "STUTR": "ST-UTR"},
                    "store_location_codes": ["ST-AMS", "ST-UTR"],
                    **({"shield": shield} if shield else {}),
                },
                "secrets": {"password": "admin"},
            },
        ).raise_for_status()
        issued: Any = client.post(
            f"/admin/tenants/{tenant}/clients", json={"client_id": f"{tenant}-app", "name": tenant}
        ).json()
    response = httpx.post(
        f"{gateway.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(issued["client"]["client_id"], issued["client_secret"]),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])
