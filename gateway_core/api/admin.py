"""The admin REST API: keys, teams and budgets, guarded by ``GATEWAY_ADMIN_KEY``.

The routes exist only when ``GATEWAY_ADMIN_KEY`` is set (otherwise ``/admin/...`` is 404,
like any unknown route), and every one needs ``Authorization: Bearer <admin key>``,
compared in constant time; API keys are never admin keys, nor the reverse.

- ``POST /admin/keys``: create a key; the answer holds the key, the only time it is shown;
- ``GET /admin/keys``: every key, never a key's secret or hash;
- ``POST /admin/keys/{name}/revoke``: revoke, with an optional ``reason``;
- ``PATCH /admin/teams/{name}``: create or change a team's budget and limits (a field left
  out keeps its value, ``null`` clears it);
- ``GET /admin/teams``, ``GET /admin/budgets``: teams and budgets with their burn-down.

Bodies are read as strictly as the generation routes' (``body``); a bad field gets 422
naming it as this API spells it. Every change is recorded in the admin audit log (source
``api``, actor ``admin-key@<client address>``: the admin key is one shared secret, so the
address is what tells callers apart); admin calls are not generation requests, so nothing
here is written to the usage log. The JSON views are pure functions of the governance records.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import replace
from datetime import UTC, date, datetime

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from ..errors import ValidationError
from ..governance.audit_log import AuditLog, key_detail, team_change
from ..governance.keys import display
from ..governance.records import team_limits
from .body import check_content_type, parse_object, read_limited
from .errors import ApiError, json_response, validation_error

KEY_FIELDS = ("name", "team", "user", "budget_usd", "budget_period", "soft", "rpm", "tpm", "models", "providers", "expires_at")
TEAM_FIELDS = ("budget_usd", "budget_period", "soft", "rpm", "tpm")
REVOKE_FIELDS = ("reason",)
log = logging.getLogger("gateway_core.api")


# --- views (pure) ---------------------------------------------------------------------------


def _iso(moment) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(value) -> str | None:
    """USD as a plain decimal string without trailing zeros (``2.5``, ``0.00004305``)."""
    return None if value is None else format(value.normalize(), "f")


def key_json(record, now: float) -> dict:
    """A key as listings show it: its public id, never its secret or hash."""
    return {
        "name": record.name,
        "key_id": record.key_id,
        "display": display(record.key_id),
        "team": record.team,
        "user": record.user,
        "state": record.state(now),
        "providers": None if record.providers is None else list(record.providers),
        "models": None if record.models is None else list(record.models),
        "budget_usd": _money(record.budget_usd),
        "budget_period": record.budget_period,
        "soft": record.soft,
        "rpm": record.rpm,
        "tpm": record.tpm,
        "expires_at": _iso(record.expires_at),
        "created_at": _iso(record.created_at),
        "revoked_at": _iso(record.revoked_at),
        "revoked_reason": record.revoked_reason,
    }


def budget_json(status) -> dict:
    """One budget's burn-down: spent, held by requests in flight, forecast to period end."""
    return {
        "owner": status.owner,
        "period": status.period,
        "limit_usd": _money(status.limit_usd),
        "soft": status.soft,
        "spent_usd": _money(status.spent_usd),
        "reserved_usd": _money(status.reserved_usd),
        "used_fraction": round(status.used_fraction, 6),
        "soft_reached": status.soft_reached,
        "period_start": _iso(status.period_start),
        "resets_at": _iso(status.resets_at),
        "forecast_usd": _money(status.forecast_usd),
        "exhausted_at": _iso(status.exhausted_at),
    }


def team_json(team, status) -> dict:
    return {
        "name": team.name,
        "budget_usd": _money(team.budget_usd),
        "budget_period": team.budget_period,
        "soft": team.soft,
        "rpm": team.rpm,
        "tpm": team.tpm,
        "created_at": _iso(team.created_at),
        "updated_at": _iso(team.updated_at),
        "budget": None if status is None else budget_json(status),
    }


def _listing(items: list) -> dict:
    return {"object": "list", "data": items}


# --- input ----------------------------------------------------------------------------------


def _known(body: dict, allowed: tuple[str, ...]) -> dict:
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        raise ValidationError(unknown[0][:40], f"is not a known field (known: {', '.join(allowed)})")
    return body


def parse_expiry(value):
    """``expires_at`` as JSON gives it: an ISO date (midnight UTC), an ISO time, or epoch seconds."""
    if not isinstance(value, str):
        return value  # numbers go to the library's check as they are; anything else is refused there
    text = value.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("expires_at", "must be an ISO date or time (2027-01-01, 2027-01-01T12:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def key_fields(body: dict) -> dict:
    fields = dict(_known(body, KEY_FIELDS))
    for required in ("name", "team"):
        if required not in fields:
            raise ValidationError(required, "is required")
    if fields.get("expires_at") is not None:
        fields["expires_at"] = parse_expiry(fields["expires_at"])
    return fields


# --- routes ---------------------------------------------------------------------------------


def _admin_error(err: ApiError) -> ApiError:
    return replace(err, log=False)  # admin calls are not requests of the usage log


def _refused() -> ApiError:
    return ApiError(
        401,
        "authentication_error",
        "missing or invalid admin key; send Authorization: Bearer <GATEWAY_ADMIN_KEY>",
        code="invalid_admin_key",
        headers={"www-authenticate": "Bearer"},
        log=False,
    )


class AdminGuard:
    """Checks the admin key; runs the governance call off the event loop; shapes its errors;
    records each change in the audit log."""

    def __init__(self, admin_key: str, audit: AuditLog):
        self._key = admin_key.encode("utf-8")
        self._audit = audit

    async def record(self, request: Request, action: str, target: str, detail: dict) -> None:
        actor = f"admin-key@{request.client.host if request.client else 'unknown'}"
        try:
            await run_in_threadpool(self._audit.record, actor, action, target, detail, role="admin")
        except Exception:  # noqa: BLE001 - the change is made; its answer (a key shown once) must not be lost
            log.exception("could not record %s for %s in the audit log", action, target)

    def check(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode("utf-8"), self._key):
            raise _refused()

    async def body(self, request: Request, allowed: tuple[str, ...], *, optional: bool = False) -> dict:
        """The JSON object sent (``{}`` for an empty body when ``optional``), known fields only."""
        try:
            raw = await read_limited(request)
            if optional and not raw.strip():
                return {}
            check_content_type(request.headers.get("content-type"))
            return _known(parse_object(raw), allowed)
        except ApiError as err:
            raise _admin_error(err) from None
        except ValidationError as err:
            raise _admin_error(validation_error(err, openai_shape=False)) from None

    @staticmethod
    async def call(fn, *args, **kwargs):
        try:
            return await run_in_threadpool(fn, *args, **kwargs)
        except ValidationError as err:
            raise _admin_error(validation_error(err, openai_shape=False)) from None


def _team(gov, name: str):
    return next((t for t in gov.teams() if t.name == name), None)


def _teams(gov) -> list[dict]:
    out = []
    for team in gov.teams():
        budgets, _ = team_limits(team)
        out.append(team_json(team, gov.budget_status(budgets[0]) if budgets else None))
    return out


def install_admin_routes(app: FastAPI, settings) -> None:
    """Add the admin routes, only when ``GATEWAY_ADMIN_KEY`` is set."""
    if settings.admin_key is None:
        return
    guard = AdminGuard(settings.admin_key.get_secret_value(), AuditLog(settings.database(), source="api"))

    def governance(request: Request):
        guard.check(request)
        return request.app.state.gateway.governance

    @app.post("/admin/keys", status_code=201, tags=["admin"])
    async def create_key(request: Request):
        gov = governance(request)
        body = await guard.body(request, KEY_FIELDS)
        try:
            fields = key_fields(body)
        except ValidationError as err:
            raise _admin_error(validation_error(err, openai_shape=False)) from None
        record, key = await guard.call(gov.create_key, **fields)
        await guard.record(request, "key.created", record.name, key_detail(record))
        return json_response({"key": key, **key_json(record, gov.now())}, status=201)

    @app.get("/admin/keys", tags=["admin"])
    async def list_keys(request: Request):
        gov = governance(request)
        now = gov.now()
        return json_response(_listing([key_json(k, now) for k in await guard.call(gov.keys)]))

    @app.post("/admin/keys/{name}/revoke", tags=["admin"])
    async def revoke_key(request: Request, name: str):
        gov = governance(request)
        body = await guard.body(request, REVOKE_FIELDS, optional=True)
        record = await guard.call(gov.revoke_key, name, body.get("reason"))
        await guard.record(request, "key.revoked", record.name, {"key_id": record.key_id, "reason": record.revoked_reason})
        return json_response(key_json(record, gov.now()))

    @app.patch("/admin/teams/{name}", tags=["admin"])
    async def set_team(request: Request, name: str):
        gov = governance(request)
        changes = await guard.body(request, TEAM_FIELDS)
        before = await guard.call(_team, gov, name)
        team = await guard.call(gov.set_team, name, **changes)
        await guard.record(request, "team.changed", team.name, team_change(before, team))
        budgets, _ = team_limits(team)
        status = await guard.call(gov.budget_status, budgets[0]) if budgets else None
        return json_response(team_json(team, status))

    @app.get("/admin/teams", tags=["admin"])
    async def list_teams(request: Request):
        gov = governance(request)
        return json_response(_listing(await guard.call(_teams, gov)))

    @app.get("/admin/budgets", tags=["admin"])
    async def list_budgets(request: Request):
        gov = governance(request)
        return json_response(_listing([budget_json(s) for s in await guard.call(gov.budgets)]))
