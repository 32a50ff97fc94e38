"""Console test set-up: a hermetic demo environment per test and helpers to drive AppTest.

Each test gets its own usage-log file, so the console's cached Gateway (keyed by the
environment) is a fresh one with zero-latency emulators; the cache is cleared at the end,
which closes every gateway the tests started.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "console" / "app.py"
_CONFIG_PREFIXES = (
    "GATEWAY_",
    "AZURE_OPENAI_",
    "BEDROCK_",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "OTEL_",
)


@pytest.fixture
def console_env(tmp_path, monkeypatch) -> Path:
    """Demo mode, zero-latency emulators, a fresh log; returns the log's path."""
    for key in list(os.environ):
        if key.startswith(_CONFIG_PREFIXES):
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


def open_console() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert_clean(at)
    return at


def goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"../pages/{page}.py").run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    """No uncaught exception and no page that fell back to the generic error sentence."""
    assert not at.exception, [e.value for e in at.exception]
    unexpected = [e.value for e in at.error if e.value.startswith("Unexpected error")]
    assert not unexpected, unexpected


def ask(at: AppTest, prompt: str) -> AppTest:
    at.chat_input[0].set_value(prompt).run()
    assert_clean(at)
    return at


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def charts(at: AppTest) -> list[tuple[dict, pd.DataFrame]]:
    """Every chart on the page as (Vega-Lite spec, the data frame it draws)."""
    out = []
    for chart in at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        data = chart.proto.datasets[0].data.data if chart.proto.datasets else None
        out.append((spec, pa.ipc.open_stream(data).read_pandas() if data else pd.DataFrame()))
    return out


def encoding(spec: dict) -> dict:
    """A chart's encoding, or its first layer's."""
    return spec.get("encoding") or spec["layer"][0]["encoding"]
