"""The governance steps of a request's path: who it runs as, what it may use, what it may spend.

``pipeline.run`` calls these in order, one line each, around planning and execution:

- ``authenticate``: the ``Principal`` the request runs as: the one the REST API found for
  its bearer key, a key chosen by name (the Python API, the console), or, without a key,
  the anonymous principal of the ``default`` team, under that team's limits;
- ``allowed``: the plan's candidates cut to the key's allow-lists (403
  ``model_not_allowed``); under a budget, unpriced models go too, as their cost has no bound;
- ``reserve``: every rate limit checked and the request's worst case reserved on every
  budget, in one atomic step, before the first provider call (429 ``rate_limited`` or
  ``budget_exceeded``);
- ``step_down``: past a soft budget limit, the candidates re-ranked cheapest first (the
  routing policy's preferences still first), and ``route_reason`` and the
  ``x-gateway-budget`` header say so;
- ``settle``: in the ``finally``, the reservation replaced by what the attempts were billed
  (the sum of their ``cost_usd``, which is what the usage rows say), or released when no
  attempt was billed at all.

``Refusals`` records a refusal by any of these steps as a rejected request (whose, which
step, never its content): nothing refused here reaches a provider or is logged as an attempt.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

from .errors import AuthenticationError, GovernanceError, ModelNotAllowed, ValidationError
from .executor import Trail
from .governance import Admission, Principal, worst_case
from .planning import Plan, with_policy
from .router import rank
from .usage.rows import rejected_row

BUDGET_HEADER = "x-gateway-budget"
log = logging.getLogger(__name__)
_ZERO = Decimal(0)


def authenticate(rt, key, trail: Trail) -> Principal:
    """``key`` is an authenticated ``Principal``, a key's name, or None (no key)."""
    if isinstance(key, Principal):
        principal = key
    elif key is None:
        principal = rt.governance.anonymous()
    elif isinstance(key, str):
        principal = rt.governance.principal_for(key)
    else:
        raise ValidationError("key", "must be an API key's name or a Principal")
    trail.key_name, trail.team = principal.logged_key_name, principal.team
    trail.key_id = None if principal.anonymous else principal.key_id
    return principal


def allowed(rt, plan: Plan, principal: Principal) -> Plan:
    """The plan with only the candidates ``principal`` may use."""
    if principal.providers is None and principal.models is None and not principal.budgets:
        return plan
    keep = set(
        rt.governance.allowed_candidates(
            principal,
            [c.key for c in plan.candidates],
            priced=lambda provider, model: plan.estimates[(provider, model)].cost_usd is not None,
            pinned=plan.request.model,
        )
    )
    if len(keep) == len(plan.candidates):
        return plan
    candidates = tuple(c for c in plan.candidates if c.key in keep)
    return Plan(
        plan.request, plan.messages, plan.max_tokens, plan.estimates, candidates, plan.streaming, plan.ranking, plan.policy
    )


def reserve(rt, plan: Plan, principal: Principal, trail: Trail) -> Admission:
    """Check the rate limits and hold the worst case on every budget, or refuse (429).

    The worst case covers every candidate the request may be sent to, not just the first:
    a fallback, or a soft-limit step-down, must stay inside what was reserved."""
    if not principal.budgets and not principal.rates:
        return Admission(principal)
    worst = worst_case([plan.estimates[c.key] for c in plan.candidates], plan.max_tokens, rt.prices.lookup)
    admission = rt.governance.admit(principal, candidates_worst_case=worst.usd, tokens=worst.tokens)
    trail.headers = admission.headers
    return admission


def step_down(rt, plan: Plan, admission: Admission, trail: Trail) -> Plan:
    """Past a soft limit: rank cheapest first (a pinned model stays pinned; a provider hint yields)."""
    if not admission.step_down:
        return plan
    cheapest_first = replace(plan.request, priority="low_cost", provider_hint=None)
    ranking = rank(
        cheapest_first, plan.candidates, rt.latency.snapshot(), breaker_states=rt.breaker.snapshot(), streaming=plan.streaming
    )
    ranking = with_policy(plan.policy, replace(ranking, reason=f"{admission.reason}; {ranking.reason}"))
    trail.headers = {**trail.headers, BUDGET_HEADER: f"soft-limit; {admission.reason}"}
    return Plan(
        plan.request, plan.messages, plan.max_tokens, plan.estimates, plan.candidates, plan.streaming, ranking, plan.policy
    )


def settle(rt, admission: Admission | None, trail: Trail) -> None:
    """End the reservation at what the attempts were billed (see ``billed``); None: never admitted."""
    if admission is None or admission.reservation_id is None:
        return
    was_billed, cost = billed(trail.attempts)
    if was_billed:
        rt.governance.settle(admission, cost)
    else:
        rt.governance.release(admission)


def billed(attempts) -> tuple[bool, Decimal | None]:
    """Whether any attempt was billed, and the sum of their costs; pure.

    An attempt is billed when it reports usage (an answer, or what a cancelled stream
    delivered); one that failed before any usage costs nothing. A billed attempt whose cost
    is unknown makes the sum None, which settles at the reserved worst case, so a budget
    never undercounts."""
    costs = [a.cost_usd for a in attempts if a.usage is not None]
    if not costs:
        return False, None
    if any(c is None for c in costs):
        return True, None
    return True, sum(costs, _ZERO)


def _refused_field(error: GovernanceError) -> str:
    if isinstance(error, AuthenticationError):
        return "key"
    if isinstance(error, ModelNotAllowed):
        return "model"
    return error.code.split("_")[0]  # budget, rate


class Refusals:
    """Around the governance steps: a refusal is recorded as a rejected request, then raised."""

    __slots__ = ("rt", "request_id", "user", "source", "trail")

    def __init__(self, rt, request_id: str, user: str | None, source: str, trail: Trail):
        self.rt, self.request_id, self.user, self.source, self.trail = rt, request_id, user, source, trail

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, tb) -> bool:
        if isinstance(error, GovernanceError):
            row = rejected_row(
                self.request_id,
                _refused_field(error),
                "authentication_error" if isinstance(error, AuthenticationError) else error.code,
                source=self.source,
                user=self.user,
                team=self.trail.team,
                key_id=self.trail.key_id,
            )
            try:
                self.rt.usage_log.write_rejected(row)
            except Exception:  # noqa: BLE001 - the refusal must still reach the caller
                log.exception("could not log a refused request")
        return False
