"""What a binding to a Tryton server says: its connection settings and its secrets. The
gateway validates a binding against these before it saves it (unknown keys are refused)."""

from __future__ import annotations

from adapters._http.settings import PasswordSecrets, ServerSettings


class TrytonSettings(ServerSettings, kw_only=True):
    """A trytond server; `store_location_codes` names the warehouses that are shops."""


class TrytonSecrets(PasswordSecrets):
    """The password of the Tryton user."""
