"""Error responses of the REST API: one ``ApiError`` value, two wire shapes.

Everything the API refuses or fails at becomes an ``ApiError`` (status, type, message,
field). ``/generate`` renders it as ``{"error": {"type", "message", "field"}}``; the
OpenAI-compatible ``/v1`` routes render the same value as OpenAI does
(``{"error": {"message", "type", "param", "code"}}``) so the official SDKs raise their
usual exception classes. Gateway errors map here in one table: the client's fault is a
4xx, a provider's fault is a 502, a usage log that can record nothing (under the refuse
policy) is a 503, and nothing the client sends can produce a 500.
Messages never echo request content; provider messages arrive already sanitised by the
gateway and are scrubbed of configured secrets once more before they leave.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response

from ..errors import (
    AllProvidersFailed,
    AuditLogUnavailable,
    AuthenticationError,
    AuthFailed,
    BadRequest,
    BudgetExceeded,
    ConfigError,
    ContentFiltered,
    ContextTooLong,
    GatewayError,
    GovernanceError,
    GovernanceUnavailable,
    ModelNotAllowed,
    ModelNotFound,
    PolicyDenied,
    ProviderError,
    RateLimitExceeded,
    ValidationError,
)
from ..serialize import attempt_to_dict

log = logging.getLogger("gateway_core.api")

AUDIT_RETRY_AFTER_S = 5

# OpenAI's error ``type`` by status: the SDK picks its exception class from the status,
# and clients that branch on ``type`` expect these spellings.
_OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    403: "invalid_request_error",
    422: "invalid_request_error",
    431: "invalid_request_error",
    500: "server_error",
    502: "upstream_error",
    503: "server_error",
    504: "server_error",
}


@dataclass(eq=False)
class ApiError(Exception):
    status: int
    type: str
    message: str
    field: str | None = None
    code: str | None = None  # OpenAI ``code``; defaults to ``type``
    openai_type: str | None = None  # OpenAI ``type`` when the status alone does not say it
    extra: dict = dataclasses.field(default_factory=dict)  # attempts, request_id
    headers: dict = dataclasses.field(default_factory=dict)
    log: bool = True  # False when the gateway already logged it, or it never was a request

    def __str__(self) -> str:
        return f"{self.status} {self.type}: {self.message}"

    @property
    def rejected(self) -> bool:
        """A refusal of the client's request, which the usage log records as ``rejected``."""
        return 400 <= self.status < 500 and self.log


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    """JSON with UTF-8 text; falls back to ASCII escapes if a lone surrogate slipped in."""
    try:
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def is_openai_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def error_payload(err: ApiError, openai_shape: bool) -> dict:
    if openai_shape:
        body = {
            "message": err.message,
            "type": err.openai_type or _OPENAI_TYPE.get(err.status, "invalid_request_error"),
            "param": err.field,
            "code": err.code or err.type,
        }
    else:
        body = {"type": err.type, "message": err.message, "field": err.field}
    body.update(err.extra)
    return {"error": body}


def error_response(err: ApiError, openai_shape: bool) -> Response:
    headers = dict(err.headers)
    if err.extra.get("request_id"):
        headers["x-request-id"] = err.extra["request_id"]
    return json_response(error_payload(err, openai_shape), err.status, headers or None)


def validation_error(err: ValidationError, openai_shape: bool) -> ApiError:
    # /generate keeps FastAPI's convention (422 for a well-formed body with a bad field);
    # /v1 follows OpenAI, which answers every invalid request with 400.
    return ApiError(400 if openai_shape else 422, "validation_error", err.message, field=err.field, code="invalid_value")


def _attempts(exc, scrub: Callable[[str | None], str | None]) -> list[dict]:
    out = []
    for a in getattr(exc, "attempts", None) or ():
        d = attempt_to_dict(a)
        d["error_message"] = scrub(d.get("error_message"))
        out.append(d)
    return out


@dataclass(frozen=True)
class Rule:
    """How one class of the gateway's errors is answered: the first rule whose class matches wins."""

    cls: type[GatewayError]
    status: int
    type: str
    code: str | None = None
    field: str | None = None
    description: str = ""


# The one mapping from the gateway's error tree to HTTP: the client's fault is a 4xx, a
# provider's is a 5xx, and nothing the client sends can produce a 500. Subclasses come
# before their bases. A new error class (a refusal with its own status and code) is one
# more row, and the OpenAPI document lists every row's status.
GATEWAY_ERRORS: list[Rule] = [
    Rule(AuthenticationError, 401, "authentication_error", description="missing, unknown, revoked or expired API key"),
    Rule(
        GovernanceUnavailable,
        503,
        "governance_unavailable",
        description="the keys, budgets and rate limits cannot be read (their database is unreachable); nothing was sent",
    ),
    Rule(ModelNotAllowed, 403, "model_not_allowed", field="model", description="the key may not use the model"),
    Rule(PolicyDenied, 403, "policy_denied", description="the routing policy refused the request or left it no candidate"),
    Rule(BudgetExceeded, 429, "budget_exceeded", description="a hard budget cannot hold the request's worst case"),
    Rule(RateLimitExceeded, 429, "rate_limited", description="a requests- or tokens-per-minute limit is spent"),
    Rule(ContentFiltered, 400, "content_filter", field="prompt", description="the provider's content filter refused"),
    Rule(ContextTooLong, 400, "context_too_long", "context_length_exceeded", "prompt", "the prompt does not fit the model"),
    Rule(AuthFailed, 502, "provider_auth_failed", description="the gateway's own provider credentials failed"),
    Rule(ModelNotFound, 502, "provider_model_not_found", description="the provider does not know a configured model"),
    Rule(BadRequest, 400, "provider_rejected_request", description="the provider refused the request"),
    Rule(ProviderError, 502, "provider_error", description="the provider failed and no fallback was allowed"),
    Rule(
        AllProvidersFailed,
        502,
        "all_providers_failed",
        description="every candidate failed (503: all rate limited; 504: all timed out)",
    ),
    Rule(ConfigError, 503, "config_error", description="the gateway's configuration cannot serve the request"),
    Rule(
        AuditLogUnavailable,
        503,
        "audit_log_unavailable",
        description="the usage log can store nothing and the policy is refuse; nothing was sent",
    ),
]


@dataclass(frozen=True)
class Documented:
    """An error status the API answers with, for the OpenAPI document: on which routes
    (``all``; ``body``: the routes that read a JSON body and call providers; ``lookup``:
    a route with an id in its path; ``generate``) and why."""

    status: int
    description: str
    scope: str = "all"
    needs_keys: bool = False  # only when GATEWAY_API_KEYS is set


# The errors the API itself answers with; GATEWAY_ERRORS adds the gateway's own, for the
# routes that reach providers. The OpenAPI document lists exactly these.
HTTP_ERRORS: list[Documented] = [
    Documented(400, "not valid JSON, a field the route refuses (on /v1), or a header sent twice"),
    Documented(401, "missing or wrong bearer key", needs_keys=True),
    Documented(404, "no such model", "lookup"),
    Documented(413, "the body is over 1 MiB (after decompression)", "body"),
    Documented(415, "Content-Type is not JSON, or Content-Encoding is not gzip or identity", "body"),
    Documented(422, "a field with a wrong type or value", "generate"),
    Documented(500, "a bug: no detail is given"),
]


def documented(scope: str, keys: bool) -> dict[int, str]:
    """status -> description for a route of ``scope`` (see ``Documented``). Several errors
    share a status (403 is model_not_allowed or policy_denied; 429 a budget or a rate
    limit), so a status lists every one, each gateway error under its ``type``."""
    rows = [d for d in HTTP_ERRORS if d.scope == "all" or d.scope == scope or (scope == "generate" and d.scope == "body")]
    out: dict[int, list[str]] = {}
    for d in rows:
        if keys or not d.needs_keys:
            out.setdefault(d.status, []).append(d.description)
    if scope in ("body", "generate"):
        for rule in GATEWAY_ERRORS:
            out.setdefault(rule.status, []).append(f"{rule.type}: {rule.description}")
        out.setdefault(504, ["every candidate timed out"])
    return {status: "; ".join(why) for status, why in sorted(out.items())}


def rule_for(exc: GatewayError) -> Rule:
    for rule in GATEWAY_ERRORS:
        if isinstance(exc, rule.cls):
            return rule
    return Rule(GatewayError, 502, exc.type_name)


def gateway_error(exc: GatewayError, openai_shape: bool, scrub: Callable[[str | None], str | None]) -> ApiError:
    """A gateway error as an ``ApiError``, by ``GATEWAY_ERRORS``."""
    if isinstance(exc, ValidationError):
        return validation_error(exc, openai_shape)
    if isinstance(exc, GovernanceError):
        return governance_error(exc, rule_for(exc))
    rule = rule_for(exc)
    message = scrub(exc.message) or exc.type_name
    if rule.cls is ProviderError:
        message = f"{exc.type_name}: {message}"
    attempts = tuple(getattr(exc, "attempts", None) or ())
    status, headers = rule.status, {}
    if isinstance(exc, AllProvidersFailed):
        status, headers = failover_answer(attempts)
    elif isinstance(exc, AuditLogUnavailable):  # the writer probes its storage every second
        headers = {"retry-after": str(AUDIT_RETRY_AFTER_S)}
    headers = {**exc.headers, **headers}  # the rate-limit news of an admitted request
    extra = {"request_id": getattr(exc, "request_id", None) or None, "attempts": _attempts(exc, scrub)}
    # The gateway logged its own attempts; configuration errors never reach a provider.
    return ApiError(status, rule.type, message, field=rule.field, code=rule.code, extra=extra, headers=headers, log=False)


UNKNOWN_KEY = "missing or invalid API key; send Authorization: Bearer <key>"


def governance_error(exc: GovernanceError, rule: Rule) -> ApiError:
    """A refusal by keys, allow-lists, budgets, rate limits or the routing policy. The gateway
    recorded it itself.

    On ``/v1`` a spent budget reads as OpenAI's ``insufficient_quota`` and a rate limit as
    OpenAI's ``requests``/``tokens`` types; both say ``x-should-retry: false`` when waiting
    a moment cannot help, so the SDKs do not retry into the same refusal."""
    headers: dict[str, str] = {}
    extra: dict = {}
    openai_type = None
    message = exc.message
    if isinstance(exc, AuthenticationError):
        headers["www-authenticate"] = "Bearer"
        if exc.code == "invalid_api_key":
            message = UNKNOWN_KEY  # one answer for missing and unknown keys: nothing to probe
    elif isinstance(exc, BudgetExceeded):
        openai_type = "insufficient_quota"
        extra = {"budget": exc.budget, "resets_at": exc.resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        headers["x-should-retry"] = "false"
    elif isinstance(exc, PolicyDenied):
        extra = {"messages": list(exc.messages), "policy_version": exc.policy_version or None}
    elif isinstance(exc, RateLimitExceeded):
        openai_type = exc.limit.rsplit(":", 1)[-1]  # requests | tokens, as OpenAI types them
        headers.update(exc.headers)
        extra = {"limit": exc.limit}
        if exc.retry_after is None:
            headers["x-should-retry"] = "false"
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
    return ApiError(
        rule.status,
        rule.type,
        message,
        field=rule.field,
        code=exc.code,
        openai_type=openai_type,
        extra=extra,
        headers=headers,
        log=False,
    )


def failover_answer(attempts) -> tuple[int, dict]:
    """Status and headers once every candidate failed. A request that already failed over
    says ``x-should-retry: false``: the SDKs would otherwise repeat the whole failover
    (3 requests x every candidate x the SDK's own attempts). When every candidate was
    rate limited, ``Retry-After`` says how long the longest limit asked to wait."""
    kinds = {a.error_type for a in attempts}
    headers = {"x-should-retry": "false"} if len(attempts) > 1 else {}
    if attempts and kinds == {"rate_limited"}:
        waits = [a.retry_after for a in attempts if getattr(a, "retry_after", None)]
        headers["retry-after"] = str(max(1, math.ceil(max(waits)))) if waits else "1"
        return 503, headers
    if attempts and kinds == {"timeout"}:
        return 504, headers
    return 502, headers


def internal_error() -> ApiError:
    return ApiError(500, "internal_error", "internal error; the server log has the details")


def route_error(status: int, headers: dict | None = None) -> ApiError:
    """Unknown route or method: not a gateway request, so not a ``rejected`` log row."""
    if status == 405:  # Allow (from the router) names the methods the route has
        return ApiError(405, "method_not_allowed", "method not allowed on this route", headers=dict(headers or {}), log=False)
    if status == 404:
        return ApiError(
            404, "not_found", "no such route; see /generate, /v1/chat/completions, /v1/models, /healthz, /readyz", log=False
        )
    return ApiError(status, "http_error", "request refused", log=False)


def log_rejected(gw, err: ApiError, user: str | None) -> None:
    """Record a refused request as a ``rejected`` row; a log failure never blocks the answer."""
    if gw is None:
        return
    reason = ValidationError(err.field or ("authorization" if err.status == 401 else "body"), err.message)
    if err.type != "validation_error":
        reason.type_name = err.type  # so the log says request_too_large, not just "invalid"
    try:
        gw.log_rejected(reason, user=user, source="api")
    except Exception:  # noqa: BLE001 - a refusal must still be answered if the log is unwell
        log.exception("could not log a rejected request")
