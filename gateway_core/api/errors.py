"""Error responses of the REST API: one ``ApiError`` value, two wire shapes.

Everything the API refuses or fails at becomes an ``ApiError`` (status, type, message,
field). ``/generate`` renders it as ``{"error": {"type", "message", "field"}}``; the
OpenAI-compatible ``/v1`` routes render the same value as OpenAI does
(``{"error": {"message", "type", "param", "code"}}``) so the official SDKs raise their
usual exception classes. Gateway errors map here in one table: the client's fault is a
4xx, a provider's fault is a 502, and nothing the client sends can produce a 500.
Messages never echo request content; provider messages arrive already sanitised by the
gateway and are scrubbed of configured secrets once more before they leave.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response

from ..errors import (
    AllProvidersFailed,
    AuthFailed,
    BadRequest,
    ConfigError,
    ContentFiltered,
    ContextTooLong,
    GatewayError,
    ModelNotFound,
    ProviderError,
    ValidationError,
)
from ..serialize import attempt_to_dict

log = logging.getLogger("gateway_core.api")

# OpenAI's error ``type`` by status: the SDK picks its exception class from the status,
# and clients that branch on ``type`` expect these spellings.
_OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    502: "upstream_error",
    503: "server_error",
    500: "server_error",
}


@dataclass(eq=False)
class ApiError(Exception):
    status: int
    type: str
    message: str
    field: str | None = None
    code: str | None = None  # OpenAI ``code``; defaults to ``type``
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
            "type": _OPENAI_TYPE.get(err.status, "invalid_request_error"),
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


def gateway_error(exc: GatewayError, openai_shape: bool, scrub: Callable[[str | None], str | None]) -> ApiError:
    """The single mapping from the gateway's error tree to HTTP."""
    if isinstance(exc, ValidationError):
        return validation_error(exc, openai_shape)
    api_error = _provider_error(exc, scrub)
    api_error.log = False  # the gateway logged its attempts itself
    return api_error


def _provider_error(exc: GatewayError, scrub) -> ApiError:
    extra = {"request_id": getattr(exc, "request_id", None) or None, "attempts": _attempts(exc, scrub)}
    message = scrub(exc.message) or exc.type_name
    if isinstance(exc, AllProvidersFailed):
        return ApiError(502, "all_providers_failed", message, extra=extra)
    if isinstance(exc, ContentFiltered):
        return ApiError(400, "content_filter", message, field="prompt", extra=extra)
    if isinstance(exc, ContextTooLong):
        return ApiError(400, "context_too_long", message, field="prompt", code="context_length_exceeded", extra=extra)
    if isinstance(exc, (AuthFailed, ModelNotFound)):
        # The gateway's own credentials or configuration are at fault, not the client.
        return ApiError(502, "provider_" + exc.type_name, message, extra=extra)
    if isinstance(exc, BadRequest):
        return ApiError(400, "provider_rejected_request", message, extra=extra)
    if isinstance(exc, ProviderError):
        return ApiError(502, "provider_error", f"{exc.type_name}: {message}", extra=extra)
    if isinstance(exc, ConfigError):
        return ApiError(503, "config_error", message)
    return ApiError(502, exc.type_name, message, extra=extra)


def internal_error() -> ApiError:
    return ApiError(500, "internal_error", "internal error; the server log has the details")


def route_error(status: int) -> ApiError:
    """Unknown route or method: not a gateway request, so not a ``rejected`` log row."""
    if status == 405:
        return ApiError(405, "method_not_allowed", "method not allowed on this route", log=False)
    if status == 404:
        return ApiError(404, "not_found", "no such route; see /generate, /v1/chat/completions, /v1/models, /healthz", log=False)
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
