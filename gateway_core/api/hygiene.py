"""Header hygiene, as ASGI middleware in front of authentication and the routes.

A request that repeats a header whose meaning depends on a single value is ambiguous:
servers, proxies and frameworks disagree on whether the first or the last copy counts, so
a second ``Authorization`` could slip past a check made on the other one. Such requests
get 400 naming the header, in the route's own error shape, and are logged as rejected.
"""

from __future__ import annotations

from .errors import ApiError, error_response, is_openai_path, log_rejected

SINGLE_VALUED = (b"authorization", b"content-type", b"content-length", b"content-encoding")


def duplicated(headers) -> bytes | None:
    """The first single-valued header that appears more than once, if any."""
    seen: set[bytes] = set()
    for name, _ in headers:
        name = name.lower()
        if name in SINGLE_VALUED:
            if name in seen:
                return name
            seen.add(name)
    return None


class HeaderHygiene:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        name = duplicated(scope.get("headers") or ())
        if name is None:
            return await self.app(scope, receive, send)
        header = name.decode("latin-1")
        err = ApiError(400, "duplicate_header", f"the {header} header appears more than once", field=header)
        app_state = scope["app"].state if "app" in scope else None
        log_rejected(getattr(app_state, "gateway", None), err, None)
        await error_response(err, is_openai_path(scope["path"]))(scope, receive, send)
