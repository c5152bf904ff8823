"""What a binding to an Odoo server says: its connection settings and its secrets. The gateway
validates a binding against these before it saves it (unknown keys are refused)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from adapters._http.settings import LocationCode, PasswordSecrets, ServerSettings


class OdooSettings(ServerSettings, kw_only=True):
    """`location_codes` maps Odoo warehouse codes to our location ids."""

    location_codes: Annotated[dict[LocationCode, LocationCode], msgspec.Meta(max_length=200)] = (
        msgspec.field(default_factory=dict)
    )


class OdooSecrets(PasswordSecrets):
    """The password of the Odoo user."""
