"""Process-wide handles for the console: one Gateway, Analytics, Governance and audit log per configuration.

Settings enter here, once, at the console's edge. The handles live in ``st.cache_resource``
keyed by a digest of the gateway's environment, so a changed configuration (or a test that
points at a fresh database) gets its own gateway, and an evicted one is closed, which
flushes its usage log and stops its emulators. The digest covers secret values but is only
ever a hash in memory; the values themselves never leave ``Settings``.
"""

from __future__ import annotations

import hashlib
import os

import streamlit as st

from console import widgets
from gateway_core.config import Settings
from gateway_core.errors import ConfigError


def _env_key() -> str:
    names = set(Settings.env_names())
    items = sorted((k, v) for k, v in os.environ.items() if k in names)
    return hashlib.sha256(repr(items).encode()).hexdigest()


def _close_gateway(gw) -> None:
    gw.close()


@st.cache_resource(show_spinner="Starting the gateway…", max_entries=2, on_release=_close_gateway)
def _build_gateway(env_key: str):
    from gateway_core.gateway import Gateway

    return Gateway.from_env()


def _close_analytics(an) -> None:
    an.close()


# About two seconds of loading here; a smaller log loads in line, before the page draws.
BACKGROUND_LOAD_ROWS = 100_000


@st.cache_resource(show_spinner=False, max_entries=2, on_release=_close_analytics)
def _build_analytics(database: str):
    from gateway_core.analytics import Analytics
    from gateway_core.db import is_postgres

    # The DuckDB mirror lives beside the log (for a PostgreSQL log, beside the local data path),
    # so a restart loads only the rows added since; a first load of a large log runs in the
    # background behind a progress bar.
    local = gateway().settings.db_path if is_postgres(database) else database
    return Analytics(database, max_staleness_s=1.0, mirror_path=f"{local}.duckdb", background_rows=BACKGROUND_LOAD_ROWS)


def prebuild() -> None:
    """Build the gateway into the cache outside any session (``gateway console`` does this
    while the server starts); a configuration error is left for the first page to show."""
    _build_gateway(_env_key())


def gateway():
    """The process's Gateway. A configuration error stops the page with the variable named."""
    try:
        return _build_gateway(_env_key())
    except ConfigError as e:
        st.error(f"Configuration problem in **{e.variable}**: {e.message}", icon=":material/settings_alert:")
        st.stop()


def analytics():
    """The process's Analytics. While it loads a large log for the first time, the page shows
    the load's progress instead of its content (``st.stop``), and reruns when it is done."""
    an = _build_analytics(str(gateway().settings.database()))
    if an.loading() is not None:
        widgets.mirror_progress(an)
        st.stop()
    return an


def fresh_analytics():
    """Analytics that already includes this process's own latest requests.

    The usage log writes in the background; flushing first means a prompt sent a moment
    ago in the Playground is on the Requests page now, not after the staleness window."""
    gateway().usage_log.flush()
    an = analytics()
    an.refresh(force=True)
    return an


def governance():
    """The gateway's own governance facade (keys, teams, budgets): one per process, so a key
    revoked or a budget changed here applies to the console's next request at once."""
    return gateway().governance


@st.cache_resource(show_spinner=False, max_entries=2)
def _build_audit_log(db_path: str):
    from gateway_core.governance.audit_log import AuditLog

    return AuditLog(db_path, source="console")


def audit_log():
    """The admin audit log, written as the console."""
    return _build_audit_log(str(gateway().settings.database()))
