"""create / write / unlink with Odoo 17's value conversion and x2many commands.

Values are converted like `Field.convert_to_cache` (wrong types and unknown selection keys are
`ValueError`s; char values longer than the field's `size` are cut), missing required values and
dangling many2one ids fail like the NOT NULL / FOREIGN KEY violations Odoo turns into
`ValidationError`s, and x2many values take the command lists `[0, 0, vals]` create,
`[1, id, vals]` update, `[2, id]` delete, `[3, id]` unlink, `[4, id]` link, `[5]` clear and
`[6, 0, ids]` set (or a plain list of ids, meaning set). `create_date`/`write_date` are set like
Odoo's `setdefault`: a value given in `vals` wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.odoo.simulator import hooks
from adapters.odoo.simulator.convert import as_ids, convert
from adapters.odoo.simulator.errors import (
    TYPE_ERROR,
    OdooError,
    foreign_key,
    invalid_field,
    missing_error,
    missing_required,
    wrong_value,
)
from adapters.odoo.simulator.fields import Field
from adapters.odoo.simulator.store import Env, now

LOG_ACCESS = ("create_date", "create_uid", "write_date", "write_uid")
_SKIP = frozenset({"id", "display_name"})


def _unset(value: Any) -> bool:
    return value is None or value is False


def _check_fields(env: Env, model: str, vals: Any) -> dict[str, Any]:
    if not isinstance(vals, dict):
        raise OdooError(TYPE_ERROR, f"vals must be a dict, got {type(vals).__name__}")
    fields = env.store.models[model].fields
    for key in vals:
        if key not in fields:
            raise invalid_field(model, key)
    return dict(vals)


def _initial(env: Env, model: str, vals: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new record's stored values (given, else `default_<field>` from the context, else
    the field's default) and its x2many commands."""
    record: dict[str, Any] = {}
    x2many: dict[str, Any] = {}
    for name, f in env.store.models[model].fields.items():
        if name in _SKIP or f.compute is not None or f.inherited_from:
            continue
        if f.type in ("one2many", "many2many"):
            if f.type == "many2many":
                record[name] = []
            if name in vals:
                x2many[name] = vals[name]
            elif f"default_{name}" in env.context:
                x2many[name] = env.context[f"default_{name}"]
        elif name in vals:
            record[name] = convert(env, model, f, vals[name])
        elif f"default_{name}" in env.context:
            record[name] = convert(env, model, f, env.context[f"default_{name}"])
        elif name not in LOG_ACCESS and f.default is not None:
            record[name] = f.default(env) if callable(f.default) else f.default
    return record, x2many


def create(env: Env, model: str, vals: dict[str, Any]) -> int:
    store = env.store
    mdef = store.models[model]
    vals = _check_fields(env, model, vals)
    before = hooks.BEFORE_CREATE.get(model)
    if before is not None:
        before(env, vals)
    if mdef.inherits:
        parent, link = mdef.inherits
        inherited = {k: vals.pop(k) for k in list(vals) if mdef.fields[k].inherited_from}
        if not vals.get(link):
            vals[link] = create(env.with_context(create_product_product=False), parent, inherited)
        elif inherited:
            write(env, parent, [vals[link]], inherited)
    record, x2many = _initial(env, model, vals)
    for name, f in mdef.fields.items():
        if f.required and f.store and _unset(record.get(name)) and f.type != "boolean":
            raise missing_required(mdef.description, model, f.string, name)
    stamp = now()
    record.setdefault("create_date", stamp)
    record.setdefault("write_date", stamp)
    record.setdefault("create_uid", env.uid)
    record.setdefault("write_uid", env.uid)
    rid = store.insert(model, record)
    for name, commands in x2many.items():
        apply_x2many(env, model, rid, mdef.fields[name], commands)
    after = hooks.AFTER_CREATE.get(model)
    if after is not None:
        after(env, rid, vals)
    return rid


def write(env: Env, model: str, ids: Any, vals: Any) -> bool:
    store = env.store
    mdef = store.models[model]
    ids = as_ids(ids)
    table = store.tables[model]
    missing = [rid for rid in ids if rid not in table]
    if missing:
        raise missing_error(model, missing, env.uid)
    vals = _check_fields(env, model, vals)
    before = hooks.BEFORE_WRITE.get(model)
    if before is not None:
        before(env, ids, vals)
    own: dict[str, Any] = {}
    inherited: dict[str, Any] = {}
    x2many: dict[str, Any] = {}
    for name, value in vals.items():
        f = mdef.fields[name]
        if name in _SKIP or f.compute is not None:
            continue
        if f.inherited_from:
            inherited[name] = value
        elif f.type in ("one2many", "many2many"):
            x2many[name] = value
        else:
            own[name] = convert(env, model, f, value)
            if f.required and _unset(own[name]) and f.type != "boolean":
                raise missing_required(mdef.description, model, f.string, name)
    own.setdefault("write_date", now())
    own.setdefault("write_uid", env.uid)
    for rid in ids:
        store.update(model, rid, own)
        for name, commands in x2many.items():
            apply_x2many(env, model, rid, mdef.fields[name], commands)
    if inherited and mdef.inherits:
        parent, link = mdef.inherits
        write(env, parent, sorted({table[rid][link] for rid in ids}), inherited)
    after = hooks.AFTER_WRITE.get(model)
    if after is not None:
        after(env, ids, vals)
    return True


def unlink(env: Env, model: str, ids: Any) -> bool:
    ids = as_ids(ids)
    table = env.store.tables[model]
    missing = [rid for rid in ids if rid not in table]
    if missing:
        raise missing_error(model, missing, env.uid)
    before = hooks.BEFORE_UNLINK.get(model)
    if before is not None:
        before(env, ids)
    records = [dict(table[rid]) for rid in ids]
    for rid in ids:
        if rid in table:
            _delete(env, model, rid)
    after = hooks.AFTER_UNLINK.get(model)
    if after is not None:
        after(env, ids, records)
    return True


_REFERENCES: dict[str, list[tuple[str, Field]]] = {}


def _references(env: Env, model: str) -> list[tuple[str, Field]]:
    if not _REFERENCES:
        for mdef in env.store.models.values():
            for f in mdef.fields.values():
                if f.store and f.relation and f.type in ("many2one", "many2many"):
                    _REFERENCES.setdefault(f.relation, []).append((mdef.name, f))
    return _REFERENCES.get(model, [])


def _delete(env: Env, model: str, rid: int) -> None:
    """Delete one record, applying each reference's `ondelete` like PostgreSQL would."""
    store = env.store
    for ref_model, f in _references(env, model):
        table = store.tables[ref_model]
        if f.type == "many2many":
            for other, rec in list(table.items()):
                if rid in rec.get(f.name, ()):
                    store.update(ref_model, other, {f.name: [i for i in rec[f.name] if i != rid]})
            continue
        if store.has_index(ref_model, f.name):
            refs = sorted(store.lookup(ref_model, f.name, rid))
        else:
            refs = [other for other, rec in table.items() if rec.get(f.name) == rid]
        if refs and not (ref_model == model and refs == [rid]):
            _on_delete(env, ref_model, f, refs)
    if rid in store.tables[model]:
        store.delete(model, rid)


def _on_delete(env: Env, ref_model: str, f: Field, refs: list[int]) -> None:
    store = env.store
    if f.ondelete == "restrict":
        raise foreign_key(store.models[ref_model].description, ref_model, f.name)
    for other in refs:
        if other not in store.tables[ref_model]:
            continue
        if f.ondelete == "cascade":
            _delete(env, ref_model, other)
        else:
            store.update(ref_model, other, {f.name: False})


def _command_create(env: Env, model: str, rid: int, f: Field, command: Any) -> None:
    assert f.relation
    values = dict(command[2]) if len(command) > 2 and command[2] else {}
    if f.type == "one2many":
        assert f.inverse
        values[f.inverse] = rid
        create(env, f.relation, values)
    else:
        current = env.store.tables[model][rid][f.name]
        _set_m2m(env, model, rid, f, [*current, create(env, f.relation, values)])


def _command_update(env: Env, model: str, rid: int, f: Field, command: Any) -> None:
    assert f.relation
    write(env, f.relation, [command[1]], command[2] if len(command) > 2 else {})


def _command_delete(env: Env, model: str, rid: int, f: Field, command: Any) -> None:
    assert f.relation
    unlink(env, f.relation, [command[1]])


def _command_set(env: Env, model: str, rid: int, f: Field, command: Any) -> None:
    wanted = list(command[2]) if len(command) > 2 and command[2] else []
    _detach(env, model, rid, f, [i for i in _current(env, model, rid, f) if i not in wanted])
    _attach(env, model, rid, f, wanted)


COMMANDS: dict[int, Callable[[Env, str, int, Field, Any], None]] = {
    0: _command_create,
    1: _command_update,
    2: _command_delete,
    3: lambda env, model, rid, f, command: _detach(env, model, rid, f, [command[1]]),
    4: lambda env, model, rid, f, command: _attach(env, model, rid, f, [command[1]]),
    5: lambda env, model, rid, f, command: _detach(
        env, model, rid, f, list(_current(env, model, rid, f))
    ),
    6: _command_set,
}


def apply_x2many(env: Env, model: str, rid: int, f: Field, commands: Any) -> None:
    if commands is None or commands is False:
        commands = [[5]]
    if not isinstance(commands, list | tuple):
        raise wrong_value(model, f.name, commands)
    if commands and all(isinstance(c, int) and not isinstance(c, bool) for c in commands):
        commands = [[6, 0, list(commands)]]
    for command in commands:
        if not isinstance(command, list | tuple) or not command:
            raise wrong_value(model, f.name, commands)
        handler = COMMANDS.get(command[0]) if isinstance(command[0], int) else None
        if handler is None or (command[0] in (1, 2, 3, 4) and len(command) < 2):
            raise wrong_value(model, f.name, command)
        handler(env, model, rid, f, command)


def _current(env: Env, model: str, rid: int, f: Field) -> list[int]:
    if f.type == "one2many":
        assert f.relation
        assert f.inverse
        return sorted(env.store.lookup(f.relation, f.inverse, rid))
    return list(env.store.tables[model][rid].get(f.name, []))


def _set_m2m(env: Env, model: str, rid: int, f: Field, ids: list[int]) -> None:
    assert f.relation
    for i in ids:
        if i not in env.store.tables[f.relation]:
            raise foreign_key(env.store.models[model].description, model, f.name)
    env.store.update(model, rid, {f.name: list(dict.fromkeys(ids))})


def _attach(env: Env, model: str, rid: int, f: Field, ids: list[int]) -> None:
    if f.type == "many2many":
        _set_m2m(env, model, rid, f, [*_current(env, model, rid, f), *ids])
        return
    assert f.relation
    assert f.inverse
    todo = [i for i in ids if env.store.tables[f.relation].get(i, {}).get(f.inverse) != rid]
    if todo:
        write(env, f.relation, todo, {f.inverse: rid})


def _detach(env: Env, model: str, rid: int, f: Field, ids: list[int]) -> None:
    if not ids:
        return
    if f.type == "many2many":
        _set_m2m(env, model, rid, f, [i for i in _current(env, model, rid, f) if i not in ids])
        return
    assert f.relation
    assert f.inverse
    inverse = env.store.models[f.relation].fields[f.inverse]
    if inverse.ondelete == "cascade" or inverse.required:
        unlink(env, f.relation, ids)
    else:
        write(env, f.relation, ids, {f.inverse: False})
