"""The admin audit log: who changed keys, budgets, policy, faults or data, when, and from where.

Every surface that changes how the gateway governs or what it holds writes one entry here:
the console (signed-in email and role), the ``gateway`` command (the operating-system user
and host) and the admin REST API. An entry is ``(ts, actor, role, source, action, target,
detail)`` in the usage database's ``admin_audit`` table (migration ``m008_console_audit``);
``detail`` is a small JSON object of what changed. Entries are only ever added.

A key's secret must never reach the log: every text written is passed through
``mask_keys`` first, so even a caller that put a key into ``detail`` by mistake leaves
only its public id behind. ``AuditLog.frame`` is the query the evidence pack and the
console's Governance page read.
"""

from __future__ import annotations

import getpass
import json
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .. import db
from ..errors import ValidationError
from ..usage.migrations import ensure_schema
from ..usage.schema import TS_FORMAT, utc_now_text
from .keys import KEY_PREFIX

SOURCES = ("console", "cli", "api")
# action -> what it means, for listings; a new kind of change adds one line here.
ACTIONS = {
    "key.created": "created an API key",
    "key.revoked": "revoked an API key",
    "team.changed": "set a team's budget or rate limits",
    "policy.changed": "changed the routing policy",
    "faults.injected": "injected faults into an emulator",
    "faults.cleared": "cleared an emulator's faults",
    "demo.loaded": "loaded synthetic demo history",
    "data.purged": "purged synthetic rows from the usage log",
}
MAX_ACTOR_CHARS = 320  # the longest e-mail address SMTP allows
MAX_TARGET_CHARS = 200
MAX_DETAIL_CHARS = 4000
COLUMNS = ("id", "ts", "actor", "role", "source", "action", "target", "detail")
_KEY_TEXT = re.compile(rf"\b{KEY_PREFIX}_([a-z2-7]{{10}})_[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    ts: datetime
    actor: str
    role: str | None
    source: str
    action: str
    target: str | None
    detail: dict


def mask_keys(text: str) -> str:
    """``text`` with every API key replaced by its public part (``gwk_<id>_…``)."""
    return _KEY_TEXT.sub(rf"{KEY_PREFIX}_\1_…", text)


def shell_actor() -> str:
    """Who runs the ``gateway`` command: ``user@host``, as far as the system can tell."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def key_detail(record) -> dict:
    """What an audit entry keeps about a created key: its public id and limits, never the key."""
    fields = ("key_id", "team", "user", "budget_usd", "budget_period", "rpm", "tpm", "models", "providers", "expires_at")
    out = {f: getattr(record, f) for f in fields if getattr(record, f) is not None}
    if record.budget_usd is None:
        out.pop("budget_period", None)
    return out


def team_change(before, after) -> dict:
    """``{field: [old, new]}`` for each budget or limit a team update changed (old is None for a new team)."""
    fields = ("budget_usd", "budget_period", "soft", "rpm", "tpm")
    return {
        f: [None if before is None else getattr(before, f), getattr(after, f)]
        for f in fields
        if before is None or getattr(before, f) != getattr(after, f)
    }


def _text(field: str, value: object, limit: int, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise ValidationError(field, f"must be printable text of at most {limit} characters")
    return mask_keys(value.strip())[:limit]


def _detail_text(detail: Mapping | None) -> str | None:
    if detail is None:
        return None
    if not isinstance(detail, Mapping):
        raise ValidationError("detail", "must be a mapping of what changed")
    text = mask_keys(json.dumps(dict(detail), default=str, sort_keys=True, ensure_ascii=False))
    if len(text) > MAX_DETAIL_CHARS:
        raise ValidationError("detail", f"must be at most {MAX_DETAIL_CHARS} characters as JSON")
    return text


def _instant(field: str, value: datetime | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(field, "must be a datetime")
    return (value.astimezone(UTC) if value.tzinfo else value).strftime(TS_FORMAT)


class AuditLog:
    """The audit log in the usage database at ``db_path``, written from one ``source``.

    Each call opens its own short connection: admin actions are rare, and this keeps the
    object safe to share between threads (Streamlit runs each rerun on its own)."""

    def __init__(self, db_path: db.Target, *, source: str = "console"):
        if source not in SOURCES:
            raise ValidationError("source", f"must be one of {', '.join(SOURCES)}")
        self.db_path = db_path if db.is_postgres(db_path) else Path(db_path)
        self.source = source
        self._ready = False

    def _connect(self):
        if not self._ready:
            ensure_schema(self.db_path)
            self._ready = True
        return db.connect(self.db_path)

    def record(self, actor: str, action: str, target: str | None = None, detail: Mapping | None = None, *, role=None) -> int:
        """Add one entry now; returns its id. ``action`` is one of ``ACTIONS``."""
        if action not in ACTIONS:
            raise ValidationError("action", f"unknown action {str(action)[:40]!r}; expected one of {', '.join(ACTIONS)}")
        values = (
            utc_now_text(),
            _text("actor", actor, MAX_ACTOR_CHARS, required=True),
            _text("role", role, 40, required=False),
            self.source,
            action,
            _text("target", target, MAX_TARGET_CHARS, required=False),
            _detail_text(detail),
        )
        conn = self._connect()
        try:
            cur = conn.execute(
                "INSERT INTO admin_audit (ts, actor, role, source, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                values,
            )
            return int(cur.fetchone()[0])
        finally:
            conn.close()

    def entries(self, *, since: datetime | None = None, until: datetime | None = None, limit: int = 500) -> list[AuditEntry]:
        """Entries in ``[since, until)``, newest first, at most ``limit``."""
        return [
            AuditEntry(
                id_,
                datetime.strptime(ts, TS_FORMAT).replace(tzinfo=UTC),
                actor,
                role,
                source,
                action,
                target,
                json.loads(detail) if detail else {},
            )
            for id_, ts, actor, role, source, action, target, detail in self._rows(since, until, limit)
        ]

    def frame(self, *, since: datetime | None = None, until: datetime | None = None, limit: int | None = None):
        """The entries in ``[since, until)`` as a pandas frame, newest first; ``ts`` is UTC and
        naive, ``detail`` the JSON text. The evidence pack and the Governance page read this."""
        import pandas as pd  # only readers need it; the request path never imports this

        frame = pd.DataFrame(self._rows(since, until, limit), columns=list(COLUMNS))
        frame["ts"] = pd.to_datetime(frame["ts"], format=TS_FORMAT)
        return frame

    def _rows(self, since: datetime | None, until: datetime | None, limit: int | None) -> list[tuple]:
        where, params = ["1 = 1"], []
        for op, value, field in ((">=", since, "since"), ("<", until, "until")):
            text = _instant(field, value)
            if text is not None:
                where.append(f"ts {op} ?")
                params.append(text)
        cap = "" if limit is None else f" LIMIT {max(0, int(limit))}"
        conn = self._connect()
        try:
            return conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM admin_audit WHERE {' AND '.join(where)} ORDER BY id DESC{cap}", params
            ).fetchall()
        finally:
            conn.close()
