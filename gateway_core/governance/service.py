"""The governance facade: authenticate a key, admit a request against its limits, settle it, report.

On the request path a pipeline calls, in order: ``authenticate`` (401s), ``allowed_candidates``
(403 ``model_not_allowed``), ``admit`` with the request's worst case (429 ``rate_limited`` or
``budget_exceeded``; otherwise an ``Admission`` holding the reservation, the soft-limit
step-down signal and the ``x-ratelimit-*`` header values), then exactly one of ``settle``
(with the actual cost of all attempts) or ``release`` (nothing was billed). Those two only
queue the end of the reservation (see ``settlement``), which a background thread applies in
batches, so a request pays for one database transaction, not two.

A request made without a key runs as ``anonymous()``: the ``default`` team, under its
limits. ``principal_for`` names a key for trusted in-process callers (the Python API, the
console), ``requires_key`` says whether callers must present one at all.

Revocation and expiry apply to the next request. ``authenticate`` (and ``principal_for``)
keeps each principal it found for ``principal_ttl_s`` (5 s), keyed by the key's hash,
because reading the key costs more than the rest of authentication; but expiry is checked on every call, this
process's own key and team changes empty the cache, and ``admit`` checks in its own
transaction that the key is still active. So a key revoked anywhere (the CLI, another
instance) is refused at the next request that reserves anything; requests that reserve
nothing (listing models, or a key with neither budget nor rate limit) and limits changed
in another process may lag by up to the cache's 5 s.

Reservations outlive a crash: a request's reservation stays held until it ends. One whose
process died is expired by a sweep, piggybacked on admissions every ``sweep_every_s``
(5 s), once older than ``reservation_ttl_s`` (within TTL + 5 s), and charged at its worst
case, because its provider may have billed it. The TTL must exceed the longest a request
can run, all fallback attempts included; the default is 15 minutes. A request that does
end after its reservation expired still has its charge corrected to the actual cost.
"""

from __future__ import annotations

import hmac
import itertools
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from ..errors import AuthenticationError, ModelNotAllowed, ValidationError
from . import admin
from .budgets import BudgetLimit, BudgetStatus, forecast, period_bounds, period_key, to_quanta, to_usd
from .keys import StaticKeys, hash_key, key_id_of
from .principals import PrincipalCache
from .ratelimit import LimitHeaders
from .records import (
    ANONYMOUS,
    STATIC_TEAM,
    KeyRecord,
    Principal,
    TeamRecord,
    anonymous_principal,
    filter_candidates,
    principal_of,
    static_principal,
    team_limits,
)
from .refusals import budget_error, key_error, rate_error, soft_signal, stored, utc
from .settlement import SettleQueue
from .store import AdmitTicket, BudgetCharge, GovernanceStore

RESERVATION_TTL_S = 900.0
SWEEP_EVERY_S = 5.0
PRINCIPAL_TTL_S = 5.0
FORGET_EXPIRED_AFTER_S = 86_400.0
_ZERO = Decimal(0)
_NO_HEADERS = MappingProxyType({})


class Admission(NamedTuple):
    """An admitted request: settle or release it exactly once when it ends.

    A named tuple rather than a frozen dataclass because every request builds one."""

    principal: Principal
    reservation_id: str | None = None
    reserved_q: int = 0  # the worst case held on each budget, in quanta (see ``budgets``)
    step_down: bool = False  # a budget is past its soft limit: use the cheapest allowed model
    reason: str | None = None  # why, for route_reason and a response header
    headers: Mapping[str, str] = MappingProxyType({})  # x-ratelimit-* values, when limits apply

    @property
    def reserved_usd(self) -> Decimal:
        return to_usd(self.reserved_q)


class Governance:
    """Keys, teams, budgets and rate limits over a ``GovernanceStore``; safe to share between threads.

    ``clock`` returns epoch seconds (UTC); every time-dependent call also takes ``now``."""

    def __init__(
        self,
        store: GovernanceStore,
        *,
        static_keys: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        reservation_ttl_s: float = RESERVATION_TTL_S,
        sweep_every_s: float = SWEEP_EVERY_S,
        principal_ttl_s: float = PRINCIPAL_TTL_S,
    ):
        self.store = store
        self.principal_ttl_s = principal_ttl_s
        self._principals = PrincipalCache(principal_ttl_s)
        self.reservation_ttl_s = reservation_ttl_s
        self._static = StaticKeys(tuple(static_keys))
        self._clock = clock
        self._sweep_every_s = sweep_every_s
        self._last_sweep = -float("inf")
        self._ends = SettleQueue(store.end_reservations)
        # Reservation ids need only be unique across processes, not unguessable: a random
        # prefix per facade and a counter cost nothing, where drawing entropy each time did.
        self._ids = map(f"{secrets.token_hex(8)}-{{}}".format, itertools.count(1))

    @classmethod
    def open(cls, db_path: str | Path, *, pool_size: int | None = None, **kw) -> Governance:
        """Governance over the usage database at ``db_path``: a SQLite file, or a PostgreSQL
        URL whose store every instance shares (``pool_size`` connections per process)."""
        from ..db import is_postgres

        if is_postgres(db_path):
            from .pg_store import PostgresGovernanceStore

            return cls(PostgresGovernanceStore(str(db_path), pool_size=pool_size), **kw)
        from .sqlite_store import SQLiteGovernanceStore

        return cls(SQLiteGovernanceStore(db_path), **kw)

    @classmethod
    def from_settings(cls, settings, **kw) -> Governance:
        return cls.open(settings.database(), pool_size=settings.db_pool_size, static_keys=settings.api_key_values(), **kw)

    def close(self) -> None:
        """Apply every queued settle, then close the store."""
        self._ends.close()
        self.store.close()

    def flush(self) -> None:
        """Apply queued settles and releases now (readers in this process call it for themselves)."""
        self._ends.flush()

    def __enter__(self) -> Governance:
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

    def authenticate(self, bearer_token: str | None, *, now: float | None = None, cached_only: bool = False):
        """The principal of a bearer key (with or without the ``Bearer`` word), or ``AuthenticationError``.

        ``cached_only`` answers None instead of reading the store when the key is not cached,
        so an event loop can authenticate cached keys in place and hand the rest to a thread."""
        key = (bearer_token or "").strip()
        if key[:7].lower() == "bearer ":
            key = key[7:].strip()
        if not key:
            raise AuthenticationError("missing API key; send Authorization: Bearer <key>", code="invalid_api_key")
        now = self._clock() if now is None else now
        digest = hash_key(key)
        principal = self._principals.get(digest, now)
        if principal is None and not cached_only:
            principal = self._principals.put(digest, stored(self._lookup, key, digest, now), now)
        return principal

    def _lookup(self, key: str, digest: str, now: float) -> Principal:
        index = self._static.match_digest(digest)
        if index is not None:
            return static_principal(index, self.store.team(STATIC_TEAM))
        key_id = key_id_of(key)
        record, team = self.store.key_with_team(key_id) if key_id else (None, None)
        # The id found the record; the constant-time comparison of hashes proves the secret.
        if record is None or not hmac.compare_digest(digest, record.key_hash):
            raise AuthenticationError("invalid API key", code="invalid_api_key")
        self._check_state(record, now)
        return principal_of(record, team)

    def _forget_principals(self) -> None:
        """This process changed a key or a team: the next request reads them afresh."""
        self._principals.clear()

    def principal_for(self, key_name: str, *, now: float | None = None) -> Principal:
        """The principal of a key chosen by name, for trusted in-process callers (console, Python API).

        Cached like ``authenticate``, under a slot no key's hash can take."""
        now = self._clock() if now is None else now
        slot = f"name:{key_name}" if isinstance(key_name, str) else None
        principal = None if slot is None else self._principals.get(slot, now)
        if principal is not None:
            return principal
        record = self.store.key_by_name(key_name) if slot is not None else None
        if record is None:
            raise AuthenticationError(f"no API key named {str(key_name)[:64]!r}", code="invalid_api_key")
        self._check_state(record, now)
        return self._principals.put(slot, principal_of(record, self.store.team(record.team)), now)

    def anonymous(self, *, now: float | None = None, cached_only: bool = False):
        """Who a request made without a key runs as: the ``default`` team, under its limits."""
        now = self._clock() if now is None else now
        principal = self._principals.get(ANONYMOUS, now)
        if principal is None and not cached_only:
            principal = self._principals.put(ANONYMOUS, anonymous_principal(stored(self.store.team, STATIC_TEAM)), now)
        return principal

    def requires_key(self, *, now: float | None = None, cached_only: bool = False) -> bool | None:
        """Whether callers must present a key: ``GATEWAY_API_KEYS`` is set, or a key was ever
        created. Cached for ``principal_ttl_s``; this process's own key changes refresh it."""
        if len(self._static):
            return True
        now = self._clock() if now is None else now
        known = self._principals.census(now)
        if known is None and not cached_only:
            known = self._principals.count(stored(self.store.has_keys), now)
        return known

    def healthy(self) -> bool:
        """Whether the governance storage answers a read (for a readiness check)."""
        try:
            self.store.ping()
        except Exception:  # noqa: BLE001 - any failure to read means not ready
            return False
        return True

    @staticmethod
    def _check_state(record: KeyRecord, now: float) -> None:
        state = record.state(now)
        if state != "active":
            raise key_error(record.name, record.expires_at, state, record.revoked_reason)

    @staticmethod
    def allowed_candidates(
        principal: Principal,
        candidates: Sequence[tuple[str, str]],
        *,
        priced: Callable[[str, str], bool] | None = None,
        pinned: str | None = None,
    ):
        """The configured (provider, model) pairs this principal may use; 403 if none (or not the pinned one)."""
        return filter_candidates(principal, candidates, priced=priced, pinned=pinned)

    # --- admission ------------------------------------------------------------------------

    def admit(
        self, principal: Principal, *, candidates_worst_case: Decimal | None, tokens: int, now: float | None = None
    ) -> Admission:
        """Check every rate limit and reserve the worst case on every budget, atomically.

        ``candidates_worst_case`` is the most the request can cost over the candidates it may
        try (``budgets.worst_case``), None if one is unpriced; ``tokens`` is what it counts
        against tokens-per-minute limits (worst-case input plus ``max_tokens``)."""
        budgets, rates = principal.budgets, principal.rates
        if not budgets and not rates:
            return Admission(principal)
        if budgets and candidates_worst_case is None:
            raise ModelNotAllowed("the request may run on an unpriced model, whose cost cannot be held to a budget")
        now = self._clock() if now is None else now
        if now - self._last_sweep >= self._sweep_every_s:
            self.sweep(now)
        need = to_quanta(candidates_worst_case) if budgets else 0
        charges = tuple([BudgetCharge(b, period_key(b.period, now)[0], need) for b in budgets])
        token_cost = max(int(tokens), 0)
        rate_costs = tuple([(r, 1 if r.metric == "requests" else token_cost) for r in rates])
        reservation_id = next(self._ids) if charges else ""
        key_id = None if principal.static else principal.key_id
        ticket = AdmitTicket(key_id, reservation_id, now, now + self.reservation_ttl_s, rate_costs, charges)
        outcome = stored(self.store.admit, ticket)
        if outcome.refused_budget is not None and self._ends.pending():
            outcome = stored(self._admit_after_ends, ticket)
        if outcome.refused_key is not None:
            self._forget_principals()
            raise key_error(principal.key_name, principal.expires_at, *outcome.refused_key)
        if outcome.refused_rate is not None:
            raise rate_error(*outcome.refused_rate, outcome.rates)
        if outcome.refused_budget is not None:
            raise budget_error(outcome.refused_budget, now)
        step_down, reason = soft_signal(outcome.budgets)
        limits = LimitHeaders(outcome.rates) if outcome.rates else _NO_HEADERS
        return Admission(principal, reservation_id or None, need, step_down, reason, limits)

    def _admit_after_ends(self, ticket: AdmitTicket):
        """Refused by a budget while settles wait in the queue: apply them, then decide again,
        so that a request never fails for want of money an earlier request already gave back."""
        ends = self._ends.take()
        try:
            outcome = self.store.admit(ticket, ends)
        except BaseException:
            self._ends.give_back(ends)
            raise
        if not outcome.admitted:
            self._ends.give_back(ends)  # rolled back with the refusal; the background thread applies them
        return outcome

    def settle(self, admission: Admission, actual_cost: Decimal | None) -> None:
        """Replace the reservation with ``actual_cost`` (all attempts of the request).

        An unknown cost (None) is settled at the reserved worst case: the budget must not
        undercount. Settling twice, or after ``release``, changes nothing."""
        if admission.reservation_id is None:
            return
        cost_q = admission.reserved_q if actual_cost is None else to_quanta(max(actual_cost, _ZERO))
        self._ends.put((admission.reservation_id, cost_q))

    def release(self, admission: Admission) -> None:
        """Give the reservation back: the request ended without anything billed."""
        if admission.reservation_id is not None:
            self._ends.put((admission.reservation_id, 0))

    def sweep(self, now: float | None = None) -> int:
        """Expire reservations older than ``reservation_ttl_s``; returns how many."""
        now = self._clock() if now is None else now
        self._last_sweep = now
        return self.store.sweep(now, now - FORGET_EXPIRED_AFTER_S)

    # --- visibility -----------------------------------------------------------------------

    def budget_status(self, budget: BudgetLimit, now: float | None = None) -> BudgetStatus:
        self.flush()
        as_of = utc(self._clock() if now is None else now)
        start, end = period_bounds(budget.period, as_of)
        start_key = start.date().isoformat()
        spent_q, reserved_q = self.store.ledger(budget.scope, start_key)
        spent = to_usd(spent_q)
        return BudgetStatus(
            budget.scope,
            budget.owner,
            budget.period,
            budget.limit_usd,
            budget.soft,
            spent,
            to_usd(reserved_q),
            start,
            end,
            as_of,
            forecast(spent, start, end, as_of),
        )

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
        limits += [b for k in self.store.keys() if k.state(now) == "active" for b in principal_of(k, None).budgets]
        return [self.budget_status(b, now) for b in limits]

    def near_limits(self, now: float | None = None) -> list[BudgetStatus]:
        """Budgets at or past their soft limit, fullest first."""
        return sorted((s for s in self.budgets(now) if s.soft_reached), key=lambda s: -s.used_fraction)

    # --- administration -------------------------------------------------------------------

    def create_key(self, **fields) -> tuple[KeyRecord, str]:
        """A new key (see ``admin.new_key_record`` for the fields); the key string is returned once."""
        created = admin.create_key(self.store, now=self._clock(), **fields)
        self._forget_principals()  # its team may have been created with it
        return created

    def revoke_key(self, name: str, reason: str | None = None) -> KeyRecord:
        revoked = admin.revoke_key(self.store, name, reason, self._clock())
        self._forget_principals()
        return revoked

    def keys(self) -> list[KeyRecord]:
        return self.store.keys()

    def set_team(self, name: str, **changes) -> TeamRecord:
        """Create or change a team; fields not given keep their value, ``None`` clears one."""
        admin.check_name("team", name)
        team = admin.team_update(self.store.team(name), name, now=self._clock(), **changes)
        self.store.put_team(team)
        self._forget_principals()
        return team

    def teams(self) -> list[TeamRecord]:
        return self.store.teams()
