"""Per-model business hooks around the generic create/write/unlink (Odoo's overrides of those
methods), registered by `business` so the ORM layer need not import it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# before_create(env, vals) -> None: fill defaults, check constraints (mutates vals)
BEFORE_CREATE: dict[str, Callable[[Any, dict[str, Any]], None]] = {}
# after_create(env, rid, vals) -> None
AFTER_CREATE: dict[str, Callable[[Any, int, dict[str, Any]], None]] = {}
# before_write(env, ids, vals) -> None (mutates vals)
BEFORE_WRITE: dict[str, Callable[[Any, list[int], dict[str, Any]], None]] = {}
# after_write(env, ids, vals) -> None
AFTER_WRITE: dict[str, Callable[[Any, list[int], dict[str, Any]], None]] = {}
# before_unlink(env, ids) -> None
BEFORE_UNLINK: dict[str, Callable[[Any, list[int]], None]] = {}
# after_unlink(env, ids, records) -> None
AFTER_UNLINK: dict[str, Callable[[Any, list[int], list[dict[str, Any]]], None]] = {}
