"""Reading and holding the usage database in tests, whichever backend a test runs on.

``rows`` runs one statement (written with ``?`` placeholders) against a SQLite file or a
PostgreSQL URL; ``hold_append_lock`` holds what a second writer would hold while appending
to ``usage_logs`` (SQLite's write lock, or PostgreSQL's append lock), so a test can show
the log's writer waiting without the request path noticing.
"""

from __future__ import annotations

from contextlib import contextmanager

from gateway_core import db


def rows(target, sql: str, params=()) -> list[tuple]:
    conn = db.connect(target)
    try:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def one(target, sql: str, params=()):
    found = rows(target, sql, params)
    return found[0] if found else None


def count(target, table: str = "usage_logs") -> int:
    return one(target, f"SELECT count(*) FROM {table}")[0]


def execute(target, sql: str, params=()) -> None:
    conn = db.connect(target)
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


class AppendLock:
    """What a second writer holds while appending to ``usage_logs``: SQLite's write lock, or
    PostgreSQL's append lock; ``take`` and ``release`` at any moment a test chooses."""

    def __init__(self, target):
        self.target = target
        self._conn = db.connect(target)
        self.held = False

    def take(self) -> None:
        if db.is_postgres(self.target):
            from gateway_core.db.postgres import lock_key
            from gateway_core.usage.pg_sink import APPEND_LOCK

            self._conn.execute("SELECT pg_advisory_lock(?)", (lock_key(APPEND_LOCK),))
        else:
            self._conn.execute("BEGIN IMMEDIATE")
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        if db.is_postgres(self.target):
            self._conn.execute("SELECT pg_advisory_unlock_all()")
        else:
            self._conn.execute("ROLLBACK")
        self.held = False

    def close(self) -> None:
        self.release()
        self._conn.close()


@contextmanager
def hold_append_lock(target):
    """Hold the lock every ``usage_logs`` append takes, until the block ends."""
    lock = AppendLock(target)
    lock.take()
    try:
        yield
    finally:
        lock.close()
