"""``gateway db``: apply the migrations, and copy a SQLite log into PostgreSQL.

``gateway db migrate`` brings the configured database (``GATEWAY_DB_URL``, else
``GATEWAY_DB_PATH``) up to date and names the steps it applied; instances also migrate at
start, under the same lock, so this is for doing it ahead of a rollout. ``gateway db copy
--from sqlite:PATH --to postgresql://...`` copies every table (see ``copy``), then compares
row counts and sums per table and exits 1 if any differ. Neither prints a password.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ValidationError
from .target import check_url, describe, is_postgres


def sqlite_source(text: str) -> Path:
    """``sqlite:PATH`` (or a bare path) as the path of an existing file."""
    path = Path(text[len("sqlite:") :] if text.startswith("sqlite:") else text)
    if is_postgres(text) or not path.is_file():
        raise ValidationError("--from", f"must name an existing SQLite file as sqlite:PATH; got {describe(text)!r}")
    return path


def _migrate(args: argparse.Namespace) -> int:
    from ..config import Settings
    from ..usage.migrations import migrate
    from . import connect

    target = args.url or Settings.from_env().database()
    conn = connect(target)
    try:
        applied = migrate(conn)
    finally:
        conn.close()
    print(f"{describe(target)}: " + (f"applied {', '.join(applied)}" if applied else "already up to date"))
    return 0


def _copy(args: argparse.Namespace) -> int:
    from ..config import Settings
    from .copy import compare, copy_database

    source = sqlite_source(args.source)
    target = args.to or Settings.from_env().database()
    try:
        target = check_url(str(target))
    except ValueError as e:
        raise ValidationError("--to", f"{e}") from None
    copied = copy_database(source, target)
    for table, n in copied.items():
        print(f"{table:<20} {n:>10} rows read")
    problems = compare(source, target)
    for problem in problems:
        print(f"mismatch: {problem}", file=sys.stderr)
    print(f"{describe(target)}: " + ("copy verified: every table's rows and sums match" if not problems else "copy differs"))
    return 1 if problems else 0


def add_commands(subparsers) -> None:
    group = subparsers.add_parser("db", help="migrate the usage database, or copy a SQLite log into PostgreSQL")
    sub = group.add_subparsers(dest="db_command", required=True)
    mig = sub.add_parser("migrate", help="apply pending migrations to GATEWAY_DB_URL (else GATEWAY_DB_PATH)")
    mig.add_argument("--url", default=None, help="another database than the configured one")
    mig.set_defaults(func=_migrate)
    cp = sub.add_parser("copy", help="copy a SQLite usage database into PostgreSQL and verify it")
    cp.add_argument("--from", dest="source", required=True, metavar="sqlite:PATH")
    cp.add_argument("--to", default=None, metavar="postgresql://...", help="default: GATEWAY_DB_URL")
    cp.set_defaults(func=_copy)
