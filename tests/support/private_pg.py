"""A private PostgreSQL cluster a test starts, stops and restarts itself, on a port and data
directory of its own, so a fault test can take "the database" down without touching the
machine's shared server (`services.PG_HOST`:`PG_PORT`) that the rest of the suite runs on.

    async with private_postgres() as pg:        # skips (fails under REQUIRE_SERVICES=1) when
        settings = make_settings(pg.url, ...)   # this machine has no server binaries
        await pg.restart()                      # every open connection is cut
        await pg.stop("immediate")              # a crash: no checkpoint, open sessions killed
        await pg.start()                        # crash recovery, same port, same data

The server binaries are those of `TEST_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`,
else `initdb` on PATH. PostgreSQL refuses to run as root, so under root every server command
runs as the `postgres` OS user (`runuser`, else `su`), in a temp directory handed to that user;
otherwise it runs as ourselves. Authentication is `trust`; the superuser is `postgres`. Every
step is a subprocess awaited off the event loop, so in-process workers keep running (and see
the database vanish) while the server stops and starts. fsync and full-page writes are off
(only a machine crash would lose data, which no test does); synchronous_commit stays on, since
without it an immediate stop loses commits the client was told about, a false alarm in a test
of "no order lost".
"""

from __future__ import annotations

import asyncio
import atexit
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Literal

from tests.support.services import need

StopMode = Literal["smart", "fast", "immediate"]
OS_USER = "postgres"
SUPERUSER = "postgres"
SERVICE = "private PostgreSQL"
TIMEOUT = 60  # seconds pg_ctl waits for a start or stop


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    candidates: list[Path] = []
    if os.environ.get("TEST_PG_BIN"):
        candidates.append(Path(os.environ["TEST_PG_BIN"]))
    versions = Path("/usr/lib/postgresql").glob("*/bin")

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    candidates += sorted(versions, key=version, reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    for path in candidates:
        if all((path / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def unavailable_reason() -> str | None:
    """Why a private cluster cannot run here, or None if it can."""
    if find_bin_dir() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl; set TEST_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root and there is no {OS_USER!r} OS user to run the server as"
        if not (shutil.which("runuser") or shutil.which("su")):
            return "running as root and neither runuser nor su is there to drop privileges"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class PrivatePostgres:
    """One cluster: created by the first `start()`, removed by `close()` (or leaving
    `async with`). The port stays the same across stops and starts, so `url` does too."""

    def __init__(self, database: str = "gateway", *, parent_dir: Path | None = None) -> None:
        self.database = database
        self.port = 0
        self.running = False
        self._parent_dir = parent_dir
        self._base: Path | None = None
        self._bin: Path | None = None
        self._closed = False

    # -- where things are --------------------------------------------------------------------

    @property
    def base_dir(self) -> Path:
        assert self._base is not None, "not started"
        return self._base

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        """The server's own log (pg_ctl -l): read it when a start fails."""
        return self.base_dir / "server.log"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL the gateway takes."""
        assert self.port, "not started"
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """The same database as a plain libpq/asyncpg DSN."""
        assert self.port, "not started"
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the server; the first time, create the cluster and the database first."""
        assert not self._closed, "closed"
        if self.running:
            return
        if self._base is None:
            await self._create()
            return
        await self._pg_ctl_start()

    async def stop(self, mode: StopMode = "fast") -> None:
        """Stop the server: "fast" ends sessions and checkpoints (a clean shutdown),
        "immediate" kills everything without a checkpoint (recovery runs on the next start)."""
        if not self.running:
            return
        await self._run(
            self._bin_path("pg_ctl"), "-D", str(self.data_dir),
            "-m", mode, "-w", "-t", str(TIMEOUT), "stop",
        )  # fmt: skip
        self.running = False

    async def restart(self, mode: StopMode = "fast") -> None:
        """Stop (cutting every open connection) and start again on the same port."""
        await self.stop(mode)
        await self.start()

    async def close(self) -> None:
        """Stop the server at once, if it runs, and remove the cluster's directory."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.stop("immediate")
        finally:
            atexit.unregister(self._stop_at_exit)
            if self._base is not None:
                shutil.rmtree(self._base, ignore_errors=True)

    async def __aenter__(self) -> PrivatePostgres:
        try:
            await self.start()
        except BaseException:  # a failed start (or a skip) must not leave the directory behind
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the work ----------------------------------------------------------------------------

    async def _create(self) -> None:
        reason = unavailable_reason()
        need(SERVICE, reason is None, reason or "")
        self._bin = find_bin_dir()
        self._base = Path(tempfile.mkdtemp(prefix="rg-pg-", dir=self._parent_dir))
        if os.geteuid() == 0:  # the server runs as `postgres`: the directory must be its own
            account = pwd.getpwnam(OS_USER)
            os.chown(self._base, account.pw_uid, account.pw_gid)
        # If the test process dies without close(), do not leave a server running behind it.
        atexit.register(self._stop_at_exit)
        await self._run(
            self._bin_path("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions",
        )  # fmt: skip
        self.port = _free_port()
        await self._pg_ctl_start()
        import asyncpg

        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, database="postgres"
        )
        try:
            await conn.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await conn.close()

    async def _pg_ctl_start(self) -> None:
        # pg_ctl hands these to a shell; the socket goes in our own dir, not /var/run.
        options = (
            f"-p {self.port} -k {shlex.quote(str(self.base_dir))} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c full_page_writes=off"
        )
        await self._run(
            self._bin_path("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
            "-w", "-t", str(TIMEOUT), "-o", options, "start",
        )  # fmt: skip
        self.running = True

    def _bin_path(self, name: str) -> str:
        assert self._bin is not None
        return str(self._bin / name)

    def _command(self, argv: tuple[str, ...]) -> list[str]:
        """`argv` as the user the server runs as."""
        if os.geteuid() != 0:
            return list(argv)
        if shutil.which("runuser"):
            return ["runuser", "-u", OS_USER, "--", *argv]
        return ["su", OS_USER, "-s", "/bin/sh", "-c", shlex.join(argv)]

    async def _run(self, *argv: str) -> None:
        # Output to a file, not a pipe: the postmaster pg_ctl forks must not hold our pipe open.
        output = self.base_dir / "commands.log"
        # PG* variables of the caller (PGDATA, PGPORT, ...) would steer pg_ctl elsewhere.
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        with output.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                *self._command(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.base_dir,  # the postgres user may not enter the test's working dir
                env=env,
            )
            code = await process.wait()
        if code != 0:
            raise RuntimeError(
                f"{shlex.join(argv)} exited with {code}:\n{_tail(output)}\n"
                f"--- server log ---\n{_tail(self.log_path)}"
            )

    def _stop_at_exit(self) -> None:
        if not (self.running and self._base is not None):
            return
        data = str(self.data_dir)
        argv = (self._bin_path("pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
        with suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                self._command(argv),
                cwd=self._base,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=TIMEOUT,
                check=False,
            )
        shutil.rmtree(self._base, ignore_errors=True)


@asynccontextmanager
async def private_postgres(database: str = "gateway") -> AsyncIterator[PrivatePostgres]:
    """A started private cluster with `database` created; stopped and removed on exit."""
    async with PrivatePostgres(database) as pg:
        yield pg
