"""How governance says no, and why it steps a request down: the typed refusals and their text.

Messages name the key, team or budget and say what would help (when a budget resets, how
long to wait); they never carry a key or anything of the request. A storage that cannot
answer on the request path is a 503 ``GovernanceUnavailable`` (``stored``), never a raw
database error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ..db.errors import UNAVAILABLE
from ..errors import AuthenticationError, BudgetExceeded, GovernanceUnavailable, RateLimitExceeded
from .budgets import period_key, soft_reached, to_usd
from .ratelimit import RateDecision, RateLimit, headers, openai_duration
from .records import describe
from .store import LedgerState


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def expired_error(name: str, expires_at: float) -> AuthenticationError:
    return AuthenticationError(f"API key '{name}' expired at {iso(utc(expires_at))}", code="key_expired")


def key_error(name: str, expires_at: float | None, state: str, reason: str | None) -> AuthenticationError:
    """401 for a key that is ``revoked``, ``expired`` or (deleted under a cached principal) ``missing``."""
    if state == "revoked":
        why = f": {reason}" if reason else ""
        return AuthenticationError(f"API key '{name}' was revoked{why}", code="key_revoked")
    if state == "expired":
        return expired_error(name, expires_at or 0.0)
    return AuthenticationError("invalid API key", code="invalid_api_key")


def rate_error(limit: RateLimit, decision: RateDecision, decisions) -> RateLimitExceeded:
    per = f"{limit.limit} {limit.metric} per minute"
    if decision.retry_after is None:
        message = f"this request alone needs more than {describe(limit.owner)}'s limit of {per}"
    else:
        message = f"{describe(limit.owner)} is over its limit of {per}; retry after {openai_duration(decision.retry_after)}"
    return RateLimitExceeded(
        message, limit=f"{limit.owner}:{limit.metric}", retry_after=decision.retry_after, headers=headers(decisions)
    )


def budget_error(state: LedgerState, now: float) -> BudgetExceeded:
    budget = state.charge.budget
    _, reset_epoch = period_key(budget.period, now)
    resets_at = utc(reset_epoch)
    message = (
        f"{describe(budget.owner)} has used its budget of ${budget.limit_usd:.2f} per {budget.period}: "
        f"${to_usd(state.spent_q):.4f} spent and ${to_usd(state.reserved_q):.4f} held by requests in flight, "
        f"and this request may cost up to ${to_usd(state.charge.amount_q):.4f}; "
        f"the budget resets at {iso(resets_at)}"
    )
    return BudgetExceeded(message, budget=budget.owner, resets_at=resets_at, retry_after=max(reset_epoch - now, 0.0))


def soft_signal(states: Sequence[LedgerState]) -> tuple[bool, str | None]:
    for s in states:
        b = s.charge.budget
        if soft_reached(b.limit_q, s.spent_q, s.reserved_q, b.soft):
            used = (s.spent_q + s.reserved_q) / b.limit_q if b.limit_q else 1.0
            return True, (
                f"{describe(b.owner)} budget at {used:.0%} of ${b.limit_usd:.2f} per {b.period} "
                f"(soft limit {b.soft:.0%}): stepped down to the cheapest allowed model"
            )
    return False, None


def stored(step, *args):
    """``step(*args)``, a read or write of the governance storage on the request path; a
    storage that cannot answer becomes the typed 503 ``GovernanceUnavailable`` (the
    database's own message names no password, see ``db.target.describe``)."""
    try:
        return step(*args)
    except UNAVAILABLE as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GovernanceUnavailable(f"the governance storage cannot be reached: {detail}") from None
