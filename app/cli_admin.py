"""The `gateway` administration commands: tenants, clients, bindings, migrations, signing keys.
Each runs against the database the environment names (as the server would), prints JSON lines
on stdout, and on a refusal prints `error: ...` with each offending field on stderr and exits 1.

Settings on the command line: `--setting key=value` is always a string;
`--setting-json key=JSON` takes any JSON value (lists, numbers, objects such as `shield`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from app.settings import Settings

T = TypeVar("T")


def emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, default=str) + "\n")
    sys.stdout.flush()


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(port=getattr(args, "port", None))


def with_services(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
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


def pairs(values: list[str] | None, *, from_env: bool = False) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: expected key=value, got {item!r}")
        found[key] = os.environ.get(value, "") if from_env else value
    return found


def binding_settings(args: argparse.Namespace) -> dict[str, Any]:
    """`--setting k=v` (strings) and `--setting-json k=JSON` (any JSON value), one key once."""
    settings: dict[str, Any] = dict(pairs(args.setting))
    for key, raw in pairs(args.setting_json).items():
        if key in settings:
            raise SystemExit(f"error: setting {key!r} is given twice")
        try:
            settings[key] = json.loads(raw)
        except json.JSONDecodeError as error:
            raise SystemExit(f"error: --setting-json {key}: not JSON ({error})") from None
    return settings


def binding_secrets(args: argparse.Namespace) -> dict[str, str]:
    return {**pairs(args.secret), **pairs(args.secret_from_env, from_env=True)}


def cmd_tenants_create(args: argparse.Namespace) -> int:
    from app.tenancy.provisioning import provision_tenant

    channels = args.channels.split(",") if args.channels else None
    view = with_services(
        settings_from(args), lambda s: provision_tenant(s, args.tenant_id, args.name, channels)
    )
    emit({"id": view.id, "name": view.name, "channels": view.channels})
    return 0


def cmd_tenants_list(args: argparse.Namespace) -> int:
    for view in with_services(settings_from(args), lambda s: s.tenants.list_tenants()):
        emit({"id": view.id, "name": view.name, "status": view.status, "channels": view.channels})
    return 0


def _emit_issued(issued: Any) -> None:
    client = issued.client
    emit(
        {
            "client_id": client.client_id,
            "client_secret": issued.client_secret,
            "tenant_id": client.tenant_id,
            "scopes": client.scopes,
        }
    )


def cmd_clients_create(args: argparse.Namespace) -> int:
    scopes = args.scopes.split() if args.scopes else None
    if args.operator and args.tenant:
        sys.stderr.write("error: give --tenant or --operator, not both\n")
        return 2
    if not args.operator and not args.tenant:
        sys.stderr.write("error: give --tenant, or --operator for a platform operator client\n")
        return 2
    issued = with_services(
        settings_from(args),
        lambda s: s.tenants.create_client(
            client_id=args.client_id, name=args.name, tenant_id=args.tenant, scopes=scopes
        ),
    )
    _emit_issued(issued)
    return 0


def cmd_clients_rotate(args: argparse.Namespace) -> int:
    _emit_issued(
        with_services(settings_from(args), lambda s: s.tenants.rotate_secret(args.client_id))
    )
    return 0


def cmd_clients_disable(args: argparse.Namespace) -> int:
    view = with_services(
        settings_from(args), lambda s: s.tenants.set_client_status(args.client_id, "disabled")
    )
    emit({"client_id": view.client_id, "status": view.status})
    return 0


def cmd_clients_list(args: argparse.Namespace) -> int:
    for view in with_services(settings_from(args), lambda s: s.tenants.list_clients(args.tenant)):
        emit(
            {
                "client_id": view.client_id,
                "tenant_id": view.tenant_id,
                "kind": view.kind,
                "scopes": view.scopes,
                "status": view.status,
            }
        )
    return 0


def cmd_bindings_list(args: argparse.Namespace) -> int:
    async def views(services: Any) -> Any:
        from app.problems import NotFound

        if await services.tenants.get_tenant(args.tenant_id) is None:
            raise NotFound(f"no tenant {args.tenant_id}")
        return await services.bindings.views(args.tenant_id)

    for view in with_services(settings_from(args), views):
        emit(
            {
                "domain": view.domain,
                "adapter": view.adapter,
                "settings": view.settings,
                "secret_names": list(view.secret_names),
                "version": view.version,
            }
        )
    return 0


def cmd_bindings_set(args: argparse.Namespace) -> int:
    from app.tenancy.provisioning import rebind
    from app.tenancy.registry import DOMAINS

    settings = binding_settings(args)
    secrets = binding_secrets(args)
    domains = args.domains.split(",") if args.domains else list(DOMAINS)
    views = with_services(
        settings_from(args),
        lambda s: rebind(
            s,
            args.tenant_id,
            domains=domains,
            adapter=args.adapter,
            settings=settings,
            secrets=secrets,
            provision=args.provision,
        ),
    )
    for view in views:
        emit({"domain": view.domain, "adapter": view.adapter, "version": view.version})
    return 0


def cmd_migration(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.action == "start":
        binding = binding_settings(args)
        secrets = binding_secrets(args)
        domains = args.domains.split(",") if args.domains else None
        report = with_services(
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
        report = with_services(settings, lambda s: s.migrations.report(args.tenant_id))
    elif args.action == "cutover":
        report = with_services(settings, lambda s: s.migrations.cutover(args.tenant_id))
    else:
        report = with_services(settings, lambda s: s.migrations.rollback(args.tenant_id))
    sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    emit({"active_kid": with_services(settings_from(args), lambda s: s.keys.rotate())})
    return 0


def _binding_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--adapter", required=True)
    command.add_argument("--domains", help="comma-separated; default all four")
    command.add_argument("--setting", action="append", help="key=value, a string (repeat)")
    command.add_argument(
        "--setting-json",
        action="append",
        help="key=JSON, any JSON value (repeat), e.g. store_location_codes='[\"ST-AMS\"]'",
    )
    command.add_argument(
        "--secret", action="append", help="key=value (repeat); prefer --secret-from-env"
    )
    command.add_argument(
        "--secret-from-env",
        action="append",
        help="key=ENV_VAR: read the secret from the environment",
    )


def add_admin_commands(sub: Any) -> None:
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
    _binding_options(bset)
    bset.add_argument(
        "--provision",
        action="store_true",
        help="set the backend up first where the adapter can (the sandbox seeds the data set)",
    )
    bset.set_defaults(func=cmd_bindings_set)

    migration = sub.add_parser("migration", help="move a tenant to another backend").add_subparsers(
        dest="action", required=True
    )
    mstart = migration.add_parser("start", help="begin shadow reads against a candidate backend")
    mstart.add_argument("tenant_id")
    _binding_options(mstart)
    mstart.set_defaults(func=cmd_migration)
    for action, text in (
        ("status", "the parity report"),
        ("cutover", "switch the tenant to the candidate"),
        ("rollback", "switch the tenant back"),
    ):
        command = migration.add_parser(action, help=text)
        command.add_argument("tenant_id")
        command.set_defaults(func=cmd_migration)

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(dest="action", required=True)
    keys.add_parser("rotate", help="retire the active signing key and make a new one").set_defaults(
        func=cmd_keys_rotate
    )
