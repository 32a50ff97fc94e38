"""Governance records and the principal a request runs as.

A ``KeyRecord`` is a stored API key (its secret only as a hash), a ``TeamRecord`` a team's
budget and limits. ``principal_of`` turns the two into a ``Principal``: who the request is
(key name, key id, team, user), what it may use (allow-lists), and the budgets and rate
limits that apply to it. A principal is a snapshot taken when the key is authenticated, so
it is built per request, never kept: that is what makes revocation and changed limits
apply from the next request on. ``filter_candidates`` applies the allow-lists to the
configured (provider, model) pairs, and is pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ..errors import ModelNotAllowed
from .budgets import DEFAULT_SOFT, BudgetLimit, to_quanta
from .ratelimit import RateLimit

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# Keys listed in GATEWAY_API_KEYS belong to this team, so a budget set on it caps them too,
# as it caps requests made without any key.
STATIC_TEAM = "default"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class TeamRecord:
    name: str
    budget_usd: Decimal | None = None
    budget_period: str = "month"
    soft: float = DEFAULT_SOFT
    rpm: int | None = None
    tpm: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class KeyRecord:
    """A virtual API key. ``key_id`` is public (it prefixes the key); ``key_hash`` is SHA-256 of the key."""

    key_id: str
    name: str
    team: str
    key_hash: str = field(repr=False)
    user: str | None = None
    providers: tuple[str, ...] | None = None  # None: any
    models: tuple[str, ...] | None = None
    budget_usd: Decimal | None = None
    budget_period: str = "month"
    soft: float = DEFAULT_SOFT
    rpm: int | None = None
    tpm: int | None = None
    expires_at: float | None = None  # epoch seconds, UTC
    created_at: float = 0.0
    revoked_at: float | None = None
    revoked_reason: str | None = None

    def state(self, now: float) -> str:
        return key_state(self.revoked_at, self.expires_at, now)


def key_state(revoked_at: float | None, expires_at: float | None, now: float) -> str:
    """``active``, ``revoked`` or ``expired`` at ``now`` (revocation wins over expiry)."""
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and now >= expires_at:
        return "expired"
    return "active"


@dataclass(frozen=True)
class Principal:
    """Who a request runs as, what it may use, and the limits that apply to it."""

    key_name: str
    key_id: str
    team: str
    user: str | None = None
    providers: frozenset[str] | None = None
    models: frozenset[str] | None = None
    budgets: tuple[BudgetLimit, ...] = ()
    rates: tuple[RateLimit, ...] = ()
    static: bool = False  # no stored key record to re-check: a GATEWAY_API_KEYS key, or no key at all
    expires_at: float | None = None
    anonymous: bool = False  # no key was given: usage rows name no key

    @property
    def logged_key_name(self) -> str | None:
        """The key name a usage row records: none for a request made without a key."""
        return None if self.anonymous else self.key_name

    def allows(self, provider: str, model: str) -> bool:
        return (self.providers is None or provider in self.providers) and (self.models is None or model in self.models)

    @property
    def budgeted(self) -> bool:
        return bool(self.budgets)


def describe(owner: str) -> str:
    """``team:ml`` -> ``team 'ml'``, for messages."""
    kind, _, name = owner.partition(":")
    return f"{kind} '{name}'"


def _limits(scope: str, owner: str, budget_usd, period: str, soft: float, rpm, tpm):
    budgets = () if budget_usd is None else (BudgetLimit(scope, owner, to_quanta(budget_usd), period, soft),)
    rates = tuple(
        RateLimit(f"{scope}:{metric}", owner, metric, limit)
        for metric, limit in (("requests", rpm), ("tokens", tpm))
        if limit is not None
    )
    return budgets, rates


def team_limits(team: TeamRecord | None):
    if team is None:
        return (), ()
    return _limits(f"team:{team.name}", f"team:{team.name}", team.budget_usd, team.budget_period, team.soft, team.rpm, team.tpm)


def principal_of(key: KeyRecord, team: TeamRecord | None) -> Principal:
    """The principal of an authenticated key: the key's limits, then its team's."""
    key_budgets, key_rates = _limits(
        f"key:{key.key_id}", f"key:{key.name}", key.budget_usd, key.budget_period, key.soft, key.rpm, key.tpm
    )
    team_budgets, team_rates = team_limits(team)
    return Principal(
        key_name=key.name,
        key_id=key.key_id,
        team=key.team,
        user=key.user,
        providers=None if key.providers is None else frozenset(key.providers),
        models=None if key.models is None else frozenset(key.models),
        budgets=key_budgets + team_budgets,
        rates=key_rates + team_rates,
        expires_at=key.expires_at,
    )


def static_principal(index: int, team: TeamRecord | None) -> Principal:
    """The principal of the ``index``-th (from 1) key of ``GATEWAY_API_KEYS``: named by position,
    never by anything derived from the key, and subject to the ``default`` team's limits."""
    budgets, rates = team_limits(team)
    name = f"static-{index}"
    return Principal(key_name=name, key_id=name, team=STATIC_TEAM, budgets=budgets, rates=rates, static=True)


def anonymous_principal(team: TeamRecord | None) -> Principal:
    """Who a request made without a key runs as (the Python API or console without one, the
    REST API while no key is configured): the ``default`` team, under that team's limits,
    so leaving the key out never escapes a budget."""
    budgets, rates = team_limits(team)
    return Principal(
        key_name=ANONYMOUS, key_id=ANONYMOUS, team=STATIC_TEAM, budgets=budgets, rates=rates, static=True, anonymous=True
    )


def filter_candidates(
    principal: Principal,
    candidates: Sequence[tuple[str, str]],
    *,
    priced: Callable[[str, str], bool] | None = None,
    pinned: str | None = None,
) -> list[tuple[str, str]]:
    """The (provider, model) pairs ``principal`` may use, in their given order.

    Under a budget, unpriced models are left out too: their cost cannot be bounded. Raises
    ``ModelNotAllowed`` naming the model when a pinned model is not allowed, or when none is."""

    def usable(provider: str, model: str) -> bool:
        if not principal.allows(provider, model):
            return False
        return not (principal.budgeted and priced is not None and not priced(provider, model))

    if pinned is not None and not any(usable(p, m) for p, m in candidates if m == pinned):
        raise ModelNotAllowed(_refusal(principal, pinned, priced, candidates), model=pinned)
    allowed = [(p, m) for p, m in candidates if usable(p, m)]
    if not allowed:
        raise ModelNotAllowed(f"key '{principal.key_name}' may not use any configured model", model=None)
    return allowed


def _refusal(principal: Principal, model: str, priced, candidates: Iterable[tuple[str, str]]) -> str:
    if any(principal.allows(p, m) for p, m in candidates if m == model):
        return f"model '{model}' is unpriced, so its cost cannot be held to the budget of key '{principal.key_name}'"
    return f"key '{principal.key_name}' may not use model '{model}'"
