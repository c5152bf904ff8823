"""In-memory records: one dict per model (id -> stored values), hash indexes for exact-match
lookups and one2many inverses, and a journal so every RPC call is one transaction, rolled back
on error as Odoo rolls back its cursor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.odoo.simulator.fields import Field, ModelDef

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_MISSING = object()


def now() -> str:
    return datetime.now(UTC).strftime(DATETIME_FORMAT)


def empty_value(f: Field) -> Any:
    """What Odoo reads for an unset field of this type."""
    if f.type in ("float", "monetary"):
        return 0.0
    if f.type == "integer":
        return 0
    if f.type in ("many2many", "one2many"):
        return []
    return False


@dataclass(slots=True)
class Env:
    """One call's view of the store: the user, the call's context and a cache for computed
    values that depend on that context (stock locations)."""

    store: Store
    uid: int
    context: dict[str, Any]
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def active_test(self) -> bool:
        return bool(self.context.get("active_test", True))

    def with_context(self, **values: Any) -> Env:
        return Env(self.store, self.uid, {**self.context, **values})

    def get(self, model: str, rid: int, fname: str) -> Any:
        return self.store.get(self, model, rid, fname)


class Store:
    def __init__(self, models: dict[str, ModelDef]) -> None:
        self.models = models
        self.tables: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in models}
        self._next_id: dict[str, int] = dict.fromkeys(models, 1)
        self.sequences: dict[str, int] = {}
        self.index: dict[tuple[str, str], dict[Any, set[int]]] = {}
        self._indexed: dict[str, tuple[str, ...]] = {}
        self._journal: list[tuple[str, str, int, Any]] | None = None
        for mdef in models.values():
            names = set(mdef.indexed)
            parent = mdef.fields.get(mdef.parent_name)
            if parent is not None and parent.type == "many2one":
                names.add(mdef.parent_name)
            if mdef.inherits:
                names.add(mdef.inherits[1])
            for name in names:
                self.index[(mdef.name, name)] = {}
        for mdef in models.values():
            for f in mdef.fields.values():
                if f.type == "one2many" and f.relation and f.inverse:
                    self.index.setdefault((f.relation, f.inverse), {})
        for key in self.index:
            self._indexed[key[0]] = (*self._indexed.get(key[0], ()), key[1])

    # -- low level writes (journaled) -------------------------------------------------------

    def insert(self, model: str, values: dict[str, Any], rid: int | None = None) -> int:
        if rid is None:
            rid = self._next_id[model]
        self._next_id[model] = max(self._next_id[model], rid + 1)
        self.tables[model][rid] = values
        for fname in self._indexed.get(model, ()):
            self._index_add(model, fname, values.get(fname), rid)
        if self._journal is not None:
            self._journal.append(("insert", model, rid, None))
        return rid

    def update(self, model: str, rid: int, changes: dict[str, Any]) -> None:
        rec = self.tables[model][rid]
        if self._journal is not None:
            old = {k: rec.get(k, _MISSING) for k in changes}
            self._journal.append(("update", model, rid, old))
        self._apply(model, rid, rec, changes)

    def delete(self, model: str, rid: int) -> None:
        rec = self.tables[model].pop(rid)
        for fname in self._indexed.get(model, ()):
            self._index_remove(model, fname, rec.get(fname), rid)
        if self._journal is not None:
            self._journal.append(("delete", model, rid, rec))

    def next_sequence(self, code: str) -> int:
        self.sequences[code] = self.sequences.get(code, 0) + 1
        return self.sequences[code]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._journal = []
        try:
            yield
        except BaseException:
            self._rollback()
            raise
        finally:
            self._journal = None

    def _rollback(self) -> None:
        journal, self._journal = self._journal or [], None
        for action, model, rid, data in reversed(journal):
            if action == "insert":
                self.delete(model, rid)
            elif action == "delete":
                self.insert(model, data, rid)
            else:
                rec = self.tables[model][rid]
                restore = {k: v for k, v in data.items() if v is not _MISSING}
                self._apply(model, rid, rec, restore)
                for k, v in data.items():
                    if v is _MISSING:
                        rec.pop(k, None)

    def _apply(self, model: str, rid: int, rec: dict[str, Any], changes: dict[str, Any]) -> None:
        for fname in self._indexed.get(model, ()):
            if fname in changes and changes[fname] != rec.get(fname):
                self._index_remove(model, fname, rec.get(fname), rid)
                self._index_add(model, fname, changes[fname], rid)
        rec.update(changes)

    def _index_add(self, model: str, fname: str, value: Any, rid: int) -> None:
        if value is None or value is False:
            return
        self.index[(model, fname)].setdefault(value, set()).add(rid)

    def _index_remove(self, model: str, fname: str, value: Any, rid: int) -> None:
        if value is None or value is False:
            return
        bucket = self.index[(model, fname)].get(value)
        if bucket is not None:
            bucket.discard(rid)
            if not bucket:
                del self.index[(model, fname)][value]

    # -- reads ------------------------------------------------------------------------------

    def lookup(self, model: str, fname: str, value: Any) -> set[int]:
        return self.index[(model, fname)].get(value, set())

    def has_index(self, model: str, fname: str) -> bool:
        return (model, fname) in self.index

    def exists(self, model: str, rid: Any) -> bool:
        return type(rid) is int and rid in self.tables[model]

    def get(self, env: Env, model: str, rid: int, fname: str) -> Any:
        if fname == "id":
            return rid
        mdef = self.models[model]
        f = mdef.fields[fname]
        if f.compute is not None:
            return f.compute(env, rid)
        if f.inherited_from is not None and mdef.inherits:
            parent, link = mdef.inherits
            return self.get(env, parent, self.tables[model][rid][link], fname)
        if f.type == "one2many":
            return self.children(env, f, rid)
        value = self.tables[model][rid].get(fname, _MISSING)
        return empty_value(f) if value is _MISSING or value is None else value

    def children(self, env: Env, f: Field, rid: int) -> list[int]:
        """The one2many `f` of record `rid`: comodel records whose inverse points to it,
        archived ones hidden unless the field or the context says otherwise."""
        assert f.relation
        assert f.inverse
        ids = sorted(self.index[(f.relation, f.inverse)].get(rid, ()))
        comodel = self.models[f.relation]
        if ids and f.active_test and env.active_test and comodel.has_active:
            table = self.tables[f.relation]
            ids = [i for i in ids if self._active(f.relation, table, i)]
        return ids

    def _active(self, model: str, table: dict[int, dict[str, Any]], rid: int) -> bool:
        mdef = self.models[model]
        if mdef.fields["active"].inherited_from and mdef.inherits:
            parent, link = mdef.inherits
            return self._active(parent, self.tables[parent], table[rid][link])
        return bool(table[rid].get("active", True))

    def is_active(self, model: str, rid: int) -> bool:
        return self._active(model, self.tables[model], rid)

    def descendants(self, model: str, roots: set[int]) -> set[int]:
        """`roots` and every record below them through the model's parent field."""
        mdef = self.models[model]
        key = (model, mdef.parent_name)
        if key not in self.index:
            return set(roots)
        index = self.index[key]
        seen = set(roots)
        todo = list(roots)
        while todo:
            for child in index.get(todo.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    def ancestors(self, model: str, ids: set[int]) -> set[int]:
        mdef = self.models[model]
        table = self.tables[model]
        seen: set[int] = set()
        for start in ids:
            rid = start
            while rid and rid in table and rid not in seen:
                seen.add(rid)
                rid = table[rid].get(mdef.parent_name) or 0
        return seen
