"""The embedded tier's first-run experience: the `demo` tenant on the sandbox backend, a
channel client holding every /v1 scope and a platform operator client, with their
credentials printed once and written to `var/demo-client.json` and `var/demo-admin.json`.
`gateway serve --backend sandbox` (the default) also puts the demo tenant back on its sandbox
data set when an earlier `--backend tryton` start left it bound to a Tryton that is gone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from app.tenancy.provisioning import DEFAULT_ADAPTER, provision_tenant, rebind, sandbox_settings
from app.tenancy.registry import DOMAINS
from app.tenancy.tenants import IssuedCredentials

if TYPE_CHECKING:
    from app.services import Services

DEMO_TENANT = "demo"
DEMO_CLIENT = "demo-storefront"
DEMO_OPERATOR = "platform-operator"


def _write(path: Path, issued: IssuedCredentials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(
            {"client_id": issued.client.client_id, "client_secret": issued.client_secret}, handle
        )
        handle.write("\n")


async def ensure_demo(services: Services, var_dir: Path) -> list[str]:
    """Create what is missing; returns lines to show the operator (secrets only when new)."""
    messages: list[str] = []
    if await services.tenants.get_tenant(DEMO_TENANT) is None:
        await provision_tenant(services, DEMO_TENANT, "Demo Retailer")
        messages.append("created tenant 'demo' bound to the sandbox backend (seeded demo data)")
    existing = {client.client_id for client in await services.tenants.list_clients()}
    for client_id, tenant, filename, label in (
        (DEMO_CLIENT, DEMO_TENANT, "demo-client.json", "channel client (every /v1 scope)"),
        (DEMO_OPERATOR, None, "demo-admin.json", "platform operator client (scope admin)"),
    ):
        path = var_dir / filename
        if client_id in existing and path.exists():
            continue
        if client_id in existing:
            issued = await services.tenants.rotate_secret(client_id)  # the file was lost: re-issue
        else:
            name = "Demo storefront" if tenant else "Platform operator"
            issued = await services.tenants.create_client(
                client_id=client_id, name=name, tenant_id=tenant
            )
        _write(path, issued)
        messages.append(
            f"{label}: client_id={issued.client.client_id} client_secret={issued.client_secret} "
            f"(saved to {path}; shown once)"
        )
    return messages


async def ensure_demo_on_sandbox(services: Services) -> str | None:
    """Bind every domain of the demo tenant to its own sandbox data set unless it already is;
    returns a line for the operator when it had to."""
    views = await services.bindings.views(DEMO_TENANT)
    on_sandbox = {
        view.domain
        for view in views
        if view.adapter == DEFAULT_ADAPTER and view.settings.get("dataset") == DEMO_TENANT
    }
    if on_sandbox == set(DOMAINS):
        return None
    elsewhere = sorted({view.adapter for view in views if view.domain not in on_sandbox})
    await rebind(
        services,
        DEMO_TENANT,
        domains=list(DOMAINS),
        adapter=DEFAULT_ADAPTER,
        settings=sandbox_settings(DEMO_TENANT),
        secrets={},
        provision=True,  # its data set exists unless var/ predates it; seeding is idempotent
    )
    was = f" (it was bound to {', '.join(elsewhere)})" if elsewhere else ""
    return f"tenant 'demo' is bound to the sandbox backend again{was}"
