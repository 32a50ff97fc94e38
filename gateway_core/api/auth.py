"""Bearer-key authentication for the REST API, as ASGI middleware.

When ``GATEWAY_API_KEYS`` is set, every route but ``/healthz`` needs ``Authorization:
Bearer <key>``. Keys are compared in constant time, and a refusal is answered in the
route's own error shape and recorded as a ``rejected`` row (without the key).
"""

from __future__ import annotations

import hmac

from .errors import ApiError, error_response, is_openai_path, log_rejected


def _key_matches(header: bytes | None, keys: tuple[bytes, ...]) -> bool:
    if not header:
        return False
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return False
    token = token.strip()
    ok = False
    for key in keys:  # no early exit: the time taken does not depend on which key matched
        ok |= hmac.compare_digest(token, key)
    return ok


class BearerAuth:
    """ASGI middleware: every route but /healthz needs ``Authorization: Bearer <key>``."""

    def __init__(self, app, keys: tuple[str, ...]):
        self.app = app
        self.keys = tuple(k.encode("utf-8") for k in keys)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] == "/healthz":
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or ()).get(b"authorization")
        if _key_matches(header, self.keys):
            return await self.app(scope, receive, send)
        err = ApiError(
            401,
            "authentication_error",
            "missing or invalid API key; send Authorization: Bearer <key>",
            code="invalid_api_key",
            headers={"www-authenticate": "Bearer"},
        )
        app_state = scope["app"].state if "app" in scope else None
        log_rejected(getattr(app_state, "gateway", None), err, None)
        await error_response(err, is_openai_path(scope["path"]))(scope, receive, send)
