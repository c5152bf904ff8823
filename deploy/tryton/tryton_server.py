"""Run a real Tryton 8.2 server seeded with the retail demo data set, for adapter tests.

`ensure_database()` installs trytond into its own virtualenv and builds the seeded SQLite
database once, cached under `${XDG_CACHE_HOME:-~/.cache}/retail-gateway/tryton-8.2/` and named by
a fingerprint of the seed script, the data set and the trytond version. `start_server()` serves a
private copy of that database on a loopback port, so tests never mutate the cache.

CLI (from the repo root):
    python -m deploy.tryton.tryton_server ensure            # prints the database path
    python -m deploy.tryton.tryton_server serve --port 8069 # prints one JSON line, Ctrl-C stops

Stdlib only on purpose: it must run before any project dependency is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

SERIES = "8.2"
DATABASE = "retail"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"
# sale pulls in account, account_invoice(_stock), account_product, company, country, currency,
# party, product and stock; product_measurements holds the variant weight.
MODULES = (
    "product",
    "product_attribute",
    "product_measurements",
    "stock",
    "sale",
    "party",
    "company",
    "currency",
    "country",
    "account",
    "account_invoice",
    "account_invoice_stock",
    "account_product",
)
REQUIREMENTS = (
    f"trytond=={SERIES}.*",
    f"proteus=={SERIES}.*",
    *(f"trytond_{module}=={SERIES}.*" for module in MODULES),
)
SEED_SCRIPT = Path(__file__).with_name("seed_tryton.py")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "retail-gateway" / f"tryton-{SERIES}"


@contextlib.contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    """Serialise builders across processes: a second caller waits, then finds the cache."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _venv_marker(cache_dir: Path) -> Path:
    return cache_dir / "venv" / "retail-gateway.json"


def _installed_trytond(cache_dir: Path) -> str | None:
    """trytond version of a complete venv built for today's REQUIREMENTS, else None."""
    try:
        marker = json.loads(_venv_marker(cache_dir).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("requirements") != list(REQUIREMENTS):
        return None
    version = marker.get("trytond")
    return version if isinstance(version, str) else None


def ensure_venv(cache_dir: Path) -> str:
    """Create the trytond virtualenv if missing or stale; returns the trytond version."""
    version = _installed_trytond(cache_dir)
    if version:
        return version
    venv = cache_dir / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
        check=True,
    )
    version = subprocess.run(
        [python, "-c", "import trytond; print(trytond.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Written last: its presence means the install finished.
    _venv_marker(cache_dir).write_text(
        json.dumps({"requirements": list(REQUIREMENTS), "trytond": version})
    )
    return version


def dataset_json() -> str:
    """The demo data set as the seed script reads it: Decimals as strings, datetimes ISO."""
    from adapters._demo import demo_dataset
    from adapters._demo.dataset import BASE_TIME

    def default(value: object) -> str:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    payload = {"as_of": BASE_TIME, **dataclasses.asdict(demo_dataset())}
    return json.dumps(payload, default=default, sort_keys=True)


def _fingerprint(data: str, trytond_version: str) -> str:
    digest = hashlib.sha256()
    # REQUIREMENTS too: a changed module list installs new modules under the same trytond.
    parts = (SEED_SCRIPT.read_text(encoding="utf-8"), data, trytond_version, *REQUIREMENTS)
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _write_config(
    path: Path, db_dir: Path, port: int | None = None, session_max_age: int | None = None
) -> None:
    lines = ["[database]", "uri = sqlite://", f"path = {db_dir}", "language = en"]
    if port is not None:
        lines += ["[web]", f"listen = 127.0.0.1:{port}"]
    if session_max_age is not None:  # seconds a session lives (default 30 days)
        lines += ["[session]", f"max_age = {session_max_age}"]
    path.write_text("\n".join(lines) + "\n")


def ensure_database(cache_dir: Path | None = None) -> Path:
    """Path of the seeded SQLite database, building venv and database on first use."""
    cache_dir = cache_dir or default_cache_dir()
    data = dataset_json()
    version = _installed_trytond(cache_dir)
    if version:
        target = cache_dir / "db" / f"{DATABASE}-{_fingerprint(data, version)}.sqlite"
        if target.exists():
            return target
    with _locked(cache_dir):
        version = ensure_venv(cache_dir)
        target = cache_dir / "db" / f"{DATABASE}-{_fingerprint(data, version)}.sqlite"
        if target.exists():  # another process built it while we waited for the lock
            return target
        target.parent.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix="build-") as tmp:
            build = Path(tmp)
            (build / "dataset.json").write_text(data, encoding="utf-8")
            (build / "password").write_text(ADMIN_PASSWORD + "\n")
            _write_config(build / "trytond.conf", build)
            (build / f"{DATABASE}.sqlite").touch()
            subprocess.run(
                [
                    str(cache_dir / "venv" / "bin" / "python"),
                    str(SEED_SCRIPT),
                    str(build / "dataset.json"),
                    str(build / "trytond.conf"),
                    DATABASE,
                    str(build / "password"),
                ],
                check=True,
                cwd=build,
                stdin=subprocess.DEVNULL,
            )
            # trytond runs SQLite in WAL mode; fold the log back so one file is the database.
            with contextlib.closing(sqlite3.connect(build / f"{DATABASE}.sqlite")) as db:
                db.execute("PRAGMA journal_mode = DELETE")
            # Rename is atomic: readers never see a half-built database.
            (build / f"{DATABASE}.sqlite").replace(target)
        for stale in target.parent.glob(f"{DATABASE}-*.sqlite"):
            if stale != target:  # built from an older seed script, data set or trytond
                stale.unlink(missing_ok=True)
        return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclasses.dataclass
class TrytonProcess:
    """A running trytond serving a private copy of the seeded database.

    JSON-RPC: POST `rpc_url` with {"id", "method", "params"}; log in with `common.db.login`
    [user, {"password": ...}], then send `Authorization: Session base64(user:uid:session)`
    and, as the last param of every call, the context from `model.res.user.get_preferences`
    [true, {}] (it carries `company`, which prices and sales need, and `warehouse`)."""

    url: str
    database: str
    user: str
    password: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    owns_workdir: bool = False

    @property
    def rpc_url(self) -> str:
        return f"{self.url}{self.database}/rpc/"

    def stop(self) -> None:
        if self.process.poll() is None:
            # trytond runs in its own session: signal the group so no worker outlives it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> TrytonProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _rpc(url: str, method: str, params: list[Any], timeout: float = 5.0) -> Any:
    body = json.dumps({"id": 0, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # loopback only
        return json.loads(response.read())


def _wait_ready(server: TrytonProcess, log: Path, timeout: float) -> None:
    """Wait until a login succeeds: that also loads the module pool, so the first real
    request is not the slow one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"trytond exited ({server.process.returncode}):\n"
                f"{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            answer = _rpc(
                server.rpc_url,
                "common.db.login",
                [server.user, {"password": server.password}],
                timeout=30,
            )
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
            continue
        if "result" in answer:
            return
        raise RuntimeError(f"trytond login failed: {answer}")
    raise TimeoutError(f"trytond did not answer within {timeout}s; log at {log}")


def start_server(
    db_path: Path,
    port: int = 0,
    workdir: Path | None = None,
    timeout: float = 60.0,
    session_max_age: int | None = None,
) -> TrytonProcess:
    """Serve a fresh copy of `db_path` on 127.0.0.1:`port` (0 picks a free port).

    `session_max_age` shortens the session lifetime (trytond: 30 days; its `timeout` only
    guards "fresh session" actions) so tests can provoke the HTTP 401 of an expired session."""
    venv_bin = db_path.parent.parent / "venv" / "bin"
    owns_workdir = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="tryton-")) if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    if owns_workdir or not (workdir / f"{DATABASE}.sqlite").exists():
        # A caller-chosen workdir keeps its database across starts (the demo's var/tryton).
        shutil.copyfile(db_path, workdir / f"{DATABASE}.sqlite")
    port = port or _free_port()
    _write_config(workdir / "trytond.conf", workdir, port, session_max_age)
    log = workdir / "trytond.log"
    with log.open("wb") as log_handle:
        # `-d` loads the database's module pool at start-up. Without it trytond 8.2 answers
        # the first common.db.login with KeyError 'res.user': Cache.sync registers an empty
        # pool before security.login checks whether the pool still needs initialising.
        process = subprocess.Popen(
            [str(venv_bin / "trytond"), "-c", str(workdir / "trytond.conf"), "-d", DATABASE],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = TrytonProcess(
        url=f"http://127.0.0.1:{port}/",
        database=DATABASE,
        user=ADMIN_USER,
        password=ADMIN_PASSWORD,
        port=port,
        workdir=workdir,
        process=process,
        owns_workdir=owns_workdir,
    )
    try:
        _wait_ready(server, log, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.tryton.tryton_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cache-dir", type=Path, default=None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ensure", help="build the seeded database if needed, print its path")
    serve = commands.add_parser("serve", help="ensure, then serve in the foreground")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workdir", type=Path, default=None, help="keep the database here across starts"
    )
    args = parser.parse_args(argv)

    db_path = ensure_database(args.cache_dir)
    if args.command == "ensure":
        print(db_path)
        return 0
    server = start_server(db_path, port=args.port, workdir=args.workdir)
    print(
        json.dumps(
            {
                "url": server.url,
                "database": server.database,
                "user": server.user,
                "password": server.password,
            }
        ),
        flush=True,
    )
    # Ctrl-C and SIGTERM both end in `finally: server.stop()`; SIGINT is re-armed because a
    # shell starting us in the background (`&`) hands it down ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while server.process.poll() is None:
            time.sleep(0.5)
        return server.process.returncode or 1
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
