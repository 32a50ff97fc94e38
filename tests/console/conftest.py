"""Console test set-up: a hermetic demo environment per test.

Each test gets its own usage-log file, so the console's cached Gateway (keyed by the
environment) is a fresh one with zero-latency emulators; the cache is cleared at the end,
which closes every gateway the tests started. The helpers that drive AppTest are in
``console_support``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import streamlit as st
from console_support import CONFIG_PREFIXES


@pytest.fixture
def console_env(tmp_path, monkeypatch) -> Path:
    """Demo mode, zero-latency emulators, a fresh log; returns the log's path."""
    for key in list(os.environ):
        if key.startswith(CONFIG_PREFIXES):
            monkeypatch.delenv(key)
    db = tmp_path / "usage.sqlite"
    monkeypatch.setenv("GATEWAY_MODE", "demo")
    monkeypatch.setenv("GATEWAY_EMULATOR_PROFILE", "zero")
    monkeypatch.setenv("GATEWAY_DB_PATH", str(db))
    monkeypatch.chdir(tmp_path)  # no developer .env can leak into the settings
    return db


@pytest.fixture(autouse=True)
def _keep_main_module():
    """AppTest leaves the last script it ran installed as ``__main__``; a process that a later
    test spawns would run that script again before its own work. Put the real one back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session", autouse=True)
def _close_cached_gateways():
    yield
    st.cache_resource.clear()
