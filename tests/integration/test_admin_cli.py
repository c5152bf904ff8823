"""The `gateway` admin commands as an operator runs them: `python -m app.cli ...` subprocesses
against a temporary embedded var/ directory, each effect checked through a gateway serving
that same database (tokens, admin API, /v1 reads)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters._demo import demo_dataset
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import odoo_simulator

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@dataclass
class Cli:
    var_dir: Path

    async def __call__(self, *argv: str, env: dict[str, str] | None = None) -> Ran:
        environment = {
            **os.environ,
            "GATEWAY_VAR_DIR": str(self.var_dir),
            "GATEWAY_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        environment.pop("DATABASE_URL", None)
        environment.pop("REDIS_URL", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            *argv,
            cwd=ROOT,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode is not None
        return Ran(process.returncode, out.decode(), err.decode())

    async def ok(self, *argv: str, env: dict[str, str] | None = None) -> Ran:
        ran = await self(*argv, env=env)
        assert ran.code == 0, (argv, ran.out, ran.err)
        assert "Traceback" not in ran.err
        return ran


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Cli, Gateway]]:
    """The CLI and a gateway on the same var/ (database and master key): the CLI creates the
    schema and an operator client first, as an operator would on a fresh machine."""
    cli = Cli(tmp_path / "var")
    await cli.ok("migrate")
    operator = (await cli.ok("clients", "create", "ops", "--name", "Ops", "--operator")).lines()
    settings = make_settings(f"sqlite+aiosqlite:///{cli.var_dir / 'gateway.db'}", cli.var_dir)
    async with running_gateway(settings) as gw:
        gw.credentials["ops"] = ("ops", operator[0]["client_secret"])
        yield cli, gw


async def _token_status(gw: Gateway, client_id: str, secret: str) -> int:
    response = await gw.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    return response.status_code


async def test_tenants_create_and_list(setup: tuple[Cli, Gateway]) -> None:
    cli, gw = setup
    created = (
        await cli.ok("tenants", "create", "cli-shop", "--name", "CLI Shop", "--channels", "web,pos")
    ).lines()
    assert created == [{"id": "cli-shop", "name": "CLI Shop", "channels": ["web", "pos"]}]
    listed = (await cli.ok("tenants", "list")).lines()
    assert [t["id"] for t in listed] == ["cli-shop"] and listed[0]["status"] == "active"
    # The admin API sees it, bound to its own sandbox data set.
    ops = await gw.headers("ops")
    tenant = await gw.http.get("/admin/tenants/cli-shop", headers=ops)
    assert tenant.status_code == 200 and tenant.json()["channels"] == ["web", "pos"]
    bindings = (await gw.http.get("/admin/tenants/cli-shop/bindings", headers=ops)).json()["data"]
    assert {(b["adapter"], b["settings"]["dataset"]) for b in bindings} == {("sandbox", "cli-shop")}
    # A duplicate is refused cleanly.
    again = await cli("tenants", "create", "cli-shop", "--name", "Again")
    assert again.code == 1 and again.err.startswith("error: ") and "Traceback" not in again.err


async def test_clients_create_rotate_disable_and_list(setup: tuple[Cli, Gateway]) -> None:
    cli, gw = setup
    await cli.ok("tenants", "create", "cli-shop", "--name", "CLI Shop")
    issued = (
        await cli.ok(
            "clients",
            "create",
            "shop-app",
            "--name",
            "App",
            "--tenant",
            "cli-shop",
            "--scopes",
            "products:read orders:read",
        )
    ).lines()[0]
    assert issued["tenant_id"] == "cli-shop"
    assert issued["scopes"] == ["products:read", "orders:read"]
    first = issued["client_secret"]
    assert await _token_status(gw, "shop-app", first) == 200

    rotated = (await cli.ok("clients", "rotate", "shop-app")).lines()[0]
    assert rotated["client_secret"] != first
    assert await _token_status(gw, "shop-app", first) == 401
    assert await _token_status(gw, "shop-app", rotated["client_secret"]) == 200

    listed = {c["client_id"]: c for c in (await cli.ok("clients", "list")).lines()}
    assert listed["shop-app"]["status"] == "active" and listed["ops"]["kind"] == "operator"
    only = (await cli.ok("clients", "list", "--tenant", "cli-shop")).lines()
    assert [c["client_id"] for c in only] == ["shop-app"]

    disabled = (await cli.ok("clients", "disable", "shop-app")).lines()
    assert disabled == [{"client_id": "shop-app", "status": "disabled"}]
    assert await _token_status(gw, "shop-app", rotated["client_secret"]) == 401
    listed = {c["client_id"]: c for c in (await cli.ok("clients", "list")).lines()}
    assert listed["shop-app"]["status"] == "disabled"

    neither = await cli("clients", "create", "x-app", "--name", "X")
    assert neither.code == 2 and "--tenant" in neither.err
    unknown = await cli("clients", "rotate", "nobody")
    assert unknown.code == 1 and unknown.err.startswith("error: ")


async def test_bindings_set_takes_json_settings_and_list_shows_them(
    setup: tuple[Cli, Gateway],
) -> None:
    cli, gw = setup
    await cli.ok("tenants", "create", "cli-shop", "--name", "CLI Shop")
    async with odoo_simulator() as odoo:
        bound = await cli.ok(
            "bindings",
            "set",
            "cli-shop",
            "--adapter",
            "odoo",
            "--setting",
            f"url={odoo.url}",
            "--setting",
            "database=demo",
            "--setting",
            "username=admin",
            "--setting-json",
            'store_location_codes=["ST-AMS", "ST-UTR"]',
            "--setting-json",
            'location_codes={"STAMS": "ST-AMS", "STUTR": "ST-UTR"}',
            "--setting-json",
            'shield={"rate": 500, "burst": 50, "concurrency": 8}',
            "--secret-from-env",
            "password=ODOO_PASSWORD",
            env={"ODOO_PASSWORD": "admin"},
        )
        assert {line["adapter"] for line in bound.lines()} == {"odoo"}
        listed = (await cli.ok("bindings", "list", "cli-shop")).lines()
        assert len(listed) == 4
        for binding in listed:
            assert binding["settings"]["store_location_codes"] == ["ST-AMS", "ST-UTR"]
            assert binding["settings"]["shield"] == {"rate": 500, "burst": 50, "concurrency": 8}
            assert binding["secret_names"] == ["password"]
            assert "password" not in binding["settings"]
        # Through the API: the warehouse codes were mapped by the JSON object setting.
        app = (
            await cli.ok("clients", "create", "shop-app", "--name", "App", "--tenant", "cli-shop")
        ).lines()[0]
        gw.credentials["shop-app"] = ("shop-app", app["client_secret"])
        sku = next(r.sku for r in demo_dataset().stock if r.location == "ST-AMS")
        levels = await gw.http.get(
            "/v1/inventory", params={"sku": sku}, headers=await gw.headers("shop-app")
        )
        assert levels.status_code == 200, levels.text
        assert "ST-AMS" in {level["location_id"] for level in levels.json()["data"]}
        assert {level["source"] for level in levels.json()["data"]} == {"odoo"}

        # A list given as a plain string is refused, naming the setting.
        as_string = await cli(
            "bindings",
            "set",
            "cli-shop",
            "--adapter",
            "odoo",
            "--setting",
            f"url={odoo.url}",
            "--setting",
            "database=demo",
            "--setting",
            "username=admin",
            "--setting",
            "store_location_codes=ST-AMS",
            "--secret",
            "password=admin",
        )
        assert as_string.code == 1, as_string.err
        assert "settings.store_location_codes" in as_string.err
    # Input the adapter cannot use: a clean error naming the field, nothing changed.
    bad_url = await cli(
        "bindings",
        "set",
        "cli-shop",
        "--adapter",
        "tryton",
        "--setting",
        "url=http://[::1/",
        "--setting",
        "database=retail",
        "--setting",
        "username=admin",
        "--secret",
        "password=x",
    )
    assert bad_url.code == 1 and "settings.url" in bad_url.err and "Traceback" not in bad_url.err
    not_json = await cli(
        "bindings", "set", "cli-shop", "--adapter", "sandbox", "--setting-json", "dataset=[1"
    )
    assert not_json.code != 0 and "not JSON" in not_json.err and "Traceback" not in not_json.err
    twice = await cli(
        "bindings",
        "set",
        "cli-shop",
        "--adapter",
        "sandbox",
        "--setting",
        "dataset=cli-shop",
        "--setting-json",
        'dataset="cli-shop"',
    )
    assert twice.code != 0 and "twice" in twice.err
    assert (await cli.ok("bindings", "list", "cli-shop")).lines() == listed
    missing = await cli("bindings", "list", "nobody")
    assert missing.code == 1 and "no tenant" in missing.err


async def test_keys_rotate_publishes_a_new_key_beside_the_old(setup: tuple[Cli, Gateway]) -> None:
    cli, gw = setup
    before = {k["kid"] for k in (await gw.http.get("/.well-known/jwks.json")).json()["keys"]}
    assert len(before) == 1
    kid = (await cli.ok("keys", "rotate")).lines()[0]["active_kid"]
    assert kid not in before
    await gw.services.keys.load()  # replicas re-read keys every 30 s; don't wait for it here
    after = {k["kid"] for k in (await gw.http.get("/.well-known/jwks.json")).json()["keys"]}
    assert after == before | {kid}  # the old key stays published until its tokens expire
    await cli.ok("tenants", "create", "cli-shop", "--name", "CLI Shop")
    app = await cli.ok("clients", "create", "shop-app", "--name", "A", "--tenant", "cli-shop")
    secret = app.lines()[0]["client_secret"]
    token = await gw.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("shop-app", secret)
    )
    header = token.json()["access_token"].split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"] == kid


async def test_migration_start_status_cutover_and_rollback(setup: tuple[Cli, Gateway]) -> None:
    cli, gw = setup
    await cli.ok("tenants", "create", "mover", "--name", "Mover")
    # A second sandbox data set of the tenant's own, set up by binding it, then back.
    await cli.ok(
        "bindings",
        "set",
        "mover",
        "--adapter",
        "sandbox",
        "--setting",
        "dataset=mover:next",
        "--provision",
    )
    await cli.ok("bindings", "set", "mover", "--adapter", "sandbox", "--setting", "dataset=mover")

    started = json.loads(
        (
            await cli.ok(
                "migration",
                "start",
                "mover",
                "--adapter",
                "sandbox",
                "--setting",
                "dataset=mover:next",
            )
        ).out
    )
    assert started["state"] == "shadowing"
    ops = await gw.headers("ops")
    seen = await gw.http.get("/admin/tenants/mover/migration", headers=ops)
    assert seen.status_code == 200 and seen.json()["id"] == started["id"]
    status = json.loads((await cli.ok("migration", "status", "mover")).out)
    assert status["id"] == started["id"] and status["state"] == "shadowing"

    cut = json.loads((await cli.ok("migration", "cutover", "mover")).out)
    assert cut["state"] == "cut_over"
    datasets = {
        b["settings"]["dataset"] for b in (await cli.ok("bindings", "list", "mover")).lines()
    }
    assert datasets == {"mover:next"}

    back = json.loads((await cli.ok("migration", "rollback", "mover")).out)
    assert back["state"] == "rolled_back"
    datasets = {
        b["settings"]["dataset"] for b in (await cli.ok("bindings", "list", "mover")).lines()
    }
    assert datasets == {"mover"}

    again = await cli("migration", "cutover", "mover")
    assert again.code == 1 and again.err.startswith("error: ")
    stolen = await cli(
        "migration", "start", "mover", "--adapter", "sandbox", "--setting", "dataset=other"
    )
    assert stolen.code == 1 and "settings.dataset" in stolen.err
