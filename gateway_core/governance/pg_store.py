"""The governance store on PostgreSQL: the state every instance of a scaled-out gateway shares.

The statements are the SQLite store's, which PostgreSQL reads as written (through the
dialect's placeholders); what differs is how a step gets a connection and what makes it
atomic. SQLite has one write lock, taken by ``BEGIN IMMEDIATE`` before anything is read.
PostgreSQL has row locks, and every step here is built so they suffice, under its default
READ COMMITTED isolation, across any number of instances:

- A reservation is the conditional ``UPDATE budget_ledger ... WHERE spent_q + reserved_q +
  need <= limit RETURNING``. A concurrent update of the same line waits for the row lock and
  then evaluates the condition again on the row as the other transaction left it, so two
  requests can never both take the last money: no read precedes the write.
- Rate-limit rows are read ``FOR UPDATE`` in scope order (rows a limit has never used are
  created first, at zero, which GCRA reads as "no state"), so the GCRA decision is made on
  state no other admission can change before this one commits: limits are exact, not
  approximated by a local bucket.
- Ends and the sweep change ledger lines in key order, and reservations end by a
  ``DELETE ... RETURNING`` whose row lock decides which of a settle and a concurrent sweep
  sees the reservation held; the loser changes nothing. A transaction PostgreSQL breaks to
  end a deadlock or a serialisation conflict is run again, whole.

Each step borrows a connection from the process's pool (``db.postgres``) for one
transaction; the store is safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

from ..db import postgres
from ..usage import migrations as usage_migrations
from .ratelimit import RateDecision, RateLimit, gcra
from .settlement import End
from .sqlite_store import SQLiteGovernanceStore
from .store import AdmitOutcome, AdmitTicket

RETRIES = 5
PING_TIMEOUT_S = 2.0
_RETRY_STATES = frozenset({"40P01", "40001"})  # deadlock broken, serialisation conflict


class _Rollback(Exception):
    """Ends a transaction whose outcome is a refusal: nothing it did is kept."""


class PostgresGovernanceStore(SQLiteGovernanceStore):
    """``GovernanceStore`` on a PostgreSQL database; applies pending migrations on open."""

    def __init__(self, url: str, *, pool_size: int | None = None):
        self.path = url
        self._pool_size = pool_size
        conn = postgres.connect(url, pool_size=pool_size)
        try:
            usage_migrations.migrate(conn)
        finally:
            conn.close()

    def close(self) -> None:
        """The pool is the process's, shared with other users of the database: nothing to close."""

    def _connect(self, timeout: float | None = None):
        return postgres.connect(self.path, timeout=timeout, pool_size=self._pool_size)

    @contextmanager
    def _write(self):
        conn = self._connect()
        try:
            with conn.transaction():
                yield conn
        finally:
            conn.close()

    def _read(self, sql: str, params=()) -> list:
        conn = self._connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def _retrying(self, step):
        """Run ``step(conn)`` in a transaction, again when PostgreSQL broke it to end a deadlock."""
        for attempt in range(RETRIES):
            conn = self._connect()
            try:
                with conn.transaction():
                    return step(conn)
            except Exception as exc:
                if postgres.sqlstate(exc) not in _RETRY_STATES or attempt == RETRIES - 1:
                    raise
            finally:
                conn.close()
        raise AssertionError("unreachable")

    def admit(self, ticket: AdmitTicket, ends: Sequence[End] = ()) -> AdmitOutcome:
        refused: list[AdmitOutcome] = []

        def step(conn) -> AdmitOutcome:
            refused.clear()
            self._end(conn, ends)
            outcome = self._admit(conn, ticket)
            if not outcome.admitted:
                refused.append(outcome)
                raise _Rollback
            return outcome

        try:
            return self._retrying(step)
        except _Rollback:
            return refused[0]

    @staticmethod
    def _rate_decisions(c, t: AdmitTicket) -> tuple[tuple[RateLimit, RateDecision], ...]:
        if not t.rates:
            return ()
        scopes = sorted({limit.scope for limit, _ in t.rates})
        tats = dict(_lock_rates(c, scopes))
        if len(tats) < len(scopes):
            missing = [s for s in scopes if s not in tats]
            c.execute(
                f"INSERT INTO rate_limit_state (scope, tat_ns) VALUES {', '.join(['(?, 0)'] * len(missing))}"
                " ON CONFLICT DO NOTHING",
                missing,
            )
            tats = dict(_lock_rates(c, scopes))
        return tuple([(limit, gcra(limit.limit, tats.get(limit.scope) or None, cost, t.now)) for limit, cost in t.rates])

    def end_reservations(self, ends: Sequence[End]) -> int:
        return self._retrying(lambda conn: self._end(conn, ends))

    def sweep(self, now: float, forget_before: float) -> int:
        return self._retrying(lambda conn: self._sweep(conn, now, forget_before))

    def ping(self) -> None:
        """Read the ledger within ``PING_TIMEOUT_S``: a readiness check must answer promptly."""
        conn = self._connect(timeout=PING_TIMEOUT_S)
        try:
            conn.execute("SELECT 1 FROM budget_ledger LIMIT 1").fetchall()
        finally:
            conn.close()


def _lock_rates(c, scopes: list[str]) -> list[tuple]:
    return c.execute(
        "SELECT scope, tat_ns FROM rate_limit_state WHERE scope = ANY(?) ORDER BY scope FOR UPDATE", (scopes,)
    ).fetchall()
