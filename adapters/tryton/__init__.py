"""Tryton ERP behind the backend port, over Tryton's JSON-RPC (tested against Tryton 8.2)."""

from adapters.tryton.backend import TrytonBackend
from adapters.tryton.settings import TrytonSecrets, TrytonSettings

__all__ = ["TrytonBackend", "TrytonSecrets", "TrytonSettings"]
