"""Helpers the console tests share: where the app lives, and small functions that drive
AppTest and read what a page drew. (Fixtures stay in ``conftest.py``; a module of its own keeps
these importable by name whichever other test directory's ``conftest`` loaded first.)"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "console" / "app.py"
CONFIG_PREFIXES = (
    "GATEWAY_",
    "AZURE_OPENAI_",
    "BEDROCK_",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "OTEL_",
)


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
