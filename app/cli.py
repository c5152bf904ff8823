"""The `gateway` command: run the server or the worker, migrate, and administer tenants,
clients and signing keys."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from app.settings import Settings

T = TypeVar("T")
log = logging.getLogger("gateway")


def _configure_logging(level: str) -> None:
    from app.telemetry import configure_logging, configure_tracing

    configure_logging(level)
    configure_tracing("retail-gateway")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(port=getattr(args, "port", None))


def _with_services(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from app.bootstrap import build_services

    async def run() -> T:
        services = build_services(settings)
        try:
            return await work(services)
        finally:
            await services.backends.aclose()
            await services.db.dispose()
            if services.redis is not None:
                await services.redis.aclose()

    return asyncio.run(run())


def _prepare(settings: Settings) -> None:
    """Migrate and, on the embedded tier, create the demo tenant and clients."""
    from app.store.migrate import upgrade
    from app.tenancy.demo import ensure_demo

    if settings.auto_migrate:
        upgrade(settings.database.url)
    # The signing key exists before any worker process starts, so they all sign with it.
    _with_services(settings, lambda s: s.keys.load(create_if_missing=True))
    if settings.bootstrap_demo:
        for line in _with_services(settings, lambda s: ensure_demo(s, settings.var_dir)):
            print(line, flush=True)


def _start_tryton_demo(settings: Settings) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """A seeded Tryton for the demo tenant, kept under var/tryton across starts (the repo's
    deploy/tryton script; the first start installs and seeds Tryton, about two minutes)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    print(
        "starting Tryton for the demo tenant (the first start installs and seeds it)...", flush=True
    )
    process = subprocess.Popen(  # noqa: S603 - our own script, run with our interpreter
        [
            sys.executable,
            "-m",
            "deploy.tryton.tryton_server",
            "serve",
            "--port",
            str(port),
            "--workdir",
            str((settings.var_dir / "tryton").resolve()),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise SystemExit("Tryton did not start; see the messages above")
    return process, json.loads(line)


def _bind_demo_to_tryton(settings: Settings, tryton: dict[str, Any]) -> None:
    from app.tenancy.demo import DEMO_TENANT
    from app.tenancy.provisioning import rebind
    from app.tenancy.registry import DOMAINS

    binding = {
        "url": tryton["url"],
        "database": tryton["database"],
        "username": tryton["user"],
        "store_location_codes": ["ST-AMS", "ST-UTR"],
    }
    _with_services(
        settings,
        lambda s: rebind(
            s,
            DEMO_TENANT,
            domains=list(DOMAINS),
            adapter="tryton",
            settings=binding,
            secrets={"password": tryton["password"]},
        ),
    )
    print(
        f"tenant 'demo' is bound to Tryton at {tryton['url']} (database {tryton['database']})",
        flush=True,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _configure_logging(settings.log_level)
    if args.backend == "tryton":
        if not settings.bootstrap_demo:
            print(
                "--backend tryton binds the demo tenant; enable it with GATEWAY_DEMO=1",
                file=sys.stderr,
            )
            return 2
        process, tryton = _start_tryton_demo(settings)
        try:
            _prepare(settings)
            _bind_demo_to_tryton(settings, tryton)
            return _serve(args, settings)
        finally:
            process.terminate()
            process.wait(timeout=30)
    _prepare(settings)
    return _serve(args, settings)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    # uvicorn workers build their settings from the environment
    os.environ["GATEWAY_PORT"] = str(args.port)
    print(
        f"Retail Gateway on http://{args.host}:{args.port} (database: {settings.database.url})",
        flush=True,
    )
    uvicorn.run(
        "app.cli:asgi_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )
    return 0


def asgi_app() -> Any:
    """The ASGI application uvicorn workers build (settings from the environment)."""
    from app.bootstrap import create_app

    port = os.environ.get("GATEWAY_PORT")
    return create_app(Settings.from_env(port=int(port) if port else None))


def cmd_worker(args: argparse.Namespace) -> int:
    from app.bootstrap import build_services

    settings = _settings(args)
    _configure_logging(settings.log_level)

    async def run() -> None:
        services = build_services(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await services.migrations.states.start()  # learns of migrations from the channel
        try:
            await services.worker.run(stop)
        finally:
            await services.migrations.states.stop()
            await services.backends.aclose()
            await services.db.dispose()

    asyncio.run(run())
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.store.migrate import upgrade

    upgrade(_settings(args).database.url)
    print("database is at the latest schema")
    return 0


def cmd_tenants_create(args: argparse.Namespace) -> int:
    from app.tenancy.provisioning import provision_tenant

    channels = args.channels.split(",") if args.channels else None
    view = _with_services(
        _settings(args), lambda s: provision_tenant(s, args.tenant_id, args.name, channels)
    )
    print(json.dumps({"id": view.id, "name": view.name, "channels": view.channels}))
    return 0


def cmd_tenants_list(args: argparse.Namespace) -> int:
    for view in _with_services(_settings(args), lambda s: s.tenants.list_tenants()):
        print(
            json.dumps(
                {"id": view.id, "name": view.name, "status": view.status, "channels": view.channels}
            )
        )
    return 0


def _print_issued(issued: Any) -> None:
    client = issued.client
    print(
        json.dumps(
            {
                "client_id": client.client_id,
                "client_secret": issued.client_secret,
                "tenant_id": client.tenant_id,
                "scopes": client.scopes,
            }
        )
    )


def cmd_clients_create(args: argparse.Namespace) -> int:
    scopes = args.scopes.split() if args.scopes else None
    tenant = None if args.operator else args.tenant
    if tenant is None and not args.operator:
        print("give --tenant, or --operator for a platform operator client", file=sys.stderr)
        return 2
    issued = _with_services(
        _settings(args),
        lambda s: s.tenants.create_client(
            client_id=args.client_id, name=args.name, tenant_id=tenant, scopes=scopes
        ),
    )
    _print_issued(issued)
    return 0


def cmd_clients_rotate(args: argparse.Namespace) -> int:
    _print_issued(
        _with_services(_settings(args), lambda s: s.tenants.rotate_secret(args.client_id))
    )
    return 0


def cmd_clients_disable(args: argparse.Namespace) -> int:
    view = _with_services(
        _settings(args), lambda s: s.tenants.set_client_status(args.client_id, "disabled")
    )
    print(json.dumps({"client_id": view.client_id, "status": view.status}))
    return 0


def cmd_clients_list(args: argparse.Namespace) -> int:
    for view in _with_services(_settings(args), lambda s: s.tenants.list_clients(args.tenant)):
        print(
            json.dumps(
                {
                    "client_id": view.client_id,
                    "tenant_id": view.tenant_id,
                    "kind": view.kind,
                    "scopes": view.scopes,
                    "status": view.status,
                }
            )
        )
    return 0


def _pairs(values: list[str] | None, *, from_env: bool = False) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"expected key=value, got {item!r}")
        pairs[key] = os.environ.get(value, "") if from_env else value
    return pairs


def cmd_bindings_list(args: argparse.Namespace) -> int:
    for view in _with_services(_settings(args), lambda s: s.bindings.views(args.tenant_id)):
        print(
            json.dumps(
                {
                    "domain": view.domain,
                    "adapter": view.adapter,
                    "settings": view.settings,
                    "secret_names": list(view.secret_names),
                    "version": view.version,
                }
            )
        )
    return 0


def cmd_bindings_set(args: argparse.Namespace) -> int:
    from app.tenancy.provisioning import rebind
    from app.tenancy.registry import DOMAINS

    settings: dict[str, Any] = dict(_pairs(args.setting))
    secrets = {**_pairs(args.secret), **_pairs(args.secret_from_env, from_env=True)}
    domains = args.domains.split(",") if args.domains else list(DOMAINS)
    views = _with_services(
        _settings(args),
        lambda s: rebind(
            s,
            args.tenant_id,
            domains=domains,
            adapter=args.adapter,
            settings=settings,
            secrets=secrets,
        ),
    )
    for view in views:
        print(json.dumps({"domain": view.domain, "adapter": view.adapter, "version": view.version}))
    return 0


def cmd_migration(args: argparse.Namespace) -> int:
    def print_report(report: dict[str, Any]) -> None:
        print(json.dumps(report, indent=2, default=str))

    settings = _settings(args)
    if args.action == "start":
        binding: dict[str, Any] = dict(_pairs(args.setting))
        secrets = {**_pairs(args.secret), **_pairs(args.secret_from_env, from_env=True)}
        domains = args.domains.split(",") if args.domains else None
        report = _with_services(
            settings,
            lambda s: s.migrations.start(
                args.tenant_id,
                adapter=args.adapter,
                settings=binding,
                secrets=secrets,
                domains=domains,
            ),
        )
    elif args.action == "status":
        report = _with_services(settings, lambda s: s.migrations.report(args.tenant_id))
    elif args.action == "cutover":
        report = _with_services(settings, lambda s: s.migrations.cutover(args.tenant_id))
    else:
        report = _with_services(settings, lambda s: s.migrations.rollback(args.tenant_id))
    print_report(report)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from app.bootstrap import run_simulator

    run_simulator(args.vendor, args.port, args.host)
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    kid = _with_services(_settings(args), lambda s: s.keys.rotate())
    print(json.dumps({"active_kid": kid}))
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from app.bootstrap import create_app

    app = create_app(_settings(args))
    schema = msgspec.to_builtins(app.openapi_schema.to_schema())
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - one flat list of commands
    parser = argparse.ArgumentParser(prog="gateway", description="Retail Gateway")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the HTTP API (migrates and seeds the embedded tier first)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--backend",
        default="sandbox",
        choices=["sandbox", "tryton"],
        help="backend of the demo tenant (tryton: starts a seeded Tryton beside the gateway)",
    )
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="run an outbox worker (production tier)").set_defaults(
        func=cmd_worker
    )
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("openapi", help="print the OpenAPI document").set_defaults(func=cmd_openapi)

    tenants = sub.add_parser("tenants", help="manage tenants").add_subparsers(
        dest="action", required=True
    )
    create = tenants.add_parser("create", help="create a tenant bound to the sandbox backend")
    create.add_argument("tenant_id")
    create.add_argument("--name", required=True)
    create.add_argument("--channels", help="comma-separated, default web,app,store,marketplace")
    create.set_defaults(func=cmd_tenants_create)
    tenants.add_parser("list").set_defaults(func=cmd_tenants_list)

    clients = sub.add_parser("clients", help="manage OAuth clients").add_subparsers(
        dest="action", required=True
    )
    ccreate = clients.add_parser(
        "create", help="issue client credentials (the secret is shown once)"
    )
    ccreate.add_argument("client_id")
    ccreate.add_argument("--name", required=True)
    ccreate.add_argument("--tenant")
    ccreate.add_argument(
        "--operator", action="store_true", help="a platform operator client (scope admin)"
    )
    ccreate.add_argument("--scopes", help="space-separated; default every /v1 scope")
    ccreate.set_defaults(func=cmd_clients_create)
    rotate = clients.add_parser("rotate", help="issue a new secret")
    rotate.add_argument("client_id")
    rotate.set_defaults(func=cmd_clients_rotate)
    disable = clients.add_parser("disable")
    disable.add_argument("client_id")
    disable.set_defaults(func=cmd_clients_disable)
    clist = clients.add_parser("list")
    clist.add_argument("--tenant")
    clist.set_defaults(func=cmd_clients_list)

    bindings = sub.add_parser("bindings", help="which backend serves a tenant").add_subparsers(
        dest="action", required=True
    )
    blist = bindings.add_parser("list")
    blist.add_argument("tenant_id")
    blist.set_defaults(func=cmd_bindings_list)
    bset = bindings.add_parser("set", help="bind domains to an adapter (checked by logging in)")
    bset.add_argument("tenant_id")
    bset.add_argument("--adapter", required=True)
    bset.add_argument("--domains", help="comma-separated; default all four")
    bset.add_argument("--setting", action="append", help="key=value (repeat)")
    bset.add_argument(
        "--secret", action="append", help="key=value (repeat); prefer --secret-from-env"
    )
    bset.add_argument(
        "--secret-from-env",
        action="append",
        help="key=ENV_VAR: read the secret from the environment",
    )
    bset.set_defaults(func=cmd_bindings_set)

    migration = sub.add_parser("migration", help="move a tenant to another backend").add_subparsers(
        dest="action", required=True
    )
    mstart = migration.add_parser("start", help="begin shadow reads against a candidate backend")
    mstart.add_argument("tenant_id")
    mstart.add_argument("--adapter", required=True)
    mstart.add_argument("--domains", help="comma-separated; default all four")
    mstart.add_argument("--setting", action="append", help="key=value (repeat)")
    mstart.add_argument("--secret", action="append", help="key=value (repeat)")
    mstart.add_argument("--secret-from-env", action="append", help="key=ENV_VAR")
    mstart.set_defaults(func=cmd_migration)
    for action, text in (
        ("status", "the parity report"),
        ("cutover", "switch the tenant to the candidate"),
        ("rollback", "switch the tenant back"),
    ):
        command = migration.add_parser(action, help=text)
        command.add_argument("tenant_id")
        command.set_defaults(func=cmd_migration)

    simulate = sub.add_parser(
        "simulate", help="serve a vendor simulator (e.g. odoo) in the foreground"
    )
    simulate.add_argument("vendor", choices=["odoo"])
    simulate.add_argument("--port", type=int, default=8069)
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.set_defaults(func=cmd_simulate)

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(dest="action", required=True)
    keys.add_parser("rotate", help="retire the active signing key and make a new one").set_defaults(
        func=cmd_keys_rotate
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from app.problems import GatewayError

    try:
        return int(args.func(args))
    except GatewayError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
