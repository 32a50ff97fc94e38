"""Readiness: whether this gateway should take traffic now, and if not, every reason why.

Liveness (``/healthz``) only says the process answers. Readiness (``/readyz``) says whether
a request sent here would be served *and recorded*: it fails when the usage log is not
writing to its database (with the queue depth and the spilled and lost counts), and when
no provider is usable because every breaker is open, and when the governance storage (keys,
budgets) cannot be read. Other parts add their own checks through ``Gateway.add_readiness_check``. Each check
is a function returning ``None`` when all is well or a ``Reason``; ``evaluate`` is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .breaker import OPEN
from .usage.health import OK, LogHealth


@dataclass(frozen=True)
class Reason:
    check: str
    message: str
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"check": self.check, "message": self.message, **self.details}


@dataclass(frozen=True)
class Readiness:
    reasons: tuple[Reason, ...]

    @property
    def ready(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict:
        return {"status": "ready" if self.ready else "not_ready", "reasons": [r.as_dict() for r in self.reasons]}


Check = Callable[[], "Reason | None"]


def evaluate(checks: Iterable[Check]) -> Readiness:
    return Readiness(tuple(r for r in (check() for check in checks) if r is not None))


def usage_log_reason(health: LogHealth) -> Reason | None:
    """Not ready while the log is not writing to its database, whatever the policy."""
    if health.state == OK:
        return None
    counts = {
        "state": health.state,
        "queue_depth": health.queue_depth,
        "spilled_pending": health.spilled_pending,
        "spilled_total": health.spilled_total,
        "lost_total": health.lost_total,
        "policy": health.policy,
    }
    return Reason("usage_log", health.summary(), counts)


def governance_reason(healthy: bool) -> Reason | None:
    """Not ready when keys and budgets cannot be read: no request could be authenticated or admitted."""
    if healthy:
        return None
    return Reason("governance", "the governance storage (keys, budgets, rate limits) cannot be read")


def providers_reason(breaker_states: dict[str, str]) -> Reason | None:
    """Not ready when every configured (provider, model) has its breaker open."""
    if breaker_states and all(state == OPEN for state in breaker_states.values()):
        return Reason("providers", "no provider is usable: every circuit breaker is open", {"breakers": dict(breaker_states)})
    return None
