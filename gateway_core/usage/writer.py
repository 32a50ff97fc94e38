"""The usage log: the gateway's system of record, one SQLite row per provider attempt.

The request path only calls ``UsageLog.write(row)``, which validates the keys and puts the
row on an in-memory queue; a daemon thread drains the queue and commits rows in batches
(one transaction, one ``executemany`` per table per batch). Refused requests travel the
same queue to their own table (``write_rejected``), so logging a refusal never blocks either. The database runs in WAL mode with
``synchronous=NORMAL`` and a busy timeout, so several gateway processes can share one
file: a locked database is retried with backoff, never dropped. The schema, migrations
and row shape live in ``schema`` and ``migrations``; rows are built in ``rows``.

Crash-loss bound: an application crash loses only rows that were queued but not yet
committed, i.e. at most one batch (``batch_max`` rows) plus whatever was queued during
the last ``flush_interval_s``. ``close()`` and the ``atexit`` hook flush, so a normal
exit loses nothing. WAL with ``synchronous=NORMAL`` keeps every commit across an
application crash; only a power loss can drop the last few commits.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from .migrations import ensure_schema
from .schema import (
    INSERT_SQL,
    RECENT_COLUMNS,
    REJECTED_INSERT_SQL,
    REJECTED_WRITABLE_SET,
    STATUSES,
    VERDICTS,
    WRITABLE_SET,
    connect,
    money_value,
    rejected_values,
    row_values,
    utc_now_text,
)

log = logging.getLogger(__name__)


# --- the writer ------------------------------------------------------------------------

_OPEN_LOGS: weakref.WeakSet[UsageLog] = weakref.WeakSet()


class _Rejection:
    """A queued ``rejected_requests`` row (the queue's plain tuples are ``usage_logs`` rows)."""

    __slots__ = ("row", "epoch")

    def __init__(self, row: dict, epoch: float):
        self.row, self.epoch = row, epoch


class _RejectedValues(tuple):
    """A ``rejected_requests`` INSERT tuple, told apart from usage rows inside a batch."""


def _insert(conn: sqlite3.Connection, rows: list) -> None:
    usage = [r for r in rows if type(r) is tuple]
    if usage:
        conn.executemany(INSERT_SQL, usage)
    if len(usage) < len(rows):
        conn.executemany(REJECTED_INSERT_SQL, [r for r in rows if type(r) is not tuple])


@atexit.register
def _close_open_logs() -> None:
    for usage_log in list(_OPEN_LOGS):
        usage_log.close()


class UsageLog:
    """Append-only writer plus the few reads the router and console need."""

    def __init__(self, path: str | Path, *, batch_max: int = 500, flush_interval_s: float = 0.05):
        self.path = Path(path)
        self.batch_max = batch_max
        self.flush_interval_s = flush_interval_s
        ensure_schema(self.path)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stats = {"rows_written": 0, "rows_failed": 0, "batches": 0, "retries": 0}
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="usage-log-writer", daemon=True)
        self._thread.start()
        _OPEN_LOGS.add(self)

    # The request path: validate keys, enqueue, return. No disk, no formatting.
    def write(self, row: dict) -> None:
        if not WRITABLE_SET.issuperset(row):
            unknown = sorted(set(row) - WRITABLE_SET)
            raise ValueError(f"unknown usage_logs column(s): {', '.join(unknown)}")
        if row.get("status", "ok") not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {row['status']!r}")
        if self._closed:
            raise RuntimeError("usage log is closed")
        self._queue.put((row, time.time()))

    def write_rejected(self, row: dict) -> None:
        """Queue one ``rejected_requests`` row; committed with the next batch, like ``write``."""
        if not REJECTED_WRITABLE_SET.issuperset(row):
            unknown = sorted(set(row) - REJECTED_WRITABLE_SET)
            raise ValueError(f"unknown rejected_requests column(s): {', '.join(unknown)}")
        if self._closed:
            raise RuntimeError("usage log is closed")
        self._queue.put(_Rejection(row, time.time()))

    def flush(self, timeout: float = 10) -> bool:
        """Block until every row queued before this call is committed; False on timeout."""
        if not self._thread.is_alive():
            return self._queue.empty()
        done = threading.Event()
        self._queue.put(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 30) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        self._wake.set()
        self._thread.join(timeout)
        _OPEN_LOGS.discard(self)

    def stats(self) -> dict:
        return {**self._stats, "queue_depth": self._queue.qsize()}

    def __enter__(self) -> UsageLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        conn = connect(self.path)
        try:
            stop = False
            while not stop:
                # Sleep rather than block on the queue: a blocked get() makes every put() on
                # the request path wake this thread and hand it the GIL (~80 us a request
                # measured); polling every flush interval costs nothing per request.
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
                more = True
                while more and not stop:
                    rows, events, stop, more = self._next_batch()
                    if rows:
                        self._commit(conn, rows)
                    for event in events:
                        event.set()
        finally:
            conn.close()

    def _next_batch(self) -> tuple[list, list, bool, bool]:
        """Take what is queued, up to one batch: (rows, flush events, stop, maybe more)."""
        rows: list = []
        events: list = []
        while len(rows) < self.batch_max:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return rows, events, False, False
            if item is None:
                return rows, events, True, False
            if isinstance(item, threading.Event):
                events.append(item)
            elif type(item) is _Rejection:
                rows.append(_RejectedValues(rejected_values(item.row, item.epoch)))
            else:
                rows.append(row_values(*item))
        return rows, events, False, True

    def _commit(self, conn: sqlite3.Connection, rows: list) -> None:
        try:
            self._with_retry(conn, lambda: _insert(conn, rows))
        except sqlite3.Error as exc:
            # One bad row must not take its batch down with it: insert one by one and
            # keep every row that can be stored.
            log.error("usage log batch of %d rows failed (%s); inserting row by row", len(rows), exc)
            for row in rows:
                try:
                    self._with_retry(conn, lambda row=row: _insert(conn, [row]))
                except sqlite3.Error as row_exc:
                    self._stats["rows_failed"] += 1
                    log.error("usage log row for request %s not stored: %s", row[1], row_exc)
                    continue
                self._stats["rows_written"] += 1
            return
        self._stats["rows_written"] += len(rows)
        self._stats["batches"] += 1

    def _with_retry(self, conn: sqlite3.Connection, work: Callable[[], Any]) -> None:
        """Run ``work`` in one write transaction; a locked database is retried, never dropped."""
        delay = 0.01
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                work()
                conn.execute("COMMIT")
                return
            except sqlite3.OperationalError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                self._stats["retries"] += 1
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # --- reads -------------------------------------------------------------------------

    def record_vote(
        self,
        *,
        compare_id: str,
        verdict: str,
        task: str | None = None,
        user: str | None = None,
        a: Any = None,
        b: Any = None,
        provider_a: str | None = None,
        model_a: str | None = None,
        cost_a_usd: Decimal | float | None = None,
        provider_b: str | None = None,
        model_b: str | None = None,
        cost_b_usd: Decimal | float | None = None,
    ) -> int:
        """Store one blind A/B verdict synchronously; returns its id.

        Each side is given either as a result (``a``/``b``: anything with ``provider``,
        ``model`` and ``cost_usd``) or field by field.
        """
        if verdict not in VERDICTS:
            raise ValidationError("verdict", f"must be one of {', '.join(VERDICTS)}; got {verdict!r}"[:200])
        if a is not None:
            provider_a, model_a, cost_a_usd = a.provider, a.model, a.cost_usd
        if b is not None:
            provider_b, model_b, cost_b_usd = b.provider, b.model, b.cost_usd
        if not provider_a or not provider_b:
            raise ValidationError("provider", "both sides of a vote need a provider")
        winner = {"a": (provider_a, model_a), "b": (provider_b, model_b)}.get(verdict, (None, None))
        values = (
            utc_now_text(),
            compare_id,
            task,
            provider_a,
            model_a,
            provider_b,
            model_b,
            verdict,
            *winner,
            money_value(cost_a_usd),
            money_value(cost_b_usd),
            user,
        )
        conn = connect(self.path)
        try:
            cur = conn.execute(
                "INSERT INTO ab_votes (ts, compare_id, task, provider_a, model_a, provider_b, model_b, verdict,"
                " winner_provider, winner_model, cost_a_usd, cost_b_usd, user) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                values,
            )
            return int(cur.lastrowid)
        finally:
            conn.close()

    def vote_tallies(self) -> list[tuple]:
        """(provider, model, task, votes, wins) per side of every blind vote, for the quality floor."""
        conn = connect(self.path, read_only=True)
        try:
            return conn.execute(
                """SELECT provider, model, task, count(*), sum(won) FROM (
                       SELECT provider_a AS provider, model_a AS model, task, verdict = 'a' AS won FROM ab_votes
                       UNION ALL SELECT provider_b, model_b, task, verdict = 'b' FROM ab_votes)
                   WHERE model IS NOT NULL AND task IS NOT NULL GROUP BY 1, 2, 3"""
            ).fetchall()
        finally:
            conn.close()

    def recent_attempts(self, limit: int = 2000, *, include_synthetic: bool = False) -> list[dict]:
        """The newest attempts first, for seeding latency stats and token calibration.

        Synthetic demo rows are left out by default: they must not steer real routing.
        """
        where = "" if include_synthetic else "WHERE synthetic = 0"
        conn = connect(self.path, read_only=True)
        try:
            cur = conn.execute(
                f"SELECT {', '.join(RECENT_COLUMNS)} FROM usage_logs {where} ORDER BY id DESC LIMIT ?", (int(limit),)
            )
            return [dict(zip(RECENT_COLUMNS, r)) for r in cur.fetchall()]
        finally:
            conn.close()
