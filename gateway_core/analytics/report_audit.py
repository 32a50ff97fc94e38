"""The evidence pack's admin audit section: who changed keys, budgets, policy, faults or data in the period.

``audit_section`` is passed to ``build_report`` as an extra section. It reads the audit log
beside the usage log the pack is built from (``AuditLog.frame``), over the pack's period,
and lists every entry oldest first with a count per action above. Entries hold no key
secrets (the log masks them when written) and every value is escaped here.
"""

from __future__ import annotations

import json

import pandas as pd

from ..governance.audit_log import ACTIONS, AuditLog
from .report_html import esc, table

MAX_ROWS = 500  # a pack stays readable; the count above the table says how many there were


def _detail(text) -> str:
    if not text:
        return ""
    try:
        detail = json.loads(text)
    except ValueError:
        return str(text)
    return "; ".join(f"{k}: {v}" for k, v in detail.items())


def audit_section(ctx) -> tuple[str, str]:
    start, end = ctx.filters.bounds()
    frame = AuditLog(ctx.analytics.db_path).frame(since=start, until=end or None)
    if frame.empty:
        return "Admin audit log", "<p class='note'>No key, budget, policy, fault or data change was recorded in this period.</p>"
    counts = frame["action"].value_counts()
    summary = ", ".join(f"{n} {esc(ACTIONS.get(a, a))} ({esc(a)})" for a, n in counts.items())
    shown = frame.sort_values("id").head(MAX_ROWS).assign(detail=lambda f: f["detail"].map(_detail))
    columns = {"ts": lambda t: pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%S"), "actor": None, "role": None}
    columns |= {"source": None, "action": None, "target": None, "detail": None}
    more = f"<p class='note'>The first {MAX_ROWS} of {len(frame)} entries.</p>" if len(frame) > MAX_ROWS else ""
    body = (
        f"<p>{len(frame)} recorded change{'s' if len(frame) != 1 else ''} (UTC): {summary}. Each names who made it, "
        "from the console (signed-in address and role), the gateway command (user@host) or the admin API.</p>"
        + table(shown.fillna(""), columns)
        + more
    )
    return "Admin audit log", body
