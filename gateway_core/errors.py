"""The gateway's error tree. Callers catch these, never SDK exceptions.

::

    GatewayError
    ├── ValidationError(field)          bad input; nothing was sent
    ├── ConfigError(variable)           missing or invalid configuration
    ├── AuditLogUnavailable             nothing can record the request; refused before any call
    ├── ProviderError(provider, status, code, retry_after, retryable)
    │   ├── RateLimited                 429 / ThrottlingException            retryable
    │   ├── ProviderTimeout             read/connect timeout, 408            retryable
    │   ├── ProviderUnavailable         5xx, connection refused, 503-as-400  retryable
    │   ├── AuthFailed                  401 / 403                            not retryable
    │   ├── ModelNotFound               unknown deployment or model id       not retryable
    │   ├── BadRequest                  other 4xx                            not retryable
    │   │   ├── ContextTooLong
    │   │   └── ContentFiltered
    │   └── StreamInterrupted           a stream failed after text was sent  not retryable
    ├── AllProvidersFailed(attempts)    every candidate failed
    └── GovernanceError(status, code)   refused by keys, budgets, limits or policy; nothing was sent
        ├── AuthenticationError         401 invalid_api_key | key_revoked | key_expired
        ├── ModelNotAllowed             403 model_not_allowed
        ├── PolicyDenied                403 policy_denied (messages, policy_version, matched)
        ├── BudgetExceeded              429 budget_exceeded (budget, resets_at)
        └── RateLimitExceeded           429 rate_limited (retry_after)

The executor reads ``error.retryable`` and nothing else to choose between falling back and
giving up, so adding a provider never touches the fallback loop or routing. Messages are sanitised before they are built: they never
carry keys, signatures or prompt text. Governance refusals carry their HTTP ``status``
and a stable ``code`` so an API can render them without a mapping table of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .types import Attempt


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose.

    ``headers`` carries the limits news of a request that was admitted and then failed
    (``x-ratelimit-*``), so its error answer says it as a success would."""

    type_name = "gateway_error"
    headers: Mapping[str, str] = MappingProxyType({})

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationError(GatewayError):
    """Rejected input. ``field`` names the offending field (``prompt``, ``max_tokens``…)."""

    type_name = "validation_error"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class ConfigError(GatewayError):
    """Configuration that cannot work; ``variable`` names the env variable at fault."""

    type_name = "config_error"

    def __init__(self, variable: str, message: str):
        super().__init__(f"{variable}: {message}")
        self.variable = variable


class AuditLogUnavailable(GatewayError):
    """The usage log can store nothing (database and spill both failing, or its memory bound
    reached) and ``GATEWAY_ON_LOG_FAILURE=refuse``: the request is turned away before any
    provider is called, because an unrecorded call is worse than no call."""

    type_name = "audit_log_unavailable"


class ProviderError(GatewayError):
    """A provider call failed. ``retryable`` decides whether the executor tries another candidate."""

    type_name = "provider_error"
    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
        request_id: str | None = None,
    ):
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.retryable = self.default_retryable if retryable is None else retryable
        self.request_id = request_id


class RateLimited(ProviderError):
    type_name = "rate_limited"
    default_retryable = True


class ProviderTimeout(ProviderError):
    type_name = "timeout"
    default_retryable = True


class ProviderUnavailable(ProviderError):
    type_name = "unavailable"
    default_retryable = True


class AuthFailed(ProviderError):
    type_name = "auth_failed"


class ModelNotFound(ProviderError):
    type_name = "model_not_found"


class BadRequest(ProviderError):
    type_name = "bad_request"


class ContextTooLong(BadRequest):
    type_name = "context_too_long"


class ContentFiltered(BadRequest):
    type_name = "content_filtered"


class StreamInterrupted(ProviderError):
    """The stream broke after text reached the caller: surfacing it is the only honest option."""

    type_name = "stream_interrupted"

    def __init__(self, message: str, *, partial_text: str = "", **kw):
        super().__init__(message, **kw)
        self.partial_text = partial_text


class AllProvidersFailed(GatewayError):
    """Every candidate failed; ``attempts`` holds each try, in order."""

    type_name = "all_providers_failed"

    def __init__(self, attempts: tuple[Attempt, ...], request_id: str = ""):
        summary = "; ".join(f"{a.provider}/{a.model}: {a.error_type}" for a in attempts)
        super().__init__(f"all providers failed ({summary})" if attempts else "no candidate available")
        self.attempts = tuple(attempts)
        self.request_id = request_id


class GovernanceError(GatewayError):
    """A refusal by governance (keys, allow-lists, budgets, rate limits) before any provider call.

    ``status`` is the HTTP status to answer with and ``code`` the stable machine-readable
    reason; ``retry_after`` (seconds) is set when waiting can help."""

    type_name = "governance_error"
    status = 400

    def __init__(self, message: str, *, code: str, retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class AuthenticationError(GovernanceError):
    """401: ``code`` is ``invalid_api_key`` (unknown or missing), ``key_revoked`` or ``key_expired``."""

    type_name = "authentication_error"
    status = 401


class ModelNotAllowed(GovernanceError):
    """403: the key may not use ``model`` (its allow-list, or an unpriced model under a budget)."""

    type_name = "model_not_allowed"
    status = 403

    def __init__(self, message: str, *, model: str | None = None):
        super().__init__(message, code="model_not_allowed")
        self.model = model


class GovernanceUnavailable(GovernanceError):
    """503: the governance storage (keys, budgets, rate limits) cannot be read, so the request
    can be neither authenticated nor admitted; nothing was sent. Retrying shortly may help."""

    type_name = "governance_unavailable"
    status = 503
    RETRY_AFTER_S = 5.0

    def __init__(self, message: str):
        super().__init__(message, code="governance_unavailable", retry_after=self.RETRY_AFTER_S)


class PolicyDenied(GovernanceError):
    """403: the routing policy refused the request, or excluded every candidate.

    ``messages`` are the policy's own reasons (its ``deny`` set), ``policy_version`` the
    hash of the policy that decided and ``matched`` the rules that fired."""

    type_name = "policy_denied"
    status = 403

    def __init__(self, messages, *, policy_version: str = "", matched=()):
        self.messages = tuple(messages) or ("refused by policy",)
        super().__init__("; ".join(self.messages), code="policy_denied")
        self.policy_version = policy_version
        self.matched = tuple(matched)


class BudgetExceeded(GovernanceError):
    """429: ``budget`` names the budget (``team:NAME`` or ``key:NAME``); it resets at ``resets_at`` (UTC)."""

    type_name = "budget_exceeded"
    status = 429

    def __init__(self, message: str, *, budget: str, resets_at, retry_after: float | None = None):
        super().__init__(message, code="budget_exceeded", retry_after=retry_after)
        self.budget = budget
        self.resets_at = resets_at


class RateLimitExceeded(GovernanceError):
    """429: a requests- or tokens-per-minute limit is spent; ``headers`` holds the x-ratelimit values.

    ``retry_after`` is None when the request alone is larger than the limit, so waiting cannot help."""

    type_name = "rate_limit_exceeded"
    status = 429

    def __init__(self, message: str, *, limit: str, retry_after: float | None, headers=None):
        super().__init__(message, code="rate_limited", retry_after=retry_after)
        self.limit = limit
        self.headers = dict(headers or {})
