"""The governance store on SQLite: the usage database file, in WAL mode.

Every step that changes budgets or rate state runs under ``BEGIN IMMEDIATE``, which takes
SQLite's single write lock before reading anything, so a check and the reservation that
depends on it are one atomic step across threads and processes alike. A reservation is a
conditional ``UPDATE ... WHERE spent_q + reserved_q + need <= limit``; the request is
refused when it changes no row. A refusal rolls back everything the step did, so a request
refused by its budget consumes no rate, and the reverse.

One connection serves the process, behind a lock: SQLite admits one writer at a time
anyway, and each step holds the lock for tens of microseconds.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

from ..errors import ValidationError
from ..usage import migrations as usage_migrations
from ..usage import schema as usage_schema
from .budgets import to_quanta, to_usd
from .ratelimit import RateDecision, RateLimit, gcra
from .records import KeyRecord, TeamRecord, key_state
from .settlement import End
from .store import AdmitOutcome, AdmitTicket, BudgetCharge, LedgerState

# In the order of ``KeyRecord``'s fields, so a row and a record convert position by position.
_KEY_COLUMNS = (
    "key_id, name, team, key_hash, user_name, providers, models, budget_q, budget_period, soft, rpm, tpm, "
    "expires_at, created_at, revoked_at, revoked_reason"
)
_TEAM_COLUMNS = "name, budget_q, budget_period, soft, rpm, tpm, created_at, updated_at"
_KEY_WITH_TEAM = (
    f"SELECT {', '.join('k.' + c.strip() for c in _KEY_COLUMNS.split(','))}, "
    f"{', '.join('t.' + c.strip() for c in _TEAM_COLUMNS.split(','))} "
    "FROM api_keys k LEFT JOIN teams t ON t.name = k.team WHERE k.key_id = ?"
)
_RESERVE = (
    "UPDATE budget_ledger SET reserved_q = reserved_q + ? WHERE scope = ? AND period_start = ? "
    "AND spent_q + reserved_q + ? <= ? RETURNING spent_q, reserved_q"
)
_NEW_LINE = "INSERT INTO budget_ledger (scope, period_start) VALUES (?, ?) ON CONFLICT DO NOTHING"
_END = "UPDATE budget_ledger SET reserved_q = reserved_q - ?, spent_q = spent_q + ? WHERE scope = ? AND period_start = ?"
_END_CHUNK = 500


# Statements for n rows, one round trip each. Measured on SQLite 3.40: point lookups joined
# by UNION ALL take half the time of ``scope IN (...)``, and one multi-row upsert beats
# ``executemany``; the request path runs these on every admission.
@functools.lru_cache(maxsize=16)
def _rate_states(n: int) -> str:
    return " UNION ALL ".join(["SELECT scope, tat_ns FROM rate_limit_state WHERE scope = ?"] * n)


@functools.lru_cache(maxsize=16)
def _save_rates(n: int) -> str:
    return (
        f"INSERT INTO rate_limit_state (scope, tat_ns) VALUES {', '.join(['(?, ?)'] * n)} "
        "ON CONFLICT (scope) DO UPDATE SET tat_ns = excluded.tat_ns"
    )


@functools.lru_cache(maxsize=16)
def _hold(n: int) -> str:
    return (
        "INSERT INTO budget_reservations (id, scope, period_start, amount_q, expires_at) "
        f"VALUES {', '.join(['(?, ?, ?, ?, ?)'] * n)}"
    )


@functools.lru_cache(maxsize=16)
def _unhold(n: int) -> str:
    return (
        f"DELETE FROM budget_reservations WHERE id IN ({', '.join('?' * n)}) RETURNING id, scope, period_start, amount_q, state"
    )


def _join(names: tuple[str, ...] | None) -> str | None:
    return None if names is None else ",".join(names)


def _split(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(n for n in text.split(",") if n)


def _usd(quanta: int | None) -> Decimal | None:
    return None if quanta is None else to_usd(quanta)


def _quanta(usd: Decimal | None) -> int | None:
    return None if usd is None else to_quanta(usd)


def _key(row) -> KeyRecord:
    key_id, name, team, key_hash, user, providers, models, budget_q, *rest = row
    return KeyRecord(key_id, name, team, key_hash, user, _split(providers), _split(models), _usd(budget_q), *rest)


def _key_values(key: KeyRecord) -> list:
    values = [getattr(key, f.name) for f in fields(KeyRecord)]
    values[5:8] = _join(key.providers), _join(key.models), _quanta(key.budget_usd)
    return values


def _team(row) -> TeamRecord:
    name, budget_q, period, soft, rpm, tpm, created_at, updated_at = row
    return TeamRecord(name, _usd(budget_q), period, soft, rpm, tpm, created_at, updated_at)


def _worst(refusals: list[tuple[RateLimit, RateDecision]]) -> tuple[RateLimit, RateDecision] | None:
    """The refusal to report: one that can never fit, else the longest wait."""
    if not refusals:
        return None
    return max(refusals, key=lambda r: float("inf") if r[1].retry_after is None else r[1].retry_after)


class SQLiteGovernanceStore:
    """``GovernanceStore`` on a SQLite file; applies its migration on open."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._conn = usage_schema.connect(self.path, any_thread=True)
        usage_migrations.migrate(self._conn)  # the usage log's migrations include governance's
        # One cursor, reused under the lock: ``Connection.execute`` makes a cursor per
        # statement, which costs half a microsecond each, eight times per admission.
        self._cur = self._conn.cursor()
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self):
        with self._lock:
            self._cur.execute("BEGIN IMMEDIATE")
            try:
                yield self._cur
            except BaseException:
                self._cur.execute("ROLLBACK")
                raise
            self._cur.execute("COMMIT")

    def _read(self, sql: str, params=()) -> list:
        with self._lock:
            return self._cur.execute(sql, params).fetchall()

    # --- keys and teams -------------------------------------------------------------------

    def insert_key(self, key: KeyRecord) -> None:
        with self._write() as c:
            if c.execute("SELECT 1 FROM api_keys WHERE name = ?", (key.name,)).fetchone():
                raise ValidationError("name", f"a key named '{key.name}' already exists")
            c.execute(
                "INSERT INTO teams (name, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (key.team, key.created_at, key.created_at),
            )
            c.execute(f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES ({', '.join('?' * 16)})", _key_values(key))

    def key_with_team(self, key_id: str) -> tuple[KeyRecord | None, TeamRecord | None]:
        rows = self._read(_KEY_WITH_TEAM, (key_id,))
        if not rows:
            return None, None
        row = rows[0]
        return _key(row[:16]), (None if row[16] is None else _team(row[16:]))

    def key_by_name(self, name: str) -> KeyRecord | None:
        rows = self._read(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE name = ?", (name,))
        return _key(rows[0]) if rows else None

    def keys(self) -> list[KeyRecord]:
        return [_key(r) for r in self._read(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY team, name")]

    def has_keys(self) -> bool:
        return bool(self._read("SELECT EXISTS (SELECT 1 FROM api_keys)")[0][0])

    def revoke_key(self, name: str, reason: str | None, at: float) -> KeyRecord | None:
        with self._write() as c:
            c.execute(
                "UPDATE api_keys SET revoked_at = ?, revoked_reason = ? WHERE name = ? AND revoked_at IS NULL", (at, reason, name)
            )
            row = c.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE name = ?", (name,)).fetchone()
        return _key(row) if row else None

    def put_team(self, team: TeamRecord) -> None:
        with self._write() as c:
            c.execute(
                f"INSERT INTO teams ({_TEAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "budget_q = excluded.budget_q, budget_period = excluded.budget_period, soft = excluded.soft, "
                "rpm = excluded.rpm, tpm = excluded.tpm, updated_at = excluded.updated_at",
                (
                    team.name,
                    _quanta(team.budget_usd),
                    team.budget_period,
                    team.soft,
                    team.rpm,
                    team.tpm,
                    team.created_at,
                    team.updated_at,
                ),
            )

    def team(self, name: str) -> TeamRecord | None:
        rows = self._read(f"SELECT {_TEAM_COLUMNS} FROM teams WHERE name = ?", (name,))
        return _team(rows[0]) if rows else None

    def teams(self) -> list[TeamRecord]:
        return [_team(r) for r in self._read(f"SELECT {_TEAM_COLUMNS} FROM teams ORDER BY name")]

    # --- admission ------------------------------------------------------------------------

    def admit(self, ticket: AdmitTicket, ends: Sequence[End] = ()) -> AdmitOutcome:
        # The request path's one transaction, written out rather than through ``_write``:
        # a refusal must roll back, and every microsecond here is paid by every request.
        with self._lock:
            c = self._cur
            c.execute("BEGIN IMMEDIATE")
            try:
                self._end(c, ends)
                outcome = self._admit(c, ticket)
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT" if outcome.admitted else "ROLLBACK")
        return outcome

    def _admit(self, c: sqlite3.Cursor, t: AdmitTicket) -> AdmitOutcome:
        if t.key_id is not None:
            row = c.execute(
                "SELECT revoked_at, revoked_reason, expires_at FROM api_keys WHERE key_id = ?", (t.key_id,)
            ).fetchone()
            state = "missing" if row is None else key_state(row[0], row[2], t.now)
            if state != "active":
                return AdmitOutcome(False, refused_key=(state, row[1] if row else None))
        decisions = self._rate_decisions(c, t)
        refused = _worst([d for d in decisions if not d[1].allowed])
        if refused is not None:
            return AdmitOutcome(False, decisions, refused_rate=refused)
        states = []
        for charge in t.charges:
            state, ok = self._reserve(c, charge)
            if not ok:
                return AdmitOutcome(False, decisions, tuple(states), refused_budget=state)
            states.append(state)
        if t.charges:
            c.execute(
                _hold(len(t.charges)),
                [v for ch in t.charges for v in (t.reservation_id, ch.budget.scope, ch.period_start, ch.amount_q, t.expires_at)],
            )
        if decisions:
            c.execute(_save_rates(len(decisions)), [v for limit, d in decisions for v in (limit.scope, d.tat_ns)])
        return AdmitOutcome(True, decisions, tuple(states))

    @staticmethod
    def _rate_decisions(c: sqlite3.Cursor, t: AdmitTicket) -> tuple[tuple[RateLimit, RateDecision], ...]:
        if not t.rates:
            return ()
        scopes = [limit.scope for limit, _ in t.rates]
        tats = dict(c.execute(_rate_states(len(scopes)), scopes).fetchall())
        return tuple([(limit, gcra(limit.limit, tats.get(limit.scope), cost, t.now)) for limit, cost in t.rates])

    @staticmethod
    def _reserve(c: sqlite3.Cursor, charge: BudgetCharge) -> tuple[LedgerState, bool]:
        params = (charge.amount_q, charge.budget.scope, charge.period_start, charge.amount_q, charge.budget.limit_q)
        row = c.execute(_RESERVE, params).fetchone()
        if row is None:
            # Perhaps the first request of the period. The second try does not depend on this
            # insert's row count: on PostgreSQL another instance may have created the line
            # after this statement's snapshot, and the line is then there to reserve on.
            c.execute(_NEW_LINE, (charge.budget.scope, charge.period_start))
            row = c.execute(_RESERVE, params).fetchone()
        if row is None:
            spent, reserved = c.execute(
                "SELECT spent_q, reserved_q FROM budget_ledger WHERE scope = ? AND period_start = ?",
                (charge.budget.scope, charge.period_start),
            ).fetchone()
            return LedgerState(charge, spent, reserved), False
        spent, reserved_after = row
        return LedgerState(charge, spent, reserved_after - charge.amount_q), True

    def end_reservations(self, ends: Sequence[End]) -> int:
        with self._write() as c:
            return self._end(c, ends)

    @staticmethod
    def _end(c: sqlite3.Cursor, ends: Sequence[End]) -> int:
        """Delete the reservations and move their money, summed per budget line: a batch of a
        thousand ends is a handful of statements, not two thousand."""
        if not ends:
            return 0
        actual: dict[str, int] = {}
        for reservation_id, actual_q in ends:
            actual.setdefault(reservation_id, actual_q)  # a second settle of the same request changes nothing
        ids = list(actual)
        totals: dict[tuple[str, str], list[int]] = {}
        for i in range(0, len(ids), _END_CHUNK):
            chunk = ids[i : i + _END_CHUNK]
            for reservation_id, scope, start, amount, state in c.execute(_unhold(len(chunk)), chunk).fetchall():
                line = totals.setdefault((scope, start), [0, 0])
                # An expired reservation was already charged at its worst case: correct that charge.
                line[0] += amount if state == "held" else 0
                line[1] += actual[reservation_id] - (amount if state == "expired" else 0)
        # In key order, as every writer takes ledger rows, so concurrent transactions on
        # PostgreSQL queue behind each other instead of deadlocking.
        c.executemany(_END, [(held, spend, scope, start) for (scope, start), (held, spend) in sorted(totals.items())])
        return len(totals)

    def sweep(self, now: float, forget_before: float) -> int:
        with self._write() as c:
            return self._sweep(c, now, forget_before)

    @staticmethod
    def _sweep(c, now: float, forget_before: float) -> int:
        rows = c.execute(
            "UPDATE budget_reservations SET state = 'expired' WHERE state = 'held' AND expires_at < ? "
            "RETURNING scope, period_start, amount_q",
            (now,),
        ).fetchall()
        c.executemany(_END, [(amount, amount, scope, start) for scope, start, amount in sorted(rows)])
        c.execute("DELETE FROM budget_reservations WHERE state = 'expired' AND expires_at < ?", (forget_before,))
        return len(rows)

    # --- reads ----------------------------------------------------------------------------

    def ping(self) -> None:
        self._read("SELECT 1 FROM budget_ledger LIMIT 1")

    def ledger(self, scope: str, period_start: str) -> tuple[int, int]:
        rows = self._read(
            "SELECT spent_q, reserved_q FROM budget_ledger WHERE scope = ? AND period_start = ?", (scope, period_start)
        )
        return tuple(rows[0]) if rows else (0, 0)
