"""The usage log's schema: its columns, connections and the shape of one row.

``usage_logs`` holds one row per provider attempt (answered, failed, or cancelled by the
caller); ``rejected_requests`` holds requests refused before any provider was called (where,
which field, why and whose, never their content); ``ab_votes`` holds blind A/B verdicts;
``log_meta`` holds a generation counter that bulk deletions bump so mirrors rebuild. The
tables are created by the ordered functions in ``migrations``, on SQLite or PostgreSQL
(``gateway_core.db``); the types below are SQLite's, which the dialect maps.

Money is ``Decimal`` in code but stored as REAL USD (a double on either database): SQLite has no decimal type, a double
carries 15-16 significant digits (far below a micro-cent for any single call), and REAL
lets SQLite and DuckDB aggregate without casting text on every query. ``cost_usd`` is
NULL when the model is unpriced, never a silent 0.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..db.sqlite import BUSY_TIMEOUT_MS, connect  # noqa: F401 - the log's SQLite connections

TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
# Every transaction appending to ``usage_logs`` on PostgreSQL holds this advisory lock, so ids
# become visible in commit order (see ``pg_sink``); SQLite's one write lock does the same.
APPEND_LOCK = "usage_logs append"
VERDICTS = ("a", "b", "tie", "both_bad")

# (name, SQLite type). Order is the INSERT order; analytics derives its mirror from it.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("ts", "TEXT NOT NULL"),
    ("request_id", "TEXT NOT NULL"),
    ("attempt", "INTEGER NOT NULL DEFAULT 1"),
    ("final", "INTEGER NOT NULL DEFAULT 1"),
    ("user", "TEXT"),
    ("team", "TEXT"),
    ("task", "TEXT"),
    ("priority", "TEXT"),
    ("provider_hint", "TEXT"),
    ("route_reason", "TEXT"),
    ("provider", "TEXT"),
    ("model", "TEXT"),
    ("prompt_tokens_est", "INTEGER"),
    ("completion_tokens_est", "INTEGER"),
    ("total_tokens_est", "INTEGER"),
    ("cost_est_usd", "REAL"),
    ("input_tokens", "INTEGER"),
    ("output_tokens", "INTEGER"),
    ("cached_input_tokens", "INTEGER"),
    ("cost_usd", "REAL"),
    ("unpriced", "INTEGER NOT NULL DEFAULT 0"),
    ("token_source", "TEXT"),
    ("counterfactual_provider", "TEXT"),
    ("counterfactual_model", "TEXT"),
    ("counterfactual_cost_usd", "REAL"),
    ("latency_ms", "REAL"),
    ("ttft_ms", "REAL"),
    ("streamed", "INTEGER NOT NULL DEFAULT 0"),
    ("status", "TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error', 'cancelled'))"),
    ("error_type", "TEXT"),
    ("error_message", "TEXT"),
    ("price_version", "TEXT"),
    ("prompt_text", "TEXT"),
    ("response_text", "TEXT"),
    ("synthetic", "INTEGER NOT NULL DEFAULT 0"),
    ("estimate_raw_tokens", "INTEGER"),
    ("key_name", "TEXT"),  # the API key's name (never the key); NULL for a request made without one
    # The routing policy that decided (its version hash), its decision in one word (allow,
    # exclude, prefer, deny) and the rules that fired; NULL when no policy is configured.
    ("policy_version", "TEXT"),
    ("policy_decision", "TEXT"),
    ("policy_rules", "TEXT"),
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
WRITABLE = COLUMN_NAMES[1:]  # id is assigned by SQLite
WRITABLE_SET = frozenset(WRITABLE)
STATUSES = ("ok", "error", "cancelled")


def quoted(names) -> str:
    """Column names for a statement, each quoted: ``user`` is a reserved word in PostgreSQL."""
    return ", ".join(f'"{name}"' for name in names)


_DEFAULTS = {"attempt": 1, "final": 1, "unpriced": 0, "streamed": 0, "status": "ok", "synthetic": 0}
# A row whose (request_id, attempt) is already stored is skipped, not an error: that is what
# makes replaying a spill file idempotent (the key is unique since m010_attempt_key).
INSERT_SQL = (
    f"INSERT INTO usage_logs ({quoted(WRITABLE)}) VALUES ({', '.join('?' * len(WRITABLE))})"
    " ON CONFLICT (request_id, attempt) DO NOTHING"
)

# A refused request: where it came from, which field, the error type, and whose it was
# (user, team, the public id of an API key), never its content.
REJECTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("ts", "TEXT NOT NULL"),
    ("request_id", "TEXT NOT NULL"),
    ("source", "TEXT NOT NULL"),
    ("field", "TEXT"),
    ("error_type", "TEXT NOT NULL"),
    ("user", "TEXT"),
    ("team", "TEXT"),
    ("key_id", "TEXT"),
)
REJECTED_WRITABLE = tuple(name for name, _ in REJECTED_COLUMNS[1:])
REJECTED_WRITABLE_SET = frozenset(REJECTED_WRITABLE)
REJECTED_INSERT_SQL = (
    f"INSERT INTO rejected_requests ({quoted(REJECTED_WRITABLE)}) VALUES ({', '.join('?' * len(REJECTED_WRITABLE))})"
    " ON CONFLICT (request_id) DO NOTHING"
)


class RejectedValues(tuple):
    """A ``rejected_requests`` INSERT tuple, told apart from ``usage_logs`` tuples in one batch."""


RECENT_COLUMNS = (
    "ts",
    "provider",
    "model",
    "task",
    "status",
    "latency_ms",
    "ttft_ms",
    "output_tokens",
    "streamed",
    "estimate_raw_tokens",
    "input_tokens",
)


# --- values ------------------------------------------------------------------------------


def utc_now_text() -> str:
    return datetime.now(UTC).strftime(TS_FORMAT)


def _ts_text(epoch: float) -> str:
    seconds = int(epoch)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))}.{int((epoch - seconds) * 1e6):06d}"


_PLAIN = (str, int, float, type(None))


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return money_value(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime(TS_FORMAT)
    return str(value)


def money_value(value: Decimal | float | None) -> float | None:
    """Money as the REAL the log stores (the one place it is converted); None stays None,
    because an unpriced cost is not $0."""
    return None if value is None else float(value)


_FIELD_DEFAULTS = tuple((name, _DEFAULTS.get(name)) for name in WRITABLE)


def row_values(row: dict, epoch: float) -> tuple:
    """One row dict as an INSERT tuple: defaults filled, Decimal as float, bool as 0/1.

    ``epoch`` is when ``write`` was called; it becomes ``ts`` unless the row has one. A
    None for a column with a default (attempt, final, status...) takes the default.
    """
    values = [default if (v := row.get(name)) is None else v for name, default in _FIELD_DEFAULTS]
    if values[0] is None:
        values[0] = _ts_text(epoch)
    for i, value in enumerate(values):
        if type(value) not in _PLAIN:
            values[i] = _sql_value(value)
    return tuple(values)


def rejected_values(row: dict, epoch: float) -> tuple:
    """One ``rejected_requests`` row dict as an INSERT tuple; ``epoch`` becomes ``ts`` unless given."""
    values = [row.get(name) for name in REJECTED_WRITABLE]
    if values[0] is None:
        values[0] = _ts_text(epoch)
    return tuple(v if type(v) in _PLAIN else _sql_value(v) for v in values)
