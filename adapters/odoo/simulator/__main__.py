"""`python -m adapters.odoo.simulator --port N [--host H] [--database D] [--login L]
[--password P] [--empty] [--log-level LEVEL]`: serve the Odoo 17 simulator until interrupted."""

from __future__ import annotations

import argparse
import sys

from adapters.odoo.simulator.app import run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.odoo.simulator", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--database", default="demo")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--empty", action="store_true", help="no demo data, only a bare company")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    sys.stderr.write(
        f"Odoo 17 simulator on http://{args.host}:{args.port} (database {args.database!r})\n"
    )
    run(
        args.port,
        args.host,
        log_level=args.log_level,
        database=args.database,
        login=args.login,
        password=args.password,
        seed=not args.empty,
    )


if __name__ == "__main__":
    main()
