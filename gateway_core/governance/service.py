"""The governance facade: authenticate a key, admit a request against its limits, settle it, report.

On the request path a pipeline calls, in order: ``authenticate`` (401s), ``allowed_candidates``
(403 ``model_not_allowed``), ``admit`` with the request's worst case (429 ``rate_limited`` or
``budget_exceeded``; otherwise an ``Admission`` holding the reservation, the soft-limit
step-down signal and the ``x-ratelimit-*`` header values), then exactly one of ``settle``
(with the actual cost of all attempts) or ``release`` (nothing was billed).

No principal is cached: each ``authenticate`` reads the key and its team (one indexed
lookup, a few microseconds), so a revocation, an expiry or a changed limit applies to the
next request in every process sharing the database, not after a cache's lifetime.

Reservations outlive a crash: a request's reservation stays held until it settles or
releases. One whose process died is expired by a sweep, piggybacked on admissions every
``sweep_every_s`` (5 s), once older than ``reservation_ttl_s``: its money is back within
TTL + 5 s. The TTL must exceed the longest a request can run, all fallback attempts
included; the default is 15 minutes. A request that outlives it is still settled in full.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ..errors import AuthenticationError, BudgetExceeded, ModelNotAllowed, RateLimitExceeded, ValidationError
from . import admin
from .budgets import BudgetLimit, BudgetStatus, forecast, period_bounds, period_key, soft_reached, to_quanta, to_usd
from .keys import StaticKeys, hash_matches, key_id_of
from .ratelimit import RateDecision, RateLimit, headers, openai_duration
from .records import (STATIC_TEAM, KeyRecord, Principal, TeamRecord, describe, filter_candidates, principal_of,
                      static_principal, team_limits)
from .store import AdmitTicket, BudgetCharge, GovernanceStore, LedgerState

RESERVATION_TTL_S = 900.0
SWEEP_EVERY_S = 5.0
FORGET_EXPIRED_AFTER_S = 86_400.0
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Admission:
    """An admitted request: settle or release it exactly once when it ends."""

    principal: Principal
    reservation_id: str | None = None
    reserved_usd: Decimal = _ZERO
    step_down: bool = False  # a budget is past its soft limit: use the cheapest allowed model
    reason: str | None = None  # why, for route_reason and a response header
    headers: Mapping[str, str] = field(default_factory=dict)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Governance:
    def __init__(self, store: GovernanceStore, *, static_keys: Sequence[str] = (), clock: Callable[[], float] = time.time,
                 reservation_ttl_s: float = RESERVATION_TTL_S, sweep_every_s: float = SWEEP_EVERY_S):
        self.store = store
        self.reservation_ttl_s = reservation_ttl_s
        self._static = StaticKeys(tuple(static_keys))
        self._clock = clock
        self._sweep_every_s = sweep_every_s
        self._last_sweep = -float("inf")

    @classmethod
    def open(cls, db_path: str | Path, **kw) -> "Governance":
        from .sqlite_store import SQLiteGovernanceStore

        return cls(SQLiteGovernanceStore(db_path), **kw)

    @classmethod
    def from_settings(cls, settings, **kw) -> "Governance":
        return cls.open(settings.db_path, static_keys=settings.api_key_values(), **kw)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Governance":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def now(self) -> float:
        return self._clock()

    @property
    def static_key_count(self) -> int:
        """How many keys ``GATEWAY_API_KEYS`` configures (the keys themselves are not kept)."""
        return len(self._static)

    # --- who is asking --------------------------------------------------------------------

    def authenticate(self, bearer_token: str | None, *, now: float | None = None) -> Principal:
        """The principal of a bearer key (with or without the ``Bearer`` word), or ``AuthenticationError``."""
        key = (bearer_token or "").strip()
        if key[:7].lower() == "bearer ":
            key = key[7:].strip()
        if not key:
            raise AuthenticationError("missing API key; send Authorization: Bearer <key>", code="invalid_api_key")
        index = self._static.match(key)
        if index is not None:
            return static_principal(index, self.store.team(STATIC_TEAM))
        key_id = key_id_of(key)
        record, team = self.store.key_with_team(key_id) if key_id else (None, None)
        if record is None or not hash_matches(key, record.key_hash):
            raise AuthenticationError("invalid API key", code="invalid_api_key")
        self._check_state(record, self._clock() if now is None else now)
        return principal_of(record, team)

    def principal_for(self, key_name: str, *, now: float | None = None) -> Principal:
        """The principal of a key chosen by name, for trusted in-process callers (console, Python API)."""
        record = self.store.key_by_name(key_name) if isinstance(key_name, str) else None
        if record is None:
            raise AuthenticationError(f"no API key named {str(key_name)[:64]!r}", code="invalid_api_key")
        self._check_state(record, self._clock() if now is None else now)
        return principal_of(record, self.store.team(record.team))

    @staticmethod
    def _check_state(record: KeyRecord, now: float) -> None:
        state = record.state(now)
        if state == "revoked":
            why = f": {record.revoked_reason}" if record.revoked_reason else ""
            raise AuthenticationError(f"API key '{record.name}' was revoked{why}", code="key_revoked")
        if state == "expired":
            raise AuthenticationError(f"API key '{record.name}' expired at {_iso(_utc(record.expires_at))}",
                                      code="key_expired")

    @staticmethod
    def allowed_candidates(principal: Principal, candidates: Sequence[tuple[str, str]], *,
                           priced: Callable[[str, str], bool] | None = None, pinned: str | None = None):
        """The configured (provider, model) pairs this principal may use; 403 if none (or not the pinned one)."""
        return filter_candidates(principal, candidates, priced=priced, pinned=pinned)

    # --- admission ------------------------------------------------------------------------

    def admit(self, principal: Principal, *, candidates_worst_case: Decimal | None, tokens: int,
              now: float | None = None) -> Admission:
        """Check every rate limit and reserve the worst case on every budget, atomically.

        ``candidates_worst_case`` is the most the request can cost over the candidates it may
        try (``budgets.worst_case``), None if one is unpriced; ``tokens`` is what it counts
        against tokens-per-minute limits (worst-case input plus ``max_tokens``)."""
        if not principal.budgets and not principal.rates:
            return Admission(principal)
        if principal.budgets and candidates_worst_case is None:
            raise ModelNotAllowed("the request may run on an unpriced model, whose cost cannot be held to a budget")
        now = self._clock() if now is None else now
        self._maybe_sweep(now)
        need = to_quanta(candidates_worst_case or _ZERO)
        charges = tuple(BudgetCharge(b, period_key(b.period, now)[0], need) for b in principal.budgets)
        rates = tuple((r, 1 if r.metric == "requests" else max(int(tokens), 0)) for r in principal.rates)
        reservation_id = secrets.token_hex(12) if charges else ""
        outcome = self.store.admit(AdmitTicket(reservation_id, now, now + self.reservation_ttl_s, rates, charges))
        if outcome.refused_rate is not None:
            raise _rate_error(*outcome.refused_rate, outcome.rates)
        if outcome.refused_budget is not None:
            raise _budget_error(outcome.refused_budget, now)
        step_down, reason = _soft_signal(outcome.budgets)
        return Admission(principal, reservation_id or None, to_usd(need) if charges else _ZERO, step_down, reason,
                         headers(outcome.rates))

    def settle(self, admission: Admission, actual_cost: Decimal | None, *, now: float | None = None) -> None:
        """Replace the reservation with ``actual_cost`` (all attempts of the request).

        An unknown cost (None) is settled at the reserved worst case: the budget must not
        undercount. Settling twice, or after ``release``, changes nothing."""
        if admission.reservation_id is None:
            return
        cost = admission.reserved_usd if actual_cost is None else max(actual_cost, _ZERO)
        day = _utc(self._clock() if now is None else now).date().isoformat()
        self.store.settle(admission.reservation_id, to_quanta(cost), day)

    def release(self, admission: Admission) -> None:
        """Give the reservation back: the request ended without anything billed."""
        if admission.reservation_id is not None:
            self.store.release(admission.reservation_id)

    def sweep(self, now: float | None = None) -> int:
        """Expire reservations older than ``reservation_ttl_s``; returns how many."""
        now = self._clock() if now is None else now
        self._last_sweep = now
        return self.store.sweep(now, now - FORGET_EXPIRED_AFTER_S)

    def _maybe_sweep(self, now: float) -> None:
        if now - self._last_sweep >= self._sweep_every_s:
            self.sweep(now)

    # --- visibility -----------------------------------------------------------------------

    def budget_status(self, budget: BudgetLimit, now: float | None = None) -> BudgetStatus:
        as_of = _utc(self._clock() if now is None else now)
        start, end = period_bounds(budget.period, as_of)
        start_key = start.date().isoformat()
        spent_q, reserved_q = self.store.ledger(budget.scope, start_key)
        spent = to_usd(spent_q)
        daily = tuple((date.fromisoformat(d), to_usd(q)) for d, q in self.store.daily_spend(budget.scope, start_key))
        return BudgetStatus(budget.scope, budget.owner, budget.period, budget.limit_usd, budget.soft, spent,
                            to_usd(reserved_q), start, end, as_of, forecast(spent, start, end, as_of), daily)

    def burn_down(self, team: str, now: float | None = None) -> BudgetStatus:
        """The team's budget in its current period, with the forecast to period end at the current rate."""
        record = self.store.team(team)
        if record is None:
            raise ValidationError("team", f"no team named {str(team)[:64]!r}")
        budgets, _ = team_limits(record)
        if not budgets:
            raise ValidationError("team", f"team '{record.name}' has no budget")
        return self.budget_status(budgets[0], now)

    def budgets(self, now: float | None = None) -> list[BudgetStatus]:
        """Every team budget, then every budget of a key that is still active."""
        now = self._clock() if now is None else now
        limits = [b for t in self.store.teams() for b in team_limits(t)[0]]
        limits += [b for k in self.store.keys() if k.state(now) == "active"
                   for b in principal_of(k, None).budgets]
        return [self.budget_status(b, now) for b in limits]

    def near_limits(self, now: float | None = None) -> list[BudgetStatus]:
        """Budgets at or past their soft limit, fullest first."""
        return sorted((s for s in self.budgets(now) if s.soft_reached), key=lambda s: -s.used_fraction)

    # --- administration -------------------------------------------------------------------

    def create_key(self, **fields) -> tuple[KeyRecord, str]:
        """A new key (see ``admin.new_key_record`` for the fields); the key string is returned once."""
        return admin.create_key(self.store, now=self._clock(), **fields)

    def revoke_key(self, name: str, reason: str | None = None) -> KeyRecord:
        return admin.revoke_key(self.store, name, reason, self._clock())

    def keys(self) -> list[KeyRecord]:
        return self.store.keys()

    def set_team(self, name: str, **changes) -> TeamRecord:
        """Create or change a team; fields not given keep their value, ``None`` clears one."""
        admin.check_name("team", name)
        team = admin.team_update(self.store.team(name), name, now=self._clock(), **changes)
        self.store.put_team(team)
        return team

    def teams(self) -> list[TeamRecord]:
        return self.store.teams()


# --- refusals and signals -------------------------------------------------------------------


def _rate_error(limit: RateLimit, decision: RateDecision, decisions) -> RateLimitExceeded:
    per = f"{limit.limit} {limit.metric} per minute"
    if decision.retry_after is None:
        message = f"this request alone needs more than {describe(limit.owner)}'s limit of {per}"
    else:
        message = (f"{describe(limit.owner)} is over its limit of {per}; "
                   f"retry after {openai_duration(decision.retry_after)}")
    return RateLimitExceeded(message, limit=f"{limit.owner}:{limit.metric}", retry_after=decision.retry_after,
                             headers=headers(decisions))


def _budget_error(state: LedgerState, now: float) -> BudgetExceeded:
    budget = state.charge.budget
    _, reset_epoch = period_key(budget.period, now)
    resets_at = _utc(reset_epoch)
    message = (f"{describe(budget.owner)} has used its budget of ${budget.limit_usd:.2f} per {budget.period}: "
               f"${to_usd(state.spent_q):.4f} spent and ${to_usd(state.reserved_q):.4f} held by requests in flight, "
               f"and this request may cost up to ${to_usd(state.charge.amount_q):.4f}; "
               f"the budget resets at {_iso(resets_at)}")
    return BudgetExceeded(message, budget=budget.owner, resets_at=resets_at, retry_after=max(reset_epoch - now, 0.0))


def _soft_signal(states: Sequence[LedgerState]) -> tuple[bool, str | None]:
    for s in states:
        b = s.charge.budget
        if soft_reached(b.limit_q, s.spent_q, s.reserved_q, b.soft):
            used = (s.spent_q + s.reserved_q) / b.limit_q if b.limit_q else 1.0
            return True, (f"{describe(b.owner)} budget at {used:.0%} of ${b.limit_usd:.2f} per {b.period} "
                          f"(soft limit {b.soft:.0%}): stepped down to the cheapest allowed model")
    return False, None
