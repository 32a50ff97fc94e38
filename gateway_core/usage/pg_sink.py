"""The PostgreSQL store behind the usage-log writer: a batch per transaction, through COPY.

``PostgresSink`` implements ``sink.Sink`` on one dedicated connection owned by the writer
thread. COPY (binary) is the fastest way into PostgreSQL but cannot skip rows whose key is already
stored, and replaying a spill file relies on exactly that. So a batch is first copied
straight into ``usage_logs``; the gateway's own rows never collide (fresh request ids), so
that is the path live traffic takes. If a key is already stored (a replay of rows partly
committed before), the unique index refuses the COPY, its transaction rolls back whole,
and the batch goes again through a temporary staging table (``ON COMMIT DELETE ROWS``,
private to the connection), moved by one ``INSERT ... SELECT ... ON CONFLICT (request_id,
attempt) DO NOTHING`` whose row count is the number of new rows. Refusals, rare, go by
``executemany``. Each commit first
takes the ``usage_logs`` append lock (an advisory lock, see ``db.postgres``), so ids are
handed out in commit order across every instance writing the same database: a mirror
reading ``id > watermark`` can never see a later id before an earlier one commits.

Errors are sorted by SQLSTATE (``db.postgres.problem``) into the writer's storage problems
(unreachable, full, read-only, locked...), which make it spill, or a bad row, which it
isolates. After a failure the connection is dropped and reopened on the next attempt;
``create=False`` then never creates tables, so a database emptied by hand is not silently
refilled from this process alone. The crash-loss bound is the writer's (see ``writer``):
a committed batch is durable under PostgreSQL's default ``synchronous_commit``.
"""

from __future__ import annotations

import contextlib

from ..db import postgres
from ..db.dialect import pyformat
from ..db.target import describe
from .migrations import migrate
from .schema import APPEND_LOCK, COLUMNS, REJECTED_INSERT_SQL, WRITABLE, quoted
from .sink import RowRejected, StorageUnavailable

_UNIQUE_VIOLATION = "23505"
_COLS = quoted(WRITABLE)
_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS usage_stage ON COMMIT DELETE ROWS AS SELECT {_COLS} FROM usage_logs WITH NO DATA",
    "ALTER TABLE usage_stage ADD COLUMN IF NOT EXISTS stage_ord BIGINT GENERATED ALWAYS AS IDENTITY",
)
# Binary COPY: numbers travel as machine values, not text the server parses again (measured
# 1.4-1.6x the rows/s of text COPY on this schema). Binary needs each column's exact type.
_COPY_DIRECT = f"COPY usage_logs ({_COLS}) FROM STDIN (FORMAT BINARY)"
_COPY_STAGED = f"COPY usage_stage ({_COLS}) FROM STDIN (FORMAT BINARY)"
_PG_TYPES = {"INTEGER": "int4", "REAL": "float8", "TEXT": "text", "BIGINT": "int8"}
_DECLARED = dict(COLUMNS)
COPY_TYPES = tuple(_PG_TYPES[_DECLARED[name].split()[0].upper()] for name in WRITABLE)
_FLOATS = tuple(i for i, t in enumerate(COPY_TYPES) if t == "float8")


def copy_row(row: tuple) -> tuple:
    """``row`` as binary COPY takes it: a whole number given for a double becomes a float
    (text would have let the server convert it; binary sends the bytes as they are)."""
    if any(type(row[i]) is int for i in _FLOATS):
        row = tuple(float(v) if i in _FLOATS and type(v) is int else v for i, v in enumerate(row))
    return row


_MOVE = (
    f"INSERT INTO usage_logs ({_COLS}) SELECT {_COLS} FROM usage_stage ORDER BY stage_ord"
    " ON CONFLICT (request_id, attempt) DO NOTHING"
)


def storage_problem(exc: BaseException) -> StorageUnavailable | None:
    """What a psycopg error says about the store, or None when it is about a row."""
    found = postgres.problem(exc)
    return StorageUnavailable(*found) if found else None


class PostgresSink:
    """The writer's connection to one PostgreSQL database."""

    def __init__(self, url: str, *, busy_timeout_s: float = 10.0):
        self.url = url
        self.path = describe(url)  # what start-up errors show: never the password
        self.busy_timeout_s = busy_timeout_s
        self.retries = 0
        self._conn = None

    def open(self, *, create: bool) -> None:
        """Connect, apply pending migrations (``create``) and prepare the staging table."""
        self.close()
        try:
            conn = postgres.open_connection(self.url)
        except Exception as exc:  # noqa: BLE001 - sorted below; nothing else can come of connecting
            raise self._problem(exc) from None
        try:
            shared = postgres.PgConn(conn, self.url)
            if create:
                migrate(shared)
            conn.execute(f"SET lock_timeout = {int(self.busy_timeout_s * 1000)}")
            for statement in _STAGE:
                conn.execute(statement)
        except Exception as exc:  # noqa: BLE001
            with contextlib.suppress(Exception):
                conn.close()
            raise self._problem(exc) from None
        self._conn = conn

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    def check(self) -> None:
        """Raise ``StorageUnavailable`` if the connection is known to be lost (no round trip)."""
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self.close()
            raise StorageUnavailable("unreachable", "the connection to the database server was lost")

    def commit(self, rows: list[tuple], *, lock_wait_s: float | None = None) -> int:
        """Insert ``rows`` in one transaction; returns how many were new (see ``sink.Sink``)."""
        if self._conn is None:
            self.open(create=False)
        conn = self._conn
        try:
            try:
                return self._transact(conn, rows, lock_wait_s, direct=True)
            except Exception as exc:  # noqa: BLE001 - only a key already stored is retried
                if postgres.sqlstate(exc) != _UNIQUE_VIOLATION:
                    raise
            return self._transact(conn, rows, lock_wait_s, direct=False)
        except Exception as exc:  # noqa: BLE001 - sorted into the store's problems or the row's
            problem = storage_problem(exc)
            if problem is None:
                raise RowRejected(str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__) from None
            if problem.kind != "locked" or conn.broken:
                self.close()
            raise problem from None

    def _transact(self, conn, rows: list[tuple], lock_wait_s: float | None, *, direct: bool) -> int:
        with conn.transaction():
            if lock_wait_s is not None:
                wait_ms = int(min(lock_wait_s, self.busy_timeout_s) * 1000)
                conn.execute(f"SET LOCAL lock_timeout = {wait_ms}")
                conn.execute(f"SET LOCAL statement_timeout = {max(wait_ms, 1000) * 5}")
            return self._insert(conn, rows, direct)

    @staticmethod
    def _insert(conn, rows: list[tuple], direct: bool) -> int:
        usage = [r for r in rows if type(r) is tuple]
        inserted = 0
        if rows:  # one appender at a time, as on SQLite: ids follow commit order
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (postgres.lock_key(APPEND_LOCK),))
        if usage:
            cur = conn.cursor()
            with cur.copy(_COPY_DIRECT if direct else _COPY_STAGED) as copy:
                copy.set_types(COPY_TYPES)
                for row in usage:
                    copy.write_row(copy_row(row))
            inserted = len(usage) if direct else max(cur.execute(_MOVE).rowcount, 0)
        if len(usage) < len(rows):
            cur = conn.cursor()
            cur.executemany(pyformat(REJECTED_INSERT_SQL), [r for r in rows if type(r) is not tuple])
            inserted += max(cur.rowcount, 0)
        if not rows:
            conn.execute("SELECT 1")  # a probe: an empty commit still proves the server answers
        return inserted

    def _problem(self, exc: BaseException) -> StorageUnavailable:
        problem = storage_problem(exc) or StorageUnavailable("unusable", type(exc).__name__)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        detail = first.replace(self.url, self.path) if first else ""
        problem.message = f"{problem.message} ({detail})" if detail else problem.message
        return problem

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None
