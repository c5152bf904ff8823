"""A real trytond for the tests: installed into its own virtual environment and seeded with the
demo data set once (cached under ~/.cache/retail-gateway, see deploy/tryton), then started on
a loopback port with a private copy of the database. Without REQUIRE_SERVICES the Tryton tests
skip (loudly) when it cannot be built; with it they fail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from deploy.tryton.tryton_server import TrytonProcess, ensure_database, start_server
from tests.support.services import need

STORES = ("ST-AMS", "ST-UTR")


@contextmanager
def tryton_server(session_max_age: int | None = None) -> Iterator[TrytonProcess]:
    try:
        database = ensure_database()
    except Exception as error:  # the build needs PyPI the first time
        need("Tryton", False, f"could not build the Tryton database: {error}")
        raise
    server = start_server(database, session_max_age=session_max_age)
    try:
        yield server
    finally:
        server.stop()


def tryton_settings(server: TrytonProcess) -> tuple[dict[str, object], dict[str, str]]:
    """The binding settings and secrets of a tenant served by `server`."""
    settings = {
        "url": server.url,
        "database": server.database,
        "username": server.user,
        "store_location_codes": list(STORES),
    }
    return settings, {"password": server.password}
