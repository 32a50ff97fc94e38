"""Imports the console's first page needs, run on a thread while Streamlit's server starts.

For the first second or two after ``gateway console`` starts, the server is starting and the
browser is loading the page's scripts, and no Python of the console's runs. The first
session's script run then imports the provider SDKs, pandas, DuckDB and Altair before it can
draw anything (a couple of seconds on a busy 2-core machine). Importing them here, in that
idle time, takes them off the wait for the first page. Python's import locks make a script
that reaches a module this thread is still importing wait for it, never import it twice.
"""

from __future__ import annotations

import importlib
import logging
import threading

log = logging.getLogger(__name__)

# The provider SDKs are imported by building the gateway (each provider imports its own), so
# this list names only what the pages need besides.
MODULES = ("pandas", "duckdb", "altair", "gateway_core.gateway", "gateway_core.analytics")


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - the page imports it again and reports a real problem there
            log.debug("warm-up import of %s failed: %s", name, exc)


def _build_gateway() -> None:
    """The gateway every session shares, built into the console's cache before anyone asks."""
    try:
        from console import state

        state.prebuild()
    except Exception as exc:  # noqa: BLE001 - the first page builds it again and shows the problem
        log.debug("warm-up gateway build failed: %s", exc)


def _warm(modules: tuple[str, ...], gateway: bool) -> None:
    _import_all(modules)
    if gateway:
        _build_gateway()


def start(modules: tuple[str, ...] = MODULES, *, gateway: bool = True) -> threading.Thread:
    thread = threading.Thread(target=_warm, args=(modules, gateway), name="console-warmup", daemon=True)
    thread.start()
    return thread
