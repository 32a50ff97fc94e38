"""Governance tables in the usage database, as one ordered migration step.

``MIGRATION_STEPS`` is a list of ``(name, function)`` pairs in the shape of the usage
log's ordered migrations, whose ``m005_governance`` runs them: whoever opens the file first
(the usage-log writer or the governance store) creates these tables, recorded under that
name in the same ``migrations`` table, so no file is migrated twice.

The DDL sticks to types SQLite and PostgreSQL read alike (``BIGINT``, ``DOUBLE PRECISION``,
``TEXT``). Money is integer quanta of 1e-10 USD (see ``budgets``); instants are epoch
seconds, UTC (a rate limit's state is integer nanoseconds, see ``ratelimit``); a budget
period is named by the ISO date it starts on.
"""

from __future__ import annotations

from collections.abc import Callable

TABLES = ("teams", "api_keys", "budget_ledger", "budget_reservations", "rate_limit_state")

_DDL = (
    """CREATE TABLE IF NOT EXISTS teams (
  name TEXT PRIMARY KEY,
  budget_q BIGINT,
  budget_period TEXT NOT NULL DEFAULT 'month' CHECK (budget_period IN ('day', 'week', 'month')),
  soft DOUBLE PRECISION NOT NULL DEFAULT 0.8,
  rpm BIGINT,
  tpm BIGINT,
  created_at DOUBLE PRECISION NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS api_keys (
  key_id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  key_hash TEXT NOT NULL UNIQUE,
  team TEXT NOT NULL REFERENCES teams (name),
  user_name TEXT,
  providers TEXT,
  models TEXT,
  budget_q BIGINT,
  budget_period TEXT NOT NULL DEFAULT 'month' CHECK (budget_period IN ('day', 'week', 'month')),
  soft DOUBLE PRECISION NOT NULL DEFAULT 0.8,
  rpm BIGINT,
  tpm BIGINT,
  expires_at DOUBLE PRECISION,
  created_at DOUBLE PRECISION NOT NULL,
  revoked_at DOUBLE PRECISION,
  revoked_reason TEXT
)""",
    "CREATE INDEX IF NOT EXISTS api_keys_team ON api_keys (team)",
    # One row per budget and period: what is settled and what is held by requests in flight.
    """CREATE TABLE IF NOT EXISTS budget_ledger (
  scope TEXT NOT NULL,
  period_start TEXT NOT NULL,
  spent_q BIGINT NOT NULL DEFAULT 0,
  reserved_q BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, period_start)
) WITHOUT ROWID""",
    # One row per request and budget while the request runs; 'expired' once swept.
    """CREATE TABLE IF NOT EXISTS budget_reservations (
  id TEXT NOT NULL,
  scope TEXT NOT NULL,
  period_start TEXT NOT NULL,
  amount_q BIGINT NOT NULL,
  expires_at DOUBLE PRECISION NOT NULL,
  state TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'expired')),
  PRIMARY KEY (id, scope)
) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rate_limit_state (
  scope TEXT PRIMARY KEY,
  tat_ns BIGINT NOT NULL
) WITHOUT ROWID""",
)


def m005_governance(conn) -> None:
    """Keys, teams, budget ledger and reservations, rate-limit state."""
    for statement in _DDL:
        conn.ddl(statement)


MIGRATION_STEPS: list[tuple[str, Callable]] = [("m005_governance", m005_governance)]
