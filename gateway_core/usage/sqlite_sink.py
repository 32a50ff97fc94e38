"""The SQLite store behind the usage-log writer: commit a batch of rows, or raise saying why not.

``SqliteSink`` implements ``sink.Sink`` and owns the writer thread's one connection. ``commit(rows)`` inserts a batch in
one ``BEGIN IMMEDIATE`` transaction and returns how many rows were new (a row whose
``(request_id, attempt)`` is already stored is skipped), or raises ``StorageUnavailable``
with a short machine-readable ``kind`` and a sentence, so the writer can spill the batch
and health can say what is wrong. ``storage_problem`` is the pure table that sorts
SQLite's result codes into "the store is unwell" (disk full, read-only, I/O error, locked
past the busy timeout, damaged) and "this row is bad", which is a bug to report, not a
reason to spill.

A file deleted or replaced under an open connection is the trap: SQLite keeps writing to
the unlinked inode, and every row committed there is gone. So the sink notes the file's
identity when it opens, compares it before and after every commit, and reports
``deleted`` when it changed; it then reopens only a file that exists (``create=False``),
so a log deleted in use is never silently recreated empty. Restoring the file (from a
backup, or by starting any gateway process, which creates a fresh log) ends the outage.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from .migrations import migrate
from .schema import INSERT_SQL, REJECTED_INSERT_SQL, connect
from .sink import RowRejected, StorageUnavailable

# SQLite primary result code -> (kind, sentence). Codes not listed are row errors.
_PROBLEMS = {
    sqlite3.SQLITE_FULL: ("full", "the database or its disk is full"),
    sqlite3.SQLITE_READONLY: ("read_only", "the database is read-only"),
    sqlite3.SQLITE_PERM: ("read_only", "the database may not be written"),
    sqlite3.SQLITE_IOERR: ("io_error", "disk I/O error"),
    sqlite3.SQLITE_CANTOPEN: ("cannot_open", "the database file cannot be opened"),
    sqlite3.SQLITE_BUSY: ("locked", "another connection held the write lock past the busy timeout"),
    sqlite3.SQLITE_LOCKED: ("locked", "another connection held the write lock past the busy timeout"),
    sqlite3.SQLITE_CORRUPT: ("damaged", "the database file is damaged"),
    sqlite3.SQLITE_NOTADB: ("damaged", "the file is not a SQLite database"),
    sqlite3.SQLITE_ERROR: ("unusable", "the database cannot be used"),  # e.g. its tables are gone
    sqlite3.SQLITE_NOMEM: ("unusable", "SQLite ran out of memory"),
    sqlite3.SQLITE_PROTOCOL: ("locked", "the database lock protocol failed"),
}
_LOCK_KINDS = ("locked",)


def storage_problem(exc: sqlite3.Error) -> StorageUnavailable | None:
    """What an SQLite error says about the store, or None when it is about the row itself."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        # Raised by the sqlite3 module itself (a closed connection, say): never the row's fault.
        return (
            None
            if isinstance(exc, (sqlite3.IntegrityError, sqlite3.InterfaceError))
            else StorageUnavailable("unusable", str(exc))
        )
    found = _PROBLEMS.get(code & 0xFF)
    return StorageUnavailable(*found) if found else None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class SqliteSink:
    """The writer's connection to one SQLite log file."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 10.0, max_bytes: int | None = None):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.max_bytes = max_bytes
        self.retries = 0
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None

    def open(self, *, create: bool) -> None:
        """Connect and apply pending migrations; raises ``StorageUnavailable``."""
        self.close()
        if not create and _identity(self.path) is None:
            raise StorageUnavailable("deleted", "the database file is missing (deleted while in use)")
        try:
            conn = connect(self.path, create=create, any_thread=True)
        except sqlite3.Error as exc:
            raise _opening_problem(self.path, exc) from None
        try:
            self._set_busy_timeout(conn, self.busy_timeout_s)
            if self.max_bytes:
                page = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count = {max(1, self.max_bytes // page)}")
            migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise _opening_problem(self.path, exc) from None
        self._conn, self._identity = conn, _identity(self.path)

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    def check(self) -> None:
        """Raise ``StorageUnavailable("deleted")`` if the file is no longer the one opened."""
        if self._identity is not None and _identity(self.path) != self._identity:
            self.close()
            raise StorageUnavailable("deleted", "the database file was deleted or replaced while in use")

    def commit(self, rows: list[tuple], *, lock_wait_s: float | None = None) -> int:
        """Insert ``rows`` in one transaction (plain tuples into ``usage_logs``, ``RejectedValues``
        into ``rejected_requests``); returns how many were new.

        Raises ``StorageUnavailable`` when the store cannot take them (the connection is
        dropped and reopened next time, except after a lock timeout) and ``RowRejected``
        when a row itself is bad."""
        if self._conn is None:
            self.open(create=False)
        self.check()
        conn = self._conn
        wait = self.busy_timeout_s if lock_wait_s is None else min(lock_wait_s, self.busy_timeout_s)
        if lock_wait_s is not None:
            self._set_busy_timeout(conn, wait)
        try:
            inserted = self._insert(conn, rows, wait)
        finally:
            if lock_wait_s is not None and self._conn is not None:
                self._set_busy_timeout(self._conn, self.busy_timeout_s)
        self.check()  # committed into a file that was deleted meanwhile counts as not committed
        return inserted

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple], wait_s: float) -> int:
        deadline = time.monotonic() + wait_s
        delay = 0.01
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                inserted = _insert(conn, rows)
                conn.execute("COMMIT")
                return inserted
            except sqlite3.Error as exc:
                self._rollback(conn)
                problem = storage_problem(exc)
                if problem is None:
                    raise RowRejected(str(exc)) from None
                # SQLite can answer "locked" at once instead of waiting (deadlock avoidance
                # in WAL mode): wait out the same bound here before giving up.
                if problem.kind in _LOCK_KINDS and time.monotonic() < deadline:
                    self.retries += 1
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                if problem.kind not in _LOCK_KINDS:
                    self.close()
                raise problem from None

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    @staticmethod
    def _set_busy_timeout(conn: sqlite3.Connection, seconds: float) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn, self._identity = None, None


def _insert(conn: sqlite3.Connection, rows: list[tuple]) -> int:
    """One ``executemany`` per table; plain tuples are ``usage_logs`` rows. Returns rows added."""
    usage = [r for r in rows if type(r) is tuple]
    inserted = max(conn.executemany(INSERT_SQL, usage).rowcount, 0) if usage else 0
    if len(usage) < len(rows):
        refused = [r for r in rows if type(r) is not tuple]
        inserted += max(conn.executemany(REJECTED_INSERT_SQL, refused).rowcount, 0)
    return inserted


def _opening_problem(path: Path, exc: sqlite3.Error) -> StorageUnavailable:
    """Why a log cannot be opened, in words an operator can act on."""
    problem = storage_problem(exc) or StorageUnavailable("unusable", str(exc))
    if problem.kind in ("cannot_open", "read_only"):
        if path.is_dir():
            problem.message = "the path is a directory, not a file"
        elif not path.parent.is_dir():
            problem.message = "its directory does not exist"
        elif path.exists():
            problem.message = "the file or its directory is read-only"
        else:
            problem.message = "the file cannot be created in its directory (is it read-only?)"
    return problem
