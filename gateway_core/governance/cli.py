"""``gateway keys ...`` and ``gateway teams ...``: key and team administration from a shell.

``add_commands(subparsers)`` attaches both to the ``gateway`` command. A created key is
printed once, alone on stdout (so ``KEY=$(gateway keys create ...)`` works), with what to
do with it on stderr; no other command ever prints one. Bad input prints one line naming
the flag and exits 2, like the rest of the ``gateway`` command.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime

from ..errors import ValidationError
from .audit_log import key_detail, team_change
from .budgets import PERIODS

# Library field -> the flag or argument that carries it, for error messages.
_FLAGS = {
    "name": "--name",
    "team": "--team",
    "user": "--user",
    "budget_usd": "--budget-usd",
    "budget_period": "--budget-period",
    "soft": "--soft",
    "rpm": "--rpm",
    "tpm": "--tpm",
    "models": "--models",
    "providers": "--providers",
    "expires_at": "--expires",
    "reason": "--reason",
}


class _OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line naming the flag, exit 2, without the usage block."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def _count_or_none(text: str):
    if text.strip().lower() == "none":
        return None
    return _count(text)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _usd_or_none(text: str):
    return None if text.strip().lower() == "none" else text


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]


def _when(text: str) -> datetime:
    try:
        if len(text.strip()) == 10:
            d = date.fromisoformat(text.strip())
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2027-01-01, got {text[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _governance():
    from ..config import Settings
    from .service import Governance

    return Governance.from_settings(Settings.from_env())


def _audit(action: str, target: str, detail: dict) -> None:
    """One entry in the admin audit log, as the shell user, in the same usage database."""
    from ..config import Settings
    from .audit_log import AuditLog, shell_actor

    AuditLog(Settings.from_env().database(), source="cli").record(shell_actor(), action, target, detail)


def _flagged(fn, *args, positional: str | None = None, **kwargs):
    """Call ``fn``; a ``ValidationError`` comes back naming the command-line flag, not the field."""
    try:
        return fn(*args, **kwargs)
    except ValidationError as e:
        flag = positional if positional and e.field in ("name", "team") else _FLAGS.get(e.field, e.field)
        raise ValidationError(flag, e.reason) from None


def _money(value) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _moment(epoch) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def _table(headers: tuple[str, ...], rows: list[tuple]) -> None:
    cells = [tuple(str(c) for c in r) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for r in (headers, *cells):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


# --- commands ---------------------------------------------------------------------------------


def _keys_create(args: argparse.Namespace) -> int:
    with _governance() as gov:
        record, key = _flagged(
            gov.create_key,
            name=args.name,
            team=args.team,
            user=args.user,
            budget_usd=args.budget_usd,
            budget_period=args.budget_period,
            rpm=args.rpm,
            tpm=args.tpm,
            models=args.models,
            providers=args.providers,
            expires_at=args.expires,
        )
        _audit("key.created", record.name, key_detail(record))
    print(key)
    print(
        f"created key '{record.name}' ({record.key_id}) for team '{record.team}'. This is the only time the key "
        "is shown: store it now.",
        file=sys.stderr,
    )
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from .keys import display

    with _governance() as gov:
        now = gov.now()
        rows = [
            (
                k.name,
                display(k.key_id),
                k.team,
                k.user or "-",
                k.state(now),
                f"{_money(k.budget_usd)}/{k.budget_period}" if k.budget_usd is not None else "-",
                k.rpm or "-",
                k.tpm or "-",
                ",".join(k.models or ()) or "any",
                ",".join(k.providers or ()) or "any",
                _moment(k.expires_at),
                k.revoked_reason or "",
            )
            for k in gov.keys()
        ]
        rows += [
            (f"static-{i}", "(GATEWAY_API_KEYS)", "default", "-", "static", "-", "-", "-", "any", "any", "-", "")
            for i in range(1, gov.static_key_count + 1)
        ]
    _table(("name", "key", "team", "user", "state", "budget", "rpm", "tpm", "models", "providers", "expires", "note"), rows)
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    with _governance() as gov:
        record = _flagged(gov.revoke_key, args.name, args.reason, positional="NAME")
        _audit("key.revoked", record.name, {"key_id": record.key_id, "reason": record.revoked_reason})
    print(f"revoked key '{record.name}' ({record.key_id}) at {_moment(record.revoked_at)} UTC")
    return 0


def _teams_set(args: argparse.Namespace) -> int:
    from .admin import KEEP

    given = {name: getattr(args, name) for name in ("budget_usd", "budget_period", "soft", "rpm", "tpm")}
    changes = {name: value for name, value in given.items() if value is not KEEP}
    with _governance() as gov:
        before = gov.store.team(args.team) if isinstance(args.team, str) else None
        team = _flagged(gov.set_team, args.team, positional="TEAM", **changes)
        _audit("team.changed", team.name, team_change(before, team))
    budget = (
        "no budget"
        if team.budget_usd is None
        else (f"budget {_money(team.budget_usd)} per {team.budget_period}, soft limit {team.soft:.0%}")
    )
    print(f"team '{team.name}': {budget}; rpm {team.rpm or '-'}; tpm {team.tpm or '-'}")
    return 0


def _teams_list(args: argparse.Namespace) -> int:
    from .records import team_limits

    with _governance() as gov:
        rows = []
        for t in gov.teams():
            budgets, _ = team_limits(t)
            s = gov.budget_status(budgets[0]) if budgets else None
            rows.append(
                (
                    t.name,
                    _money(t.budget_usd),
                    t.budget_period if s else "-",
                    f"{t.soft:.0%}" if s else "-",
                    _money(s.spent_usd) if s else "-",
                    _money(s.reserved_usd) if s else "-",
                    f"{s.used_fraction:.0%}" if s else "-",
                    s.resets_at.strftime("%Y-%m-%d") if s else "-",
                    _money(s.forecast_usd) if s else "-",
                    t.rpm or "-",
                    t.tpm or "-",
                )
            )
    _table(("team", "budget", "period", "soft", "spent", "reserved", "used", "resets", "forecast", "rpm", "tpm"), rows)
    return 0


# --- wiring -----------------------------------------------------------------------------------


def add_commands(subparsers) -> None:
    """Attach ``keys`` and ``teams`` to the ``gateway`` command's sub-commands."""
    from .admin import KEEP

    keys = subparsers.add_parser("keys", help="create, list and revoke virtual API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, parser_class=_OneLineParser)
    create = keys_sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--team", required=True)
    create.add_argument("--user", default=None)
    create.add_argument("--budget-usd", default=None, help="hard budget of this key, in USD")
    create.add_argument("--budget-period", choices=PERIODS, default="month")
    create.add_argument("--rpm", type=_count, default=None, help="requests per minute")
    create.add_argument("--tpm", type=_count, default=None, help="tokens per minute")
    create.add_argument("--models", type=_names, default=None, help="comma-separated allow-list of models")
    create.add_argument("--providers", type=_names, default=None, help="comma-separated allow-list of providers")
    create.add_argument("--expires", type=_when, default=None, help="UTC date or time, e.g. 2027-01-01")
    create.set_defaults(func=_keys_create)
    keys_sub.add_parser("list", help="list keys (never shows a key)").set_defaults(func=_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by name; effective on its next request")
    revoke.add_argument("name", metavar="NAME")
    revoke.add_argument("--reason", default=None)
    revoke.set_defaults(func=_keys_revoke)

    teams = subparsers.add_parser("teams", help="set and list team budgets and rate limits")
    teams_sub = teams.add_subparsers(dest="teams_command", required=True, parser_class=_OneLineParser)
    tset = teams_sub.add_parser("set", help="create or change a team; flags not given keep their value")
    tset.add_argument("team", metavar="TEAM")
    tset.add_argument("--budget-usd", type=_usd_or_none, default=KEEP, help="hard budget in USD, or 'none'")
    tset.add_argument("--budget-period", choices=PERIODS, default=KEEP)
    tset.add_argument("--soft", type=float, default=KEEP, help="soft limit as a fraction of the budget (default 0.8)")
    tset.add_argument("--rpm", type=_count_or_none, default=KEEP, help="requests per minute, or 'none'")
    tset.add_argument("--tpm", type=_count_or_none, default=KEEP, help="tokens per minute, or 'none'")
    tset.set_defaults(func=_teams_set)
    teams_sub.add_parser("list", help="teams with budget, spend this period and forecast").set_defaults(func=_teams_list)
