"""Where a batch of usage rows goes: the database, else a spill file, else held in memory.

``Storage`` is the writer thread's half of the usage log. ``store(batch)`` keeps batches in
order: while the database is healthy a batch is committed there; when the database fails
(``sink.StorageUnavailable``) the batch is spilled, and so is every batch after it, without
waiting on the database again; when the spill fails too, batches are held in memory (their
bytes stay charged to the queue's ``Budget``) and retried. ``tend()`` runs once per probe
interval: it notices a log file deleted while idle, probes a failing database with a real
write (replaying the spill, oldest first; or a held batch), replays what other processes
left behind, and reports lost rows. Only a replay that finishes ends an outage, so rows
committed after it always follow the rows spilled before them.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from dataclasses import dataclass

from .health import FAILING, OK, SPILLING
from .schema import REJECTED_WRITABLE, WRITABLE, RejectedValues
from .sink import RowRejected, Sink, StorageUnavailable
from .spill import ReplayReport, SpillDir

log = logging.getLogger("gateway_core.usage.writer")

ROW_BYTES = 2_048  # a queued row without content, rounded up from the measured ~1.6 KB (bench B4)
PROBE_LOCK_WAIT_S = 0.2  # a probe must not stall the writer for a whole busy timeout
_QUIET_KINDS = ("full", "read_only", "io_error")  # only a real write proves these are over
# Table -> (its columns, the tuple type its rows travel as in a batch).
TABLES = {"usage_logs": (WRITABLE, tuple), "rejected_requests": (REJECTED_WRITABLE, RejectedValues)}


def to_record(values: tuple) -> tuple[str, dict]:
    """A batch row as the spill stores it: its table, and its values by column name."""
    table = "rejected_requests" if type(values) is RejectedValues else "usage_logs"
    return table, dict(zip(TABLES[table][0], values))


def from_record(table: str, row: dict) -> tuple:
    columns, kind = TABLES[table]
    return kind(row.get(c) for c in columns)


def row_cost(row: dict) -> int:
    """Bytes a queued row is charged: the measured base, plus its stored text if any."""
    cost = ROW_BYTES
    for key in ("prompt_text", "response_text"):
        text = row.get(key)
        if text:
            cost += sys.getsizeof(text)
    return cost


@dataclass
class Batch:
    rows: list[tuple]  # schema.WRITABLE order
    cost: int  # bytes charged to the budget


class Budget:
    """Bytes held in memory, charged by request threads and credited by the writer; and the
    count of rows lost, which both sides add to."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self.lost = 0
        self._lock = threading.Lock()

    def take(self, cost: int) -> bool:
        with self._lock:
            if self.used + cost > self.limit:
                self.lost += 1
                return False
            self.used += cost
            return True

    def give(self, cost: int) -> None:
        with self._lock:
            self.used -= cost

    def lose(self, rows: int, cost: int) -> None:
        with self._lock:
            self.lost += rows
            self.used -= cost

    @property
    def full(self) -> bool:
        return self.used + ROW_BYTES > self.limit


class Storage:
    """The database, the spill directory and the held batches, driven by the writer thread."""

    def __init__(self, sink: Sink, spill: SpillDir, budget: Budget, batch_max: int):
        self.sink, self.spill, self.budget, self.batch_max = sink, spill, budget, batch_max
        self.held: deque[Batch] = deque()
        self.stats = {"rows_written": 0, "rows_failed": 0, "batches": 0, "rows_spilled": 0, "rows_replayed": 0, "rows_present": 0}
        self.db_problem: StorageUnavailable | None = None
        self.spill_problem: str | None = None
        self.pending = spill.pending_rows()
        self._lost_reported = 0
        self._replay_wait: float | None = None

    @property
    def state(self) -> str:
        if self.db_problem is None:
            return OK
        return FAILING if self.spill_problem else SPILLING

    def held_rows(self) -> int:
        return sum(len(b.rows) for b in list(self.held))

    # --- placing batches --------------------------------------------------------------

    def store(self, batch: Batch) -> None:
        self.held.append(batch)
        self._drain_held()

    def _drain_held(self) -> None:
        """Store held batches in order; stop at the first that nothing can take."""
        while self.held:
            batch = self.held[0]
            if not (self.state == OK and self._to_db(batch)) and not self._to_spill(batch):
                return
            self.held.popleft()
            self.budget.give(batch.cost)

    def _to_db(self, batch: Batch, lock_wait_s: float | None = None) -> bool:
        try:
            inserted = self._commit(batch.rows, lock_wait_s)
        except StorageUnavailable as e:
            # Rows committed one by one before the failure are skipped when the spilled
            # batch is replayed: the key makes a partial success safe to send again.
            self._db_down(e)
            return False
        self.stats["rows_written"] += inserted
        self.stats["rows_present"] += len(batch.rows) - inserted
        self.stats["batches"] += 1
        return True

    def _commit(self, rows: list[tuple], lock_wait_s: float | None) -> int:
        """Commit ``rows``; a bad row must not take its batch down, so on ``RowRejected`` the
        rows go one at a time and only the bad ones are dropped, loudly."""
        try:
            return self.sink.commit(rows, lock_wait_s=lock_wait_s)
        except RowRejected:
            log.error("usage log batch of %d rows has a bad row; inserting row by row", len(rows))
        inserted = 0
        for row in rows:
            try:
                inserted += self.sink.commit([row], lock_wait_s=lock_wait_s)
            except RowRejected as exc:
                self.stats["rows_failed"] += 1
                log.error("usage log row for request %s not stored: %s", row[1], exc)
        return inserted

    def _to_spill(self, batch: Batch) -> bool:
        try:
            self.spill.append([to_record(r) for r in batch.rows])
        except OSError as e:
            if self.spill_problem is None:
                log.error(
                    "usage log spill directory unavailable (%s); holding %d rows in memory", e.strerror or e, len(batch.rows)
                )
            self.spill_problem = e.strerror or str(e)
            return False
        if self.spill_problem is not None:
            log.warning("usage log spill directory writable again")
            self.spill_problem = None
        self.stats["rows_spilled"] += len(batch.rows)
        self.pending += len(batch.rows)
        return True

    def _db_down(self, problem: StorageUnavailable) -> None:
        if self.db_problem is None:
            log.error("usage log database unavailable (%s); spilling rows to disk until it recovers", problem)
        self.db_problem = problem

    # --- replay and probing -----------------------------------------------------------

    def _commit_spilled(self, table: str, rows: list[dict]) -> int:
        if table not in TABLES:
            raise StorageUnavailable("unusable", f"spill rows for unknown table {table!r}")
        return self._commit([from_record(table, r) for r in rows], self._replay_wait)

    def replay(self, lock_wait_s: float | None) -> tuple[bool, ReplayReport]:
        """Replay every sealed spill file: (whether the database took all it was given, what
        was done). A file another live process still holds is skipped, not replayed."""
        self.spill.seal()  # this process's own file joins the backlog
        self._replay_wait = lock_wait_s
        report = ReplayReport()
        try:
            self.spill.replay(self._commit_spilled, self.batch_max, report)
            ok = True
        except StorageUnavailable as e:
            self._db_down(e)
            ok = False
        self.stats["rows_replayed"] += report.committed
        self.stats["rows_present"] += report.present
        self.pending = max(0, self.pending - report.finished_rows)
        if report.unreadable:
            self.budget.lose(report.unreadable, 0)
            log.error("usage log spill had %d unreadable lines (kept in *.damaged files)", report.unreadable)
        if ok and report.files:
            log.warning("usage log replayed %d spilled rows (%d were already stored)", report.committed, report.present)
        if ok and not self.spill.sealed():
            self.pending = 0
        return ok, report

    def tend(self, lock_wait_s: float = PROBE_LOCK_WAIT_S) -> None:
        """Once per probe interval: notice a deleted file while idle, probe a failing
        database, replay what other processes left, retry held rows, report losses."""
        if self.db_problem is None:
            try:
                self.sink.check()
            except StorageUnavailable as e:
                self._db_down(e)
        if self.db_problem is not None:
            self._probe(lock_wait_s)
        elif self.spill.sealed():
            self.replay(lock_wait_s)
        self._drain_held()
        lost = self.budget.lost
        if lost > self._lost_reported:
            log.error("usage log: %d rows lost (stored nowhere); %d since it started", lost - self._lost_reported, lost)
            self._lost_reported = lost

    def _probe(self, lock_wait_s: float) -> None:
        """Try the database with a real write: the spill backlog first, else a held batch.
        Only a write proves recovery: a pass that skipped every file (all still held by other
        processes) proves nothing."""
        recovered = False
        if self.spill.sealed() or self.spill.open_rows:
            ok, report = self.replay(lock_wait_s)
            if not ok:
                return
            recovered = report.files > 0
        if not recovered:
            if self.held:
                recovered = self._to_db(self.held[0], lock_wait_s)
                if recovered:
                    self.budget.give(self.held.popleft().cost)
            elif self.db_problem.kind not in _QUIET_KINDS:
                recovered = self._to_db(Batch([], 0), lock_wait_s)
            else:
                return  # nothing to write proves nothing; the next batch spills and is the probe
        if recovered:
            log.warning("usage log database accepting writes again (was: %s)", self.db_problem)
            self.db_problem = None

    def finish(self) -> None:
        """At close: one last probe and replay, then count what nothing could take as lost."""
        self.tend()
        while self.held:
            batch = self.held.popleft()
            self.budget.lose(len(batch.rows), batch.cost)
        if self.budget.lost > self._lost_reported:
            log.error("usage log closed with %d rows lost (stored nowhere)", self.budget.lost)
            self._lost_reported = self.budget.lost
        self.spill.seal()
