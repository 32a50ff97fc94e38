"""Administration of keys and teams: input checks and the operations the CLI, an admin API and a
console page share.

Every input is checked here, once, and a bad one raises ``ValidationError`` naming the
field as the Python API spells it (``budget_usd``, ``expires_at``...); the CLI turns that
into its flag. Nothing is written until every field has passed.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from ..errors import ValidationError
from ..types import MAX_USER_CHARS
from .budgets import DEFAULT_SOFT, PERIODS
from .keys import hash_key, new_key, new_key_id
from .records import NAME_PATTERN, NAME_RULE, KeyRecord, TeamRecord

MAX_BUDGET_USD = Decimal(100_000_000)  # well inside a 64-bit count of 1e-10 USD quanta
MAX_RATE = 1_000_000_000
MAX_REASON_CHARS = 200
_KEY_ID_ATTEMPTS = 5


class _Keep:
    """Marks a team field that ``set_team`` leaves as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


# --- checks -----------------------------------------------------------------------------------


def check_name(field: str, value: object) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise ValidationError(field, f"must be {NAME_RULE}")
    return value


def check_usd(field: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValidationError(field, "must be an amount in USD")
    try:
        usd = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(field, f"must be an amount in USD, got {str(value)[:40]!r}") from None
    if not usd.is_finite() or usd < 0 or usd > MAX_BUDGET_USD:
        raise ValidationError(field, f"must be between 0 and {MAX_BUDGET_USD} USD")
    return usd


def check_period(field: str, value: object) -> str:
    if value not in PERIODS:
        raise ValidationError(field, f"must be one of {', '.join(PERIODS)}")
    return value


def check_soft(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not 0 < value <= 1:
        raise ValidationError(field, "must be a fraction of the budget above 0 and at most 1 (0.8 = 80%)")
    return float(value)


def check_rate(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RATE:
        raise ValidationError(field, f"must be a whole number from 1 to {MAX_RATE}")
    return value


def check_names(field: str, values: object, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, (list, tuple, set, frozenset)) or not values:
        raise ValidationError(field, "must be a non-empty list of names")
    out = []
    for v in values:
        if not isinstance(v, str) or not v.strip() or "," in v or len(v) > 200 or not v.isprintable():
            raise ValidationError(field, "each entry must be a printable name without commas")
        if allowed is not None and v.strip() not in allowed:
            raise ValidationError(field, f"unknown provider {v.strip()!r}; expected one of {', '.join(allowed)}")
        out.append(v.strip())
    return tuple(dict.fromkeys(out))


def check_text(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or not value.isprintable():
        raise ValidationError(field, f"must be printable text of at most {limit} characters")
    return value.strip()


def check_expiry(field: str, value: object, now: float) -> float:
    """A date (midnight UTC), a datetime (naive means UTC) or epoch seconds, in the future."""
    if isinstance(value, datetime):
        when = (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        when = float(value)
    else:
        raise ValidationError(field, "must be a date or a time")
    if when <= now:
        raise ValidationError(field, "must be in the future")
    return when


def _provider_names() -> tuple[str, ...]:
    from ..providers import PROVIDER_NAMES  # loads the SDKs: only when an allow-list names providers

    return PROVIDER_NAMES


# --- operations ---------------------------------------------------------------------------------


def new_key_record(
    *,
    name,
    team,
    now: float,
    user=None,
    budget_usd=None,
    budget_period="month",
    soft=DEFAULT_SOFT,
    rpm=None,
    tpm=None,
    models=None,
    providers=None,
    expires_at=None,
) -> tuple[KeyRecord, str]:
    """A checked key record and the key itself, which exists nowhere else afterwards."""
    key_id = new_key_id()
    key = new_key(key_id)
    record = KeyRecord(
        key_id=key_id,
        name=check_name("name", name),
        team=check_name("team", team),
        key_hash=hash_key(key),
        user=None if user is None else check_text("user", user, MAX_USER_CHARS),
        providers=None if providers is None else check_names("providers", providers, _provider_names()),
        models=None if models is None else check_names("models", models),
        budget_usd=None if budget_usd is None else check_usd("budget_usd", budget_usd),
        budget_period=check_period("budget_period", budget_period),
        soft=check_soft("soft", soft),
        rpm=None if rpm is None else check_rate("rpm", rpm),
        tpm=None if tpm is None else check_rate("tpm", tpm),
        expires_at=None if expires_at is None else check_expiry("expires_at", expires_at, now),
        created_at=now,
    )
    return record, key


def create_key(store, *, now: float, **fields) -> tuple[KeyRecord, str]:
    """Store a new key; returns its record and the key, to be shown once."""
    for _ in range(_KEY_ID_ATTEMPTS):
        record, key = new_key_record(now=now, **fields)
        if store.key_with_team(record.key_id)[0] is None:  # 50 random bits: a clash is a curiosity
            store.insert_key(record)
            return record, key
    raise RuntimeError("could not draw an unused key id")


def revoke_key(store, name, reason, now: float) -> KeyRecord:
    check_name("name", name)
    reason = None if reason is None else check_text("reason", reason, MAX_REASON_CHARS)
    record = store.revoke_key(name, reason, now)
    if record is None:
        raise ValidationError("name", f"no key named '{name}'")
    return record


def team_update(
    current: TeamRecord | None, name, *, now: float, budget_usd=KEEP, budget_period=KEEP, soft=KEEP, rpm=KEEP, tpm=KEEP
) -> TeamRecord:
    """``current`` with the given fields changed (``None`` clears a budget or limit); pure."""
    team = current or TeamRecord(check_name("team", name), created_at=now)

    def pick(value, current_value, check, field):
        if value is KEEP:
            return current_value
        return None if value is None else check(field, value)

    period = team.budget_period if budget_period is KEEP else check_period("budget_period", budget_period)
    return TeamRecord(
        name=team.name,
        budget_usd=pick(budget_usd, team.budget_usd, check_usd, "budget_usd"),
        budget_period=period,
        soft=team.soft if soft is KEEP else check_soft("soft", soft),
        rpm=pick(rpm, team.rpm, check_rate, "rpm"),
        tpm=pick(tpm, team.tpm, check_rate, "tpm"),
        created_at=team.created_at,
        updated_at=now,
    )
