"""The usage log: the gateway's system of record, one row per provider attempt, that loses nothing.

The request path only calls ``UsageLog.write(row)``: it checks the keys, charges the row to
the queue's memory bound and puts it on an in-memory queue. Refused requests travel the same
queue to their own table (``write_rejected``), so logging a refusal never blocks either. A
daemon thread drains the queue in batches (up to ``batch_max`` rows) and hands each batch to
the store: ``SqliteSink`` for a file (one transaction, one ``executemany`` per table; WAL,
``synchronous=NORMAL``, a busy timeout, so several gateway processes can share one file), or
``PostgresSink`` for a ``postgresql://`` target (COPY through a staging table, so several
gateway instances on several hosts share one database).

When the store cannot take a batch (disk full, read-only, the file deleted, a lock held
past the busy timeout) the batch goes to a spill file instead (``spill``: JSON Lines,
fsynced per batch), and the writer stops waiting on the database: later batches spill at
once, and every ``probe_interval_s`` the writer probes the database by replaying the
spill, oldest first. A replay that finishes makes the log ``ok`` again, so new rows always
land after the ones spilled before them; rows already present are skipped, and a file is
deleted only after its rows are committed. Spill files left by an earlier process (or a
crashed one) are replayed at start. When the spill cannot be written either, batches are
held in memory and retried; see ``health`` for the states and for what the
``serve``/``refuse`` policy does to requests then.

Memory bound: the queue and the held batches together hold at most ``queue_max_bytes``
(default ``QUEUE_MAX_BYTES``). A row is charged ``storage.ROW_BYTES`` (measured: a queued attempt
row without content takes about 1.6 KB; see bench B4) plus its prompt and response text
when content is stored. A row that does not fit is lost and counted (``serve``), and under
``refuse`` no new request starts until there is room: memory never grows without limit.

Crash-loss bound: an application crash loses only rows still in memory, i.e. at most one
batch plus what was queued during the last ``flush_interval_s`` (and, while the store is
failing, the batches held). ``close()`` and the ``atexit`` hook flush, so a normal exit
loses nothing. A committed row, or a spilled batch once ``append`` returned, survives an
application crash; only a power loss can drop the last few database commits.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from pathlib import Path

from ..db.target import Target, is_postgres
from . import health, votes
from .health import LogHealth
from .schema import BUSY_TIMEOUT_MS, REJECTED_WRITABLE_SET, STATUSES, WRITABLE_SET, RejectedValues, rejected_values, row_values
from .sink import Sink, StorageUnavailable
from .spill import SpillDir
from .sqlite_sink import SqliteSink
from .storage import ROW_BYTES, Batch, Budget, Storage, row_cost

log = logging.getLogger(__name__)

QUEUE_MAX_BYTES = 64 * 1024 * 1024


def default_spill_dir(db_path: Target) -> Path:
    """Beside the database, as SQLite's own ``-wal`` file is: ``usage_logs.sqlite-spill``. A
    PostgreSQL log has no file to sit beside: its rows spill to ``usage_logs-spill`` in the
    working directory unless told where (``GATEWAY_SPILL_DIR``, or beside ``GATEWAY_DB_PATH``)."""
    return Path("usage_logs-spill") if is_postgres(db_path) else Path(f"{db_path}-spill")


def make_sink(target: Target, *, busy_timeout_s: float = BUSY_TIMEOUT_MS / 1000, max_db_bytes: int | None = None) -> Sink:
    """The store for ``target``: a PostgreSQL database for a ``postgresql://`` URL, else a SQLite file."""
    if is_postgres(target):
        from .pg_sink import PostgresSink

        return PostgresSink(str(target), busy_timeout_s=busy_timeout_s)
    return SqliteSink(target, busy_timeout_s=busy_timeout_s, max_bytes=max_db_bytes)


class LogStartError(Exception):
    """The log cannot start: ``what`` (the database or the spill directory) at ``path`` is unusable."""

    def __init__(self, what: str, path: Path, reason: str):
        super().__init__(f"cannot use the {what} at {path}: {reason}")
        self.what, self.path, self.reason = what, path, reason


def open_storage(sink: Sink, spill: SpillDir) -> None:
    """Open the store (creating it if new) and prove the spill directory is writable, or
    raise ``LogStartError`` naming which one and where: a bad path fails at start-up, in one
    line, not at the first request."""
    try:
        sink.open(create=True)
    except StorageUnavailable as e:
        raise LogStartError("database", getattr(sink, "path", "?"), e.message) from None
    try:
        spill.check()
    except OSError as e:
        sink.close()
        raise LogStartError("spill directory", spill.path, e.strerror or str(e)) from None


def check_storage(db_path: Target, spill_dir: str | Path | None = None) -> None:
    """``open_storage`` without starting a writer: a preflight for entry points that start
    servers, so a bad path is reported before anything listens."""
    sink = make_sink(db_path)
    open_storage(sink, SpillDir(spill_dir or default_spill_dir(db_path)))
    sink.close()


class _Rejection:
    """A queued ``rejected_requests`` row (the queue's plain tuples are ``usage_logs`` rows)."""

    __slots__ = ("row", "epoch", "cost")

    def __init__(self, row: dict, epoch: float, cost: int):
        self.row, self.epoch, self.cost = row, epoch, cost


_OPEN_LOGS: weakref.WeakSet[UsageLog] = weakref.WeakSet()


@atexit.register
def _close_open_logs() -> None:
    for usage_log in list(_OPEN_LOGS):
        usage_log.close()


class UsageLog:
    """Append-only writer plus the few reads the router and console need."""

    def __init__(
        self,
        path: Target,
        *,
        spill_dir: str | Path | None = None,
        policy: str = "serve",
        busy_timeout_s: float = BUSY_TIMEOUT_MS / 1000,
        max_db_bytes: int | None = None,
        queue_max_bytes: int = QUEUE_MAX_BYTES,
        batch_max: int = 500,
        flush_interval_s: float = 0.05,
        probe_interval_s: float = 1.0,
        sink: Sink | None = None,
    ):
        if policy not in health.POLICIES:
            raise ValueError(f"policy must be one of {', '.join(health.POLICIES)}; got {policy!r}")
        self.path = str(path) if is_postgres(path) else Path(path)  # the database: a file, or a URL
        self.spill_dir = Path(spill_dir) if spill_dir else default_spill_dir(self.path)
        self.policy = policy
        self.flush_interval_s = flush_interval_s
        self.probe_interval_s = probe_interval_s
        sink = sink or make_sink(self.path, busy_timeout_s=busy_timeout_s, max_db_bytes=max_db_bytes)
        spill = SpillDir(self.spill_dir)
        open_storage(sink, spill)
        self._budget = Budget(queue_max_bytes)
        self._storage = Storage(sink, spill, self._budget, batch_max)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._flushes: list[threading.Event] = []  # writer thread only
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="usage-log-writer", daemon=True)
        self._thread.start()
        _OPEN_LOGS.add(self)

    # --- the request path: validate, charge, enqueue. No disk, no formatting -------------

    def write(self, row: dict) -> None:
        if not WRITABLE_SET.issuperset(row):
            unknown = sorted(set(row) - WRITABLE_SET)
            raise ValueError(f"unknown usage_logs column(s): {', '.join(unknown)}")
        if row.get("status", "ok") not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {row['status']!r}")
        if not row.get("request_id"):
            raise ValueError("request_id is required: with attempt, it is the row's key")
        if self._closed:
            raise RuntimeError("usage log is closed")
        cost = row_cost(row)
        if self._budget.take(cost):  # a row that does not fit is counted lost by the budget
            self._queue.put((row, time.time(), cost))

    def write_rejected(self, row: dict) -> None:
        """Queue one ``rejected_requests`` row; stored with the next batch, like ``write``."""
        if not REJECTED_WRITABLE_SET.issuperset(row):
            unknown = sorted(set(row) - REJECTED_WRITABLE_SET)
            raise ValueError(f"unknown rejected_requests column(s): {', '.join(unknown)}")
        if not row.get("request_id"):
            raise ValueError("request_id is required: it is the refusal's key")
        if self._closed:
            raise RuntimeError("usage log is closed")
        if self._budget.take(ROW_BYTES):
            self._queue.put(_Rejection(row, time.time(), ROW_BYTES))

    def admits(self) -> bool:
        """Whether a new request may start under the policy (always, under ``serve``)."""
        return self.policy == "serve" or health.admits(self.policy, self._storage.state, self._budget.full)

    @property
    def state(self) -> str:
        return self._storage.state

    def health(self) -> LogHealth:
        s, mb = self._storage, 1024 * 1024
        return LogHealth(
            state=s.state,
            policy=self.policy,
            problem=str(s.db_problem) if s.db_problem else None,
            spill_problem=s.spill_problem,
            queue_depth=self._queue.qsize() + s.held_rows(),
            queue_mb=round(self._budget.used / mb, 3),
            queue_limit_mb=round(self._budget.limit / mb, 3),
            spilled_pending=s.pending,
            spilled_total=s.stats["rows_spilled"],
            replayed_total=s.stats["rows_replayed"],
            lost_total=self._budget.lost,
        )

    def flush(self, timeout: float = 10) -> bool:
        """Block until every row queued before this call is stored (committed or spilled);
        False on timeout, e.g. while nothing can store them."""
        if not self._thread.is_alive():
            return self._queue.empty() and not self._storage.held
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
        retries = getattr(self._storage.sink, "retries", 0)
        return {**self._storage.stats, "retries": retries, "rows_lost": self._budget.lost, "queue_depth": self._queue.qsize()}

    def __enter__(self) -> UsageLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        storage = self._storage
        try:
            storage.replay(lock_wait_s=None)  # what an earlier process left behind
            next_tend = time.monotonic() + self.probe_interval_s
            stop = False
            while not stop:
                # Sleep rather than block on the queue: a blocked get() makes every put() on
                # the request path wake this thread and hand it the GIL (~80 us a request
                # measured); polling every flush interval costs nothing per request.
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
                stop = self._drain_queue()
                if stop or time.monotonic() >= next_tend:
                    storage.tend()
                    next_tend = time.monotonic() + self.probe_interval_s
                self._release_flushes()
            storage.finish()
            self._release_flushes(force=True)
        except Exception:  # a bug here must be loud: rows would pile up unwritten
            log.exception("usage log writer stopped")
            raise
        finally:
            storage.sink.close()
            storage.spill.seal()

    def _drain_queue(self) -> bool:
        """Store everything queued, batch by batch; True when ``close`` asked to stop."""
        while True:
            batch, events, stop, more = self._next_batch()
            if batch.rows:
                self._storage.store(batch)
            self._flushes.extend(events)
            if stop or not more:
                return stop

    def _release_flushes(self, force: bool = False) -> None:
        """A flush returns once the rows before it are stored: none may still be held."""
        if self._flushes and (force or not self._storage.held):
            for event in self._flushes:
                event.set()
            self._flushes.clear()

    def _next_batch(self) -> tuple[Batch, list, bool, bool]:
        """Take what is queued, up to one batch: (batch, flush events, stop, maybe more)."""
        batch = Batch([], 0)
        events: list = []
        while len(batch.rows) < self._storage.batch_max:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, events, False, False
            if item is None:
                return batch, events, True, False
            if type(item) is tuple:
                row, epoch, cost = item
                batch.rows.append(row_values(row, epoch))
                batch.cost += cost
            elif type(item) is _Rejection:
                batch.rows.append(RejectedValues(rejected_values(item.row, item.epoch)))
                batch.cost += item.cost
            else:
                events.append(item)
        return batch, events, False, True

    # --- synchronous neighbours -------------------------------------------------------

    def record_vote(self, **vote) -> int:
        """Store one blind A/B verdict at once; see ``votes.record_vote``."""
        return votes.record_vote(self.path, **vote)

    def recent_attempts(self, limit: int = 2000, *, include_synthetic: bool = False) -> list[dict]:
        """The newest attempts first, for seeding latency stats and token calibration."""
        return votes.recent_attempts(self.path, limit, include_synthetic=include_synthetic)

    def vote_tallies(self) -> list[tuple]:
        """(provider, model, task, votes, wins) per side of every blind vote, for the quality floor."""
        return votes.vote_tallies(self.path)
