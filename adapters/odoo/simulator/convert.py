"""Values from the wire into the store, like Odoo 17's `Field.convert_to_cache`: wrong types and
unknown selection keys are `ValueError`s, char values longer than the field's `size` are cut,
datetimes must read "YYYY-MM-DD HH:MM:SS" (or a bare date, meaning midnight), many2one ids must
exist (else the FOREIGN KEY violation Odoo reports as a `ValidationError`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from adapters.odoo.simulator.errors import (
    TYPE_ERROR,
    VALUE_ERROR,
    OdooError,
    foreign_key,
    wrong_value,
)
from adapters.odoo.simulator.fields import Field
from adapters.odoo.simulator.store import DATETIME_FORMAT, Env


def as_ids(ids: Any) -> list[int]:
    if isinstance(ids, int) and not isinstance(ids, bool):
        return [ids]
    if isinstance(ids, list | tuple) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        return list(ids)
    raise OdooError(TYPE_ERROR, f"Invalid ids {ids!r}")


def _datetime(value: str, date_only: bool) -> str:
    if date_only:
        return datetime.strptime(value[:10], "%Y-%m-%d").strftime("%Y-%m-%d")  # noqa: DTZ007
    value = value[:19]
    if len(value) == 10:
        value += " 00:00:00"
    return datetime.strptime(value, DATETIME_FORMAT).strftime(DATETIME_FORMAT)  # noqa: DTZ007


def _text(env: Env, model: str, f: Field, value: Any) -> Any:
    if value is None or value is False:
        return False
    text = value if isinstance(value, str) else str(value)
    return text[: f.size] if f.size else text


def _selection(env: Env, model: str, f: Field, value: Any) -> Any:
    if value is None or value is False:
        return False
    if value not in {key for key, _label in f.selection or ()}:
        raise wrong_value(model, f.name, value)
    return value


def _moment(env: Env, model: str, f: Field, value: Any) -> Any:
    if value is None or value is False:
        return False
    if not isinstance(value, str):
        raise wrong_value(model, f.name, value)
    return _datetime(value, f.type == "date")


def _many2one(env: Env, model: str, f: Field, value: Any) -> Any:
    if value is None or value is False:
        return False
    if isinstance(value, bool) or not isinstance(value, int) or f.relation is None:
        raise wrong_value(model, f.name, value)
    if value not in env.store.tables[f.relation]:
        raise foreign_key(env.store.models[model].description, model, f.name)
    return value


_CONVERTERS: dict[str, Callable[[Env, str, Field, Any], Any]] = {
    "char": _text,
    "text": _text,
    "html": _text,
    "integer": lambda env, model, f, value: int(value or 0),
    "float": lambda env, model, f, value: float(value or 0.0),
    "monetary": lambda env, model, f, value: float(value or 0.0),
    "boolean": lambda env, model, f, value: bool(value),
    "selection": _selection,
    "datetime": _moment,
    "date": _moment,
    "many2one": _many2one,
}


def convert(env: Env, model: str, f: Field, value: Any) -> Any:
    converter = _CONVERTERS.get(f.type)
    if converter is None:
        raise wrong_value(model, f.name, value)
    try:
        return converter(env, model, f, value)
    except (ValueError, TypeError) as exc:
        kind = VALUE_ERROR if isinstance(exc, ValueError) else TYPE_ERROR
        raise OdooError(kind, str(exc)) from exc
