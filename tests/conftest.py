"""Shared fixtures: the database each API test runs on (SQLite and PostgreSQL), the gateway
running on it with two tenants, and the loud notice when a service was unreachable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.reports import REPORTS
from tests.support.services import (
    SKIPPED_SERVICES,
    create_database,
    drop_database,
    services_required,
)

DATABASES = ["sqlite", "postgres"]


@pytest.fixture(scope="session", params=DATABASES)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "gateway.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = await create_database()
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture(scope="session")
async def gateway(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    """A gateway with tenants `acme` and `globex`, each with a full-scope channel client, and a
    platform operator client `operator`."""
    var_dir: Path = tmp_path_factory.mktemp("var")
    async with running_gateway(make_settings(database_url, var_dir)) as gw:
        await gw.add_tenant("acme")
        await gw.add_tenant("globex")
        await gw.add_client("operator", None)
        yield gw


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for section, lines in REPORTS.items():
        terminalreporter.write_sep("-", section)
        for line in lines:
            terminalreporter.write_line(line)
    if SKIPPED_SERVICES and not services_required():
        terminalreporter.write_sep("!", "SERVICES UNREACHABLE", red=True, bold=True)
        terminalreporter.write_line(
            "Tests needing " + ", ".join(sorted(SKIPPED_SERVICES)) + " were SKIPPED. "
            "Start them (see README) or run with REQUIRE_SERVICES=1 to make this a failure.",
            red=True,
        )
