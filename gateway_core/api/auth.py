"""Who is calling: the principal of every REST request, as ASGI middleware.

Every route but the probes (``/healthz``, ``/readyz``) and the admin routes (which have their own key, see
``admin``) runs as a ``Principal`` that this middleware puts in the request's state:

- when keys are required (``GATEWAY_API_KEYS`` is set, or a virtual key was ever
  created), the one of ``Authorization: Bearer <key>``, checked by
  ``Governance.authenticate`` (static keys and virtual keys alike are compared by hash, in
  constant time); a missing or unknown key gets 401, a revoked or expired one 401 with
  the reason;
- otherwise the anonymous principal of the ``default`` team, whatever the header says
  (the OpenAI SDKs always send some key).

A refusal is answered in the route's own error shape and recorded as a rejected request
(without the key). Cached principals are found on the event loop; a lookup that has to
read the database runs in the threadpool, so a busy database never stalls other requests.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.concurrency import run_in_threadpool

from ..errors import AuthenticationError, GovernanceUnavailable
from .errors import error_response, governance_error, is_openai_path, log_rejected, rule_for

# Orchestrators call the probes without credentials; they carry counts and reasons, never content or paths.
EXEMPT = ("/healthz", "/readyz")
ADMIN_PREFIX = "/admin"


def bearer_token(header: bytes | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for anything else."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(b" ")
    token = token.strip()
    if scheme.lower() != b"bearer" or not token:
        return None
    return token.decode("latin-1")


def resolve(gov, token: str | None, *, cached_only: bool = False):
    """The caller's principal, or None when ``cached_only`` and the answer needs the database."""
    required = gov.requires_key(cached_only=cached_only)
    if required is None:
        return None
    if not required:
        return gov.anonymous(cached_only=cached_only)
    if token is None:
        raise AuthenticationError("missing API key", code="invalid_api_key")
    return gov.authenticate(token, cached_only=cached_only)


async def principal_of(gov, header: bytes | None):
    token = bearer_token(header)
    principal = resolve(gov, token, cached_only=True)
    if principal is None:
        principal = await run_in_threadpool(resolve, gov, token)
    return principal


def _exempt(path: str) -> bool:
    return path in EXEMPT or path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


class KeyAuth:
    """ASGI middleware: puts ``principal`` in the request state, or answers 401."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or _exempt(scope["path"]):
            return await self.app(scope, receive, send)
        gw = scope["app"].state.gateway
        header = None
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                header = value
        try:
            principal = await principal_of(gw.governance, header)
        except AuthenticationError as exc:
            err = replace(governance_error(exc, rule_for(exc)), log=True)  # refused here, before the gateway saw it
            log_rejected(gw, err, None)
            return await error_response(err, is_openai_path(scope["path"]))(scope, receive, send)
        except GovernanceUnavailable as exc:  # the keys cannot be read: a 503, not the caller's fault
            err = governance_error(exc, rule_for(exc))
            return await error_response(err, is_openai_path(scope["path"]))(scope, receive, send)
        scope.setdefault("state", {})["principal"] = principal
        return await self.app(scope, receive, send)
