"""Synchronous writes and reads beside the writer thread: A/B verdicts, and the router's warm-up read.

A vote is stored at once, on its own connection, because the Compare page shows the tally
right after the click; it opens an existing log only (``create=False``), so a log deleted
in use is not recreated empty behind the writer's back, and a log that cannot be written
answers with ``AuditLogUnavailable`` rather than a database error. Each works on either
database (``path`` is a SQLite file or a PostgreSQL URL). ``recent_attempts`` reads
the newest real attempts for seeding latency statistics and token calibration, and
``vote_tallies`` the blind votes per side for the quality floor.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .. import db
from ..errors import AuditLogUnavailable, ValidationError
from .schema import RECENT_COLUMNS, VERDICTS, money_value, utc_now_text

_VOTE_SQL = (
    "INSERT INTO ab_votes (ts, compare_id, task, provider_a, model_a, provider_b, model_b, verdict,"
    ' winner_provider, winner_model, cost_a_usd, cost_b_usd, "user") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id'
)


def record_vote(
    path: db.Target,
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
    try:
        conn = db.connect(path, create=False)
        try:
            return int(conn.execute(_VOTE_SQL, values).fetchone()[0])
        finally:
            conn.close()
    except db.UNAVAILABLE as exc:
        raise AuditLogUnavailable(f"the vote was not stored: the usage log database is unavailable ({exc})") from None


def recent_attempts(path: db.Target, limit: int = 2000, *, include_synthetic: bool = False) -> list[dict]:
    """The newest attempts first. Synthetic demo rows are left out by default: they must not
    steer real routing."""
    where = "" if include_synthetic else "WHERE synthetic = 0"
    conn = db.connect(path, read_only=True)
    try:
        cur = conn.execute(f"SELECT {', '.join(RECENT_COLUMNS)} FROM usage_logs {where} ORDER BY id DESC LIMIT ?", (int(limit),))
        return [dict(zip(RECENT_COLUMNS, r)) for r in cur.fetchall()]
    finally:
        conn.close()


def vote_tallies(path: db.Target) -> list[tuple]:
    """(provider, model, task, votes, wins) per side of every blind vote, for the quality floor."""
    conn = db.connect(path, read_only=True)
    try:
        return conn.execute(
            """SELECT provider, model, task, count(*), sum(won) FROM (
                   SELECT provider_a AS provider, model_a AS model, task, CASE WHEN verdict = 'a' THEN 1 ELSE 0 END AS won
                   FROM ab_votes
                   UNION ALL SELECT provider_b, model_b, task, CASE WHEN verdict = 'b' THEN 1 ELSE 0 END FROM ab_votes) AS sides
               WHERE model IS NOT NULL AND task IS NOT NULL GROUP BY 1, 2, 3"""
        ).fetchall()
    finally:
        conn.close()
