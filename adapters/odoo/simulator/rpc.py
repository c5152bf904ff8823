"""The `/jsonrpc` endpoint: Odoo 17's `dispatch_rpc` for the `common`, `db` and `object`
services.

`common`: `version`, `about`, `login(db, login, password)` and
`authenticate(db, login, password, user_agent_env)`, which answer the uid or `false` for bad
credentials. `object`: `execute_kw(db, uid, password, model, method, args, kwargs)` and
`execute(db, uid, password, model, method, *args)`; every call re-checks uid and password
(`odoo.exceptions.AccessDenied`, "Access Denied") and runs in one transaction, rolled back on
any error. An unknown database fails like PostgreSQL does (`psycopg2.OperationalError`), an
unknown service is a `KeyError`, an unknown `common` method an `Exception`
("Method not found: x"), an unknown `object` method a `NameError`. A successful call whose
method returns nothing answers without a `result` member, as Odoo does.
"""

from __future__ import annotations

from typing import Any

from adapters._demo import demo_dataset
from adapters.odoo.simulator import orm
from adapters.odoo.simulator import seed as seeding
from adapters.odoo.simulator.errors import (
    EXCEPTION,
    KEY_ERROR,
    NAME_ERROR,
    OPERATIONAL_ERROR,
    TYPE_ERROR,
    VALUE_ERROR,
    OdooError,
    access_denied,
    envelope,
    missing_arguments,
)
from adapters.odoo.simulator.schema import build_registry
from adapters.odoo.simulator.store import Env, Store

VERSION_INFO = [17, 0, 0, "final", 0, ""]
VERSION = {
    "server_version": "17.0",
    "server_version_info": VERSION_INFO,
    "server_serie": "17.0",
    "protocol_version": 1,
}
_PARAMS = ("service", "method", "args")


class OdooServer:
    """One simulated Odoo server holding one database."""

    def __init__(
        self,
        database: str = "demo",
        login: str = "admin",
        password: str = "admin",  # noqa: S107 - the simulator's documented demo credentials
        seed: bool = True,
    ) -> None:
        self.database = database
        self.login = login
        self.password = password
        self.uid = seeding.ADMIN_UID
        self.with_demo = seed
        self.reset_data()

    def reset_data(self) -> None:
        self.store = Store(build_registry())
        if self.with_demo:
            seeding.seed(self.store, demo_dataset(), self.login)
        else:
            seeding.empty(self.store, self.login)

    # -- entry point --------------------------------------------------------------------------

    def handle(self, payload: Any) -> dict[str, Any]:
        """Answer one decoded JSON-RPC request (a dict) with the response object."""
        request_id = payload.get("id")
        try:
            params = payload.get("params", {})
            if not isinstance(params, dict):
                raise OdooError(TYPE_ERROR, "'list' object is not a mapping")
            for key in params:
                if key not in _PARAMS:
                    raise OdooError(
                        TYPE_ERROR, f"jsonrpc() got an unexpected keyword argument '{key}'"
                    )
            missing = [key for key in _PARAMS if key not in params]
            if missing:
                raise missing_arguments("jsonrpc()", missing)
            result = self.dispatch(params["service"], params["method"], params["args"])
        except OdooError as error:
            return envelope(request_id, error)
        except Exception as exc:  # noqa: BLE001 - any bug still answers like Odoo would
            bug = OdooError(f"builtins.{type(exc).__name__}", str(exc), list(exc.args))
            return envelope(request_id, bug)
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if result is not None:
            response["result"] = result
        return response

    def dispatch(self, service: Any, method: Any, args: Any) -> Any:
        if not isinstance(args, list):
            args = [] if args is None else [args]
        if service == "common":
            return self._common(method, args)
        if service == "object":
            return self._object(method, args)
        if service == "db":
            return self._db(method, args)
        raise OdooError(KEY_ERROR, str(service), [service])

    # -- services -----------------------------------------------------------------------------

    def _check_db(self, db: Any) -> None:
        if db != self.database:
            raise OdooError(
                OPERATIONAL_ERROR,
                'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed:'
                f' FATAL:  database "{db}" does not exist\n',
            )

    def _authenticate(self, db: Any, login: Any, password: Any, user_agent_env: Any) -> Any:
        self._check_db(db)
        if login == self.login and password == self.password:
            return self.uid
        return False

    def _common(self, method: Any, args: list[Any]) -> Any:
        if method == "version":
            return _call(lambda: VERSION, args, "exp_version")
        if method == "about":
            return _call(
                lambda extended=False: (
                    ["See http://openerp.com", "17.0"] if extended else "See http://openerp.com"
                ),
                args,
                "exp_about",
            )
        if method == "authenticate":
            return _call(self._authenticate, args, "exp_authenticate")
        if method == "login":
            return _call(
                lambda db, login, password: self._authenticate(db, login, password, {}),
                args,
                "exp_login",
            )
        raise OdooError(EXCEPTION, f"Method not found: {method}")

    def _db(self, method: Any, args: list[Any]) -> Any:
        if method == "list":
            return [self.database]
        if method == "server_version":
            return "17.0"
        if method == "db_exist":
            return _call(lambda db_name: db_name == self.database, args, "exp_db_exist")
        raise OdooError(KEY_ERROR, f"Method not found: {method}")

    def _object(self, method: Any, args: list[Any]) -> Any:
        if method not in ("execute_kw", "execute"):
            raise OdooError(NAME_ERROR, f"Method not available {method}")
        if len(args) < 3:
            raise OdooError("builtins.IndexError", "list index out of range")
        db, uid, password = args[0], _int(args[1]), args[2]
        self._check_db(db)
        if uid != self.uid or password != self.password:
            raise access_denied()
        rest = args[3:]
        if method == "execute_kw":
            if len(rest) < 3:
                raise missing_arguments("execute_kw()", ("obj", "method", "args")[len(rest) :])
            model, name, call_args = rest[0], rest[1], rest[2]
            kwargs = rest[3] if len(rest) > 3 else {}
        else:
            if len(rest) < 2:
                raise OdooError(TYPE_ERROR, "execute() missing required positional arguments")
            model, name, call_args, kwargs = rest[0], rest[1], list(rest[2:]), {}
        if kwargs is not None and not isinstance(kwargs, dict):
            raise OdooError(TYPE_ERROR, "execute() argument after ** must be a mapping")
        with self.store.transaction():
            return orm.call(self._env, model, name, call_args, kwargs)

    def _env(self, context: dict[str, Any]) -> Env:
        return Env(self.store, self.uid, context)


def _int(value: Any) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise OdooError(VALUE_ERROR, str(exc)) from exc
    except TypeError as exc:
        raise OdooError(TYPE_ERROR, str(exc)) from exc


def _call(fn: Any, args: list[Any], name: str) -> Any:
    try:
        return fn(*args)
    except TypeError as exc:
        message = str(exc)
        if "positional argument" in message:
            message = f"{name}(){message.split(')', 1)[-1]}"
        raise OdooError(TYPE_ERROR, message) from exc
