"""The `gateway` command: run the server or the worker, migrate, serve a vendor simulator, and
administer tenants, clients, bindings, migrations and signing keys (those in `app.cli_admin`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

from app.cli_admin import add_admin_commands, settings_from, with_services
from app.settings import Settings

log = logging.getLogger("gateway")


def _configure_logging(level: str) -> None:
    from app.telemetry import configure_logging, configure_tracing

    configure_logging(level)
    configure_tracing("retail-gateway")


def _prepare(settings: Settings) -> None:
    """Migrate and, on the embedded tier, create the demo tenant and clients."""
    from app.store.migrate import upgrade
    from app.tenancy.demo import ensure_demo

    if settings.auto_migrate:
        upgrade(settings.database.url)
    # The signing key exists before any worker process starts, so they all sign with it.
    with_services(settings, lambda s: s.keys.load(create_if_missing=True))
    if settings.bootstrap_demo:
        for line in with_services(settings, lambda s: ensure_demo(s, settings.var_dir)):
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
    with_services(
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
    settings = settings_from(args)
    _configure_logging(settings.log_level)
    if args.backend == "tryton":
        if not settings.bootstrap_demo:
            print(
                "--backend tryton binds the demo tenant; enable it with GATEWAY_DEMO=1",
                file=sys.stderr,
            )
            return 2
        process, tryton = _start_tryton_demo(settings)
        # uvicorn re-raises the SIGTERM it caught once it has shut down; by default that
        # would end this process before `finally` stops the Tryton it started.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            _prepare(settings)
            _bind_demo_to_tryton(settings, tryton)
            return _serve(args, settings)
        finally:
            process.terminate()
            process.wait(timeout=30)
    _prepare(settings)
    if settings.bootstrap_demo:
        _rebind_demo_to_sandbox(settings)
    return _serve(args, settings)


def _rebind_demo_to_sandbox(settings: Settings) -> None:
    """`--backend sandbox` (the default) after a start with `--backend tryton`: that Tryton
    was stopped with the server, so the demo tenant goes back to its sandbox data set."""
    from app.tenancy.demo import ensure_demo_on_sandbox

    line = with_services(settings, ensure_demo_on_sandbox)
    if line:
        print(line, flush=True)


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

    settings = settings_from(args)
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

    # The event loop the gateway's uvicorn workers run on, where it is installed: a worker
    # spends its time in network round trips (database, Redis, the backend).
    try:
        import uvloop
    except ImportError:  # pragma: no cover - not on Windows
        asyncio.run(run())
    else:
        uvloop.run(run())
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.store.migrate import upgrade

    upgrade(settings_from(args).database.url)
    print("database is at the latest schema")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from app.bootstrap import run_simulator

    print(
        f"{args.vendor} simulator on http://{args.host}:{args.port} "
        f"(database {args.database!r}, login {args.login!r})",
        flush=True,
    )
    run_simulator(
        args.vendor,
        args.port,
        args.host,
        database=args.database,
        login=args.login,
        password=args.password,
        seed=not args.empty,
    )
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from app.api.openapi import documented_openapi
    from app.bootstrap import create_app

    app = create_app(settings_from(args))
    schema = msgspec.to_builtins(documented_openapi(app))
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
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

    add_admin_commands(sub)

    simulate = sub.add_parser(
        "simulate", help="serve a vendor simulator (e.g. odoo) in the foreground"
    )
    simulate.add_argument("vendor", choices=["odoo"])
    simulate.add_argument("--port", type=int, default=8069)
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--database", default="demo", help="database name (default demo)")
    simulate.add_argument("--login", default="admin", help="user to accept (default admin)")
    simulate.add_argument("--password", default="admin", help="its password (default admin)")
    simulate.add_argument("--empty", action="store_true", help="no demo data, a bare company")
    simulate.set_defaults(func=cmd_simulate)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from app.problems import GatewayError

    try:
        return int(args.func(args))
    except GatewayError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        for field_error in error.errors or []:
            line = f"{field_error.field}: {field_error.message}"
            if line not in error.detail:
                print(f"  {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
