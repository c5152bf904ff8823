"""Term evaluation for scalar fields (char, numbers, booleans, dates, selections) with the
SQL semantics Odoo compiles them to: `like`/`ilike` wrap the value in `%` (the value's own `%`
and `_` stay wildcards), `=like`/`=ilike` take a raw pattern, negative operators match unset
values, comparisons never match an unset value, and a date-only value compared with a datetime
field means the start (or, for `>` and `<=`, the end) of that day."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from adapters.odoo.simulator.errors import VALUE_ERROR, OdooError
from adapters.odoo.simulator.fields import Field
from adapters.odoo.simulator.store import Env, empty_value

Pred = Callable[[int], bool]
NEGATIVE = frozenset({"!=", "not like", "not ilike", "not in"})


def getter(env: Env, model: str, f: Field) -> Callable[[int], Any]:
    store = env.store
    name = f.name
    if f.store and name != "id":
        table = store.tables[model]
        empty = empty_value(f)

        def stored(rid: int) -> Any:
            value = table[rid].get(name)
            return empty if value is None else value

        return stored
    return lambda rid: store.get(env, model, rid, name)


_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def _moment(value: str, operator: str) -> str:
    """A datetime term's value as PostgreSQL reads it against a `timestamp` column: a bare
    date is the start of that day (its end for `>` and `<=`, as Odoo 17 widens it), an ISO
    "T" separator is a space, a UTC offset is ignored."""
    if len(value) == 10:
        return value + (" 23:59:59" if operator in (">", "<=") else " 00:00:00")
    if len(value) > 10 and value[10] == "T":
        value = f"{value[:10]} {value[11:]}"
    return _OFFSET.sub("", value)


def _is_null(value: Any) -> bool:
    return value is None or value is False or value == ""


def _like(pattern: str, insensitive: bool) -> re.Pattern[str]:
    parts = []
    escaped = False
    for ch in pattern:
        if escaped:
            parts.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if insensitive else 0))


def scalar(get: Callable[[int], Any], f: Field, operator: str, right: Any) -> Pred:  # noqa: PLR0911
    if f.type == "boolean" and operator in ("=", "!=", "in", "not in"):
        wanted = {bool(v) for v in right} if isinstance(right, list | tuple) else {bool(right)}
        if operator in ("=", "in"):
            return lambda rid: bool(get(rid)) in wanted
        return lambda rid: bool(get(rid)) not in wanted
    if f.type == "datetime" and isinstance(right, str):
        right = _moment(right, operator)
    if operator in ("=", "!=") and (right is False or right is None):
        if operator == "=":
            return lambda rid: _is_null(get(rid))
        return lambda rid: not _is_null(get(rid))
    if operator == "=":
        return lambda rid: get(rid) == right
    if operator == "!=":
        return lambda rid: get(rid) != right
    if operator in ("in", "not in"):
        values = right if isinstance(right, list | tuple) else [right]
        with_null = any(v is False or v is None for v in values)
        members = {
            v for v in values if v is not False and v is not None and not isinstance(v, list)
        }
        if operator == "in":
            return lambda rid: (v := get(rid)) in members or (with_null and _is_null(v))
        return lambda rid: not ((v := get(rid)) in members or (with_null and _is_null(v)))
    if operator in ("<", ">", "<=", ">="):
        compare = _COMPARE[operator]

        def ordered(rid: int) -> bool:
            value = get(rid)
            if _is_null(value) and f.type not in ("integer", "float", "monetary"):
                return False
            try:
                return bool(compare(value, right))
            except TypeError:
                return False

        return ordered
    if operator in ("like", "ilike", "not like", "not ilike", "=like", "=ilike"):
        text = "" if right is False or right is None else str(right)
        pattern = _like(text if operator.startswith("=") else f"%{text}%", "ilike" in operator)
        if operator in NEGATIVE:
            return lambda rid: _is_null(v := get(rid)) or not pattern.fullmatch(str(v))
        return lambda rid: not _is_null(v := get(rid)) and bool(pattern.fullmatch(str(v)))
    raise OdooError(VALUE_ERROR, f"Invalid operator {operator!r} for field {f.name}")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}
