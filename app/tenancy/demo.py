"""The embedded tier's first-run experience: the `demo` tenant on the sandbox backend, a
channel client holding every /v1 scope and a platform operator client, with their
credentials printed once and written to `var/demo-client.json` and `var/demo-admin.json`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from app.tenancy.provisioning import provision_tenant
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
