"""The usage database on SQLite or PostgreSQL: one connection interface, one dialect layer.

A *target* (``target``) is a SQLite file path or a ``postgresql://`` URL; ``connect``
opens either and returns a connection with the same small interface (``execute``,
``executemany``, ``transaction``, ``ddl``, ``columns``, ``lock``, ``close``), so every
statement in the project is written once, in SQL both databases read, and ``dialect``
rewrites the little that differs. ``sqlite`` keeps the file's pragmas; ``postgres`` keeps
one psycopg pool per database and process. ``copy`` moves a SQLite log into PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .dialect import POSTGRES_DIALECT, SQLITE_DIALECT, Dialect
from .errors import UNAVAILABLE, DatabaseUnavailable
from .sqlite import SqliteConn
from .target import Target, describe, identity, is_postgres

__all__ = [
    "UNAVAILABLE",
    "DatabaseUnavailable",
    "Dialect",
    "SqliteConn",
    "Target",
    "as_conn",
    "connect",
    "describe",
    "dialect_of",
    "identity",
    "is_postgres",
]


def dialect_of(target: Target) -> Dialect:
    return POSTGRES_DIALECT if is_postgres(target) else SQLITE_DIALECT


def connect(target: Target, *, read_only: bool = False, create: bool = True, any_thread: bool = False):
    """A connection to ``target``: a pooled PostgreSQL one, or a SQLite file opened with the
    log's pragmas (``read_only``, ``create`` and ``any_thread`` as ``sqlite.connect``)."""
    if is_postgres(target):
        from . import postgres

        return postgres.connect(str(target))
    from .sqlite import connect as connect_file

    return SqliteConn(connect_file(Path(target), read_only=read_only, create=create, any_thread=any_thread))


def as_conn(conn):
    """``conn`` in the shared interface: a raw ``sqlite3`` connection is wrapped, others pass."""
    return SqliteConn(conn) if isinstance(conn, sqlite3.Connection) else conn
