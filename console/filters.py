"""Sidebar filters shared by the Analytics and Requests pages, built into ``analytics.Filters``.

The choices come from ``Analytics.filter_options()`` so an operator can only pick values that
exist in the log. Providers start all selected (deselecting one is the common question:
"what if we had not used this provider?"); models, tasks, teams, API keys and users start empty,
meaning all.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from gateway_core.analytics import DEFAULT_DAYS, Filters


def _today() -> date:
    return datetime.now(UTC).date()


def date_bounds(picked) -> tuple[datetime | None, datetime | None]:
    """A ``date_input`` range as [start, end) datetimes; the end day is included."""
    if not isinstance(picked, (tuple, list)):
        picked = (picked,)
    start = datetime.combine(picked[0], time.min) if picked else None
    end = datetime.combine(picked[1], time.min) + timedelta(days=1) if len(picked) > 1 else None
    return start, end


def bucket_for(start: datetime | None, end: datetime | None) -> str:
    """A time bucket that keeps a chart between roughly 24 and 120 points."""
    span = (end or datetime.now()) - (start or datetime.now() - timedelta(days=DEFAULT_DAYS))
    if span <= timedelta(days=3):
        return "hour"
    return "day" if span <= timedelta(days=120) else "week"


def sidebar_filters(an, prefix: str) -> tuple[Filters, str]:
    """Draw the filters; returns the ``Filters`` and a chart bucket for the chosen range."""
    opts = an.filter_options()
    with st.sidebar:
        st.subheader("Filters", divider="gray")
        today = _today()
        picked = st.date_input(
            "Time range (UTC)",
            value=(today - timedelta(days=DEFAULT_DAYS), today),
            key=f"{prefix}_range",
            max_value=today,
        )
        known = opts.get("providers", [])
        # The key names the options: when the log gains a provider (say after loading demo
        # history) the widget starts again with everything selected instead of keeping [].
        providers = st.multiselect("Provider", known, default=known, key=f"{prefix}_providers:{','.join(known)}")
        models = st.multiselect("Model", opts.get("models", []), key=f"{prefix}_models", placeholder="All models")
        tasks = st.multiselect("Task", opts.get("tasks", []), key=f"{prefix}_tasks", placeholder="All tasks")
        teams = st.multiselect("Team", opts.get("teams", []), key=f"{prefix}_teams", placeholder="All teams")
        keys = st.multiselect("API key", opts.get("keys", []), key=f"{prefix}_keys", placeholder="All keys")
        users = st.multiselect("User", opts.get("users", []), key=f"{prefix}_users", placeholder="All users")
        synthetic = st.toggle("Include synthetic history", value=True, key=f"{prefix}_synthetic")
    start, end = date_bounds(picked)
    # All providers selected means no provider filter at all, so a provider first seen later is included.
    chosen = () if set(providers) == set(known) else tuple(providers) or ("<none>",)
    f = Filters(
        start=start,
        end=end,
        providers=chosen,
        models=tuple(models),
        tasks=tuple(tasks),
        users=tuple(users),
        teams=tuple(teams),
        keys=tuple(keys),
        include_synthetic=synthetic,
    )
    return f, bucket_for(start, end)
