"""What the Governance page changes: keys and teams through the governance facade, each change
recorded in the audit log under the signed-in admin's name.

Widget values arrive as Streamlit gives them (empty strings, floats, empty lists) and are
turned into the facade's fields here, so the facade's own checks decide what is valid and
name the field at fault. A created key is returned to be shown once; it is never kept.
"""

from __future__ import annotations

from decimal import Decimal

from console import auth
from gateway_core.governance.audit_log import key_detail, team_change


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _usd(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def key_fields(
    *, name, team, user="", budget_usd=None, budget_period="month", rpm=None, tpm=None, models=(), providers=(), expires=None
) -> dict:
    """``Governance.create_key`` fields from the create-key form's widget values."""
    return {
        "name": (name or "").strip(),
        "team": (team or "").strip(),
        "user": _text(user),
        "budget_usd": _usd(budget_usd),
        "budget_period": budget_period,
        "rpm": None if rpm is None else int(rpm),
        "tpm": None if tpm is None else int(tpm),
        "models": list(models) or None,
        "providers": list(providers) or None,
        "expires_at": expires,
    }


def team_fields(*, budget_usd=None, budget_period="month", soft_pct=80, rpm=None, tpm=None) -> dict:
    """``Governance.set_team`` changes from the team form: every field as shown, an empty one clears."""
    return {
        "budget_usd": _usd(budget_usd),
        "budget_period": budget_period,
        "soft": soft_pct / 100,
        "rpm": None if rpm is None else int(rpm),
        "tpm": None if tpm is None else int(tpm),
    }


def create_key(gov, who, fields: dict):
    """A new key and its record; the key is for showing once, then dropping."""
    record, key = gov.create_key(**fields)
    auth.record(who, "key.created", record.name, key_detail(record))
    return record, key


def revoke_key(gov, who, name: str, reason: str):
    record = gov.revoke_key(name, _text(reason))
    auth.record(who, "key.revoked", record.name, {"key_id": record.key_id, "reason": record.revoked_reason})
    return record


def set_team(gov, who, name: str, changes: dict):
    name = (name or "").strip()
    before = next((t for t in gov.teams() if t.name == name), None)
    team = gov.set_team(name, **changes)
    auth.record(who, "team.changed", team.name, team_change(before, team))
    return team
