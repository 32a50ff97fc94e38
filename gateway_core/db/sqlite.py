"""SQLite connections: the file's pragmas, and the common connection interface over ``sqlite3``.

``connect`` opens a file the way every user of the usage database needs it (autocommit,
WAL, ``synchronous=NORMAL``, a busy timeout); ``SqliteConn`` wraps such a connection in the
interface the PostgreSQL one shares (``execute``, ``executemany``, ``transaction``,
``ddl``, ``columns``), adding nothing on the way: SQLite reads the common SQL as written.
A write transaction is ``BEGIN IMMEDIATE``, which takes the file's one write lock before
anything is read, so a check and the write that depends on it cannot interleave.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from .dialect import SQLITE_DIALECT

BUSY_TIMEOUT_MS = 10_000


def connect(path: str | Path, *, read_only: bool = False, create: bool = True, any_thread: bool = False) -> sqlite3.Connection:
    """Open a connection in autocommit mode with the pragmas every user of the log needs.

    Read-only connections may be used from any thread: analytics serialises every use under
    its own lock, and Streamlit runs each rerun of a page on a fresh thread. ``any_thread``
    allows the same for a writable connection whose owner serialises every use (the writer
    opens its connection at start-up, to report a bad path at once, then hands it to its
    thread). ``create=False`` opens an existing file only: a log deleted while in use must
    not come back empty."""
    same_thread = not (read_only or any_thread)
    if read_only or not create:
        mode = "ro" if read_only else "rw"
        conn = sqlite3.connect(
            f"file:{quote(str(Path(path)))}?mode={mode}",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=same_thread,
        )
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=same_thread)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not read_only:
        _switch_to_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """``journal_mode = WAL``, retried while another process holds the lock it needs.

    SQLite can answer this pragma with "database is locked" at once, without waiting out
    the busy timeout, when several processes open a fresh file together; so wait here,
    within the same bound."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


class SqliteConn:
    """A ``sqlite3`` connection behind the interface both databases share."""

    dialect = SQLITE_DIALECT

    def __init__(self, raw: sqlite3.Connection):
        self.raw = raw
        self.execute = raw.execute
        self.executemany = raw.executemany

    @contextmanager
    def transaction(self):
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if self.raw.in_transaction:
                self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def ddl(self, sql: str) -> None:
        self.raw.execute(sql)

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self.raw.execute(f'PRAGMA table_info("{table}")')}

    def lock(self, name: str) -> None:
        """Nothing to take: ``BEGIN IMMEDIATE`` already holds the file's one write lock."""

    def close(self) -> None:
        self.raw.close()
