"""Routing policy: the contract a Rego policy answers, the typed decision, and applying it.

A policy is Rego (v1 syntax) in package ``gateway.routing``, evaluated in process
(``policy_rego``, with regopy) or by an external OPA server (``opa``, through OPA's REST
Data API). Both hand the policy the same ``input`` and read the same rules back, so one
policy runs unchanged in either place. ``input``::

    principal   {key, team, user}      key is the API key's name or id, never its secret
    request     {task, priority, provider_hint, model, max_tokens,
                 estimated_cost_usd, pii, prompt_chars}
                pii: the sorted kinds the masking detectors found in the prompt (email,
                phone, card, secret, jwt); the prompt text itself is never part of input
    candidates  [{provider, model, region, price_per_1k_input, price_per_1k_output}]
                region: a geography code (eu, us, uk, apac, global, unknown, ...; see
                ``regions``); prices in USD per 1,000 tokens, null when unpriced
    time        {hour_utc: 0-23, weekday: "Monday" .. "Sunday"}

Rules read from ``data.gateway.routing``, each optional:

    deny     set of strings    refuse the request: 403 ``policy_denied`` with these messages
    exclude  set of strings    "provider" or "provider/model": remove those candidates
    prefer   array of strings  same forms: move these to the front, in this order, keeping
                               the priority's ranking among the rest and within an entry
    redact   boolean           mask the prompt before the provider call, not only in the log

A contract rule of any other shape is an evaluation error. Every other rule of the package
whose value is ``true`` is reported as matched, so well-named helper rules
(``eu_residency_applies``) make a decision explain itself. An evaluation error fails
closed (the request is refused, the reason logged) unless fail-open is configured. If the
policy leaves no candidate, the request is refused with ``policy_denied`` as well.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Protocol, TypeVar

from pydantic import Field, field_validator

from ..config import ConfigModel, reading_mapping
from ..errors import ConfigError, PolicyDenied

log = logging.getLogger(__name__)

PACKAGE = "gateway.routing"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FAIL_CLOSED_MESSAGE = "the routing policy could not be evaluated, so the request is refused"

T = TypeVar("T")


class PolicyError(ConfigError):
    """A policy that cannot be loaded: names the file and, when known, the line."""

    def __init__(self, path: str, reason: str, line: int | None = None, variable: str = "GATEWAY_POLICY_FILE"):
        self.path, self.line, self.reason = str(path), line, reason
        self.location = f"{self.path}:{line}" if line else self.path
        super().__init__(variable, f"{self.location}: {reason}")


class PolicyContractError(ValueError):
    """A policy answered, but not in the shape the contract asks for."""


@dataclass(frozen=True)
class PolicyDecision:
    denied: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    prefer: tuple[str, ...] = ()
    redact: bool = False
    matched: tuple[str, ...] = ()
    version: str = ""
    error: str | None = None  # why evaluation failed; the decision then follows fail-open/closed

    @property
    def allowed(self) -> bool:
        return not self.denied

    @property
    def label(self) -> str:
        """The decision in one word, its strongest effect: deny, exclude, prefer or allow."""
        if self.denied:
            return "deny"
        if self.excluded:
            return "exclude"
        return "prefer" if self.prefer else "allow"

    @cached_property
    def lookups(self) -> tuple[frozenset, frozenset, dict, dict]:
        """Excluded providers and (provider, model) pairs, and the prefer rank of each.

        Built once per decision, which the cache hands to many requests.
        """
        providers, models, rank_providers, rank_models = set(), set(), {}, {}
        for entry in self.excluded:
            head, sep, tail = entry.partition("/")
            if sep:
                models.add((head, tail))
            else:
                providers.add(head)
        for i, entry in enumerate(self.prefer):
            head, sep, tail = entry.partition("/")
            if sep:
                rank_models.setdefault((head, tail), i)
            else:
                rank_providers.setdefault(head, i)
        return frozenset(providers), frozenset(models), rank_providers, rank_models

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "denied": list(self.denied),
            "excluded": list(self.excluded),
            "prefer": list(self.prefer),
            "redact": self.redact,
            "matched": list(self.matched),
            "error": self.error,
        }

    def summary(self) -> str:
        """One line for ``route_reason``: version, then only what the policy did."""
        parts = [f"policy {self.version or '-'}"]
        if self.denied:
            parts.append("denied: " + "; ".join(self.denied))
        if self.excluded:
            parts.append("excluded " + ", ".join(self.excluded))
        if self.prefer:
            parts.append("preferred " + ", ".join(self.prefer))
        if self.redact:
            parts.append("redacted")
        if self.matched:
            parts.append("rules " + ", ".join(self.matched))
        if self.error:
            parts.append("error: " + self.error)
        return "; ".join(parts)


class PolicyEngine(Protocol):
    """What the request path needs from a policy, wherever it is evaluated."""

    @property
    def version(self) -> str: ...

    def decide(self, policy_input: Mapping) -> PolicyDecision: ...

    def reads(self, field: str) -> bool: ...


# --- the document a policy returns -> a decision ---------------------------------------------


def _strings(doc: Mapping, rule: str) -> tuple[str, ...]:
    value = doc.get(rule, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        kind = "a set" if rule != "prefer" else "an array"
        raise PolicyContractError(f"{rule} must be {kind} of strings, got {_shape(value)}")
    return tuple(dict.fromkeys(value))


def _shape(value) -> str:
    if isinstance(value, dict):
        return "an object (v0 syntax? write `deny contains msg if { ... }`)"
    if isinstance(value, list):
        return "a collection with a non-string member"
    return type(value).__name__ if value is not None else "null"


def decision_from_document(doc, version: str) -> PolicyDecision:
    """Turn the package document (``data.gateway.routing``) into a typed decision."""
    if not isinstance(doc, dict):
        raise PolicyContractError(f"package {PACKAGE} must be an object of rules, got {type(doc).__name__}")
    redact = doc.get("redact", False)
    if not isinstance(redact, bool):
        raise PolicyContractError(f"redact must be a boolean, got {_shape(redact)}")
    denied, excluded, prefer = _strings(doc, "deny"), _strings(doc, "exclude"), _strings(doc, "prefer")
    fired = {"deny": bool(denied), "exclude": bool(excluded), "prefer": bool(prefer), "redact": redact}
    matched = sorted(name for name, value in doc.items() if fired.get(name, value is True) is True)
    return PolicyDecision(
        denied=denied, excluded=tuple(sorted(excluded)), prefer=prefer, redact=redact, matched=tuple(matched), version=version
    )


def failed_decision(reason: str, *, version: str, fail_open: bool) -> PolicyDecision:
    """The decision when evaluation failed: refuse (default) or allow, and say so in the log."""
    if fail_open:
        log.warning("routing policy %s failed (%s); allowing the request (fail-open)", version, reason)
        return PolicyDecision(version=version, error=reason)
    log.warning("routing policy %s failed (%s); refusing the request (fail-closed)", version, reason)
    return PolicyDecision(denied=(FAIL_CLOSED_MESSAGE,), version=version, error=reason)


# --- applying a decision to candidates ------------------------------------------------------


def candidate_id(candidate) -> tuple[str, str]:
    """(provider, model) of a candidate given as a tuple, a mapping or an object."""
    if isinstance(candidate, tuple):
        return candidate[0], candidate[1]
    key = getattr(candidate, "key", None)  # the router's Candidate carries it, built once
    if type(key) is tuple:
        return key
    if isinstance(candidate, Mapping):
        return candidate["provider"], candidate["model"]
    return candidate.provider, candidate.model


def apply_decision(decision: PolicyDecision, candidates: Sequence[T]) -> list[T]:
    """Refuse, exclude, then move preferred candidates to the front; the rest keep their order.

    ``"provider"`` entries match all of its models, ``"provider/model"`` entries one model
    (model ids may themselves hold '/'). A candidate goes to the place of the first prefer
    entry it matches; candidates at one place keep their order. Raises ``PolicyDenied`` when
    the policy denies, or when it excludes every candidate: an empty route is the policy's
    refusal, not a provider failure.
    """
    if decision.denied:
        raise PolicyDenied(decision.denied, policy_version=decision.version, matched=decision.matched)
    excluded_providers, excluded_models, rank_providers, rank_models = decision.lookups
    kept = [
        (c, pm) for c in candidates for pm in (candidate_id(c),) if pm[0] not in excluded_providers and pm not in excluded_models
    ]
    if candidates and not kept:
        raise PolicyDenied(
            (f"the policy excluded every candidate ({', '.join(decision.excluded)})",),
            policy_version=decision.version,
            matched=decision.matched,
        )
    if rank_providers or rank_models:
        last = len(decision.prefer)
        kept.sort(key=lambda item: min(rank_models.get(item[1], last), rank_providers.get(item[1][0], last)))
    return [c for c, _ in kept]


def dry_run(decision: PolicyDecision, candidates: Sequence) -> dict:
    """What the request path would do with ``decision``: the route it leaves, or the refusal."""
    try:
        routed = apply_decision(decision, candidates)
    except PolicyDenied as e:
        return {
            "status": "refused",
            "error": PolicyDenied.type_name,
            "http_status": PolicyDenied.status,
            "messages": list(e.messages),
        }
    return {"status": "routed", "candidates": ["/".join(candidate_id(c)) for c in routed]}


# --- building the input ---------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyCandidate:
    provider: str
    model: str
    region: str = "unknown"
    price_per_1k_input: float | Decimal | None = None
    price_per_1k_output: float | Decimal | None = None

    def to_input(self) -> dict:
        return {
            "provider": self.provider,
            "model": self.model,
            "region": self.region,
            "price_per_1k_input": _number(self.price_per_1k_input),
            "price_per_1k_output": _number(self.price_per_1k_output),
        }


def _number(value):
    # Rego and JSON know no Decimal; a float keeps prices comparable in policies.
    return float(value) if isinstance(value, Decimal) else value


def build_input(
    *,
    task: str,
    priority: str,
    candidates: Iterable[PolicyCandidate | Mapping],
    now: datetime,
    provider_hint: str | None = None,
    model: str | None = None,
    max_tokens: int | None = None,
    estimated_cost_usd: float | Decimal | None = None,
    pii: Iterable[str] = (),
    prompt_chars: int = 0,
    key: str | None = None,
    team: str | None = None,
    user: str | None = None,
) -> dict:
    """The ``input`` document of the contract. A naive ``now`` is taken to be UTC; a candidate
    may be given already in its input form (a mapping), as the runtime's catalog holds them."""
    utc = now.astimezone(UTC) if now.tzinfo else now
    return {
        "principal": {"key": key, "team": team, "user": user},
        "request": {
            "task": task,
            "priority": priority,
            "provider_hint": provider_hint,
            "model": model,
            "max_tokens": max_tokens,
            "estimated_cost_usd": _number(estimated_cost_usd),
            "pii": sorted(set(pii)),
            "prompt_chars": prompt_chars,
        },
        "candidates": [c if isinstance(c, Mapping) else c.to_input() for c in candidates],
        "time": {"hour_utc": utc.hour, "weekday": WEEKDAYS[utc.weekday()]},
    }


# --- configuration and the engine factory ---------------------------------------------------


class PolicySettings(ConfigModel):
    """``GATEWAY_POLICY_FILE``, ``GATEWAY_OPA_URL``, ``GATEWAY_POLICY_FAIL_OPEN``, ``GATEWAY_OPA_TIMEOUT_S``."""

    policy_file: str | None = Field(None, validation_alias="GATEWAY_POLICY_FILE")
    opa_url: str | None = Field(None, validation_alias="GATEWAY_OPA_URL")
    fail_open: bool = Field(False, validation_alias="GATEWAY_POLICY_FAIL_OPEN")
    opa_timeout_s: float = Field(0.5, ge=0.01, le=60, validation_alias="GATEWAY_OPA_TIMEOUT_S")

    @field_validator("policy_file", "opa_url", mode="before")
    @classmethod
    def _strip(cls, value):
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("opa_url")
    @classmethod
    def _http(cls, value):
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> PolicySettings:
        with reading_mapping(dict(env)):
            return cls.read()


def check_policy(settings: PolicySettings | None) -> None:
    """Load the configured policy once and let it go: ``PolicyError`` if it would not load."""
    engine = load_policy(settings) if settings is not None else None
    close = getattr(engine, "close", None)
    if close is not None:
        close()


def load_policy(settings: PolicySettings) -> PolicyEngine | None:
    """The configured engine, or None when no policy is configured (the request path skips it).

    A local policy is read, checked and compiled here, so a broken one stops start-up.
    """
    if settings.policy_file and settings.opa_url:
        raise ConfigError("GATEWAY_OPA_URL", "set GATEWAY_POLICY_FILE or GATEWAY_OPA_URL, not both")
    if settings.opa_url:
        from .opa import OpaPolicy

        return OpaPolicy(settings.opa_url, fail_open=settings.fail_open, timeout_s=settings.opa_timeout_s)
    if settings.policy_file:
        from .policy_rego import RegoPolicy

        return RegoPolicy(settings.policy_file, fail_open=settings.fail_open)
    return None
