"""The console's pure helpers: money and time formatting, attempts, chaos presets, side-by-side
streaming and the launch command line."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from decimal import Decimal

import pytest
from console_support import ROOT

from console import chaos, launch
from console import format as fmt
from console.streams import SideBySide
from gateway_core.emulators import start_emulators
from gateway_core.errors import RateLimited, StreamInterrupted
from gateway_core.pricing import Price
from gateway_core.types import Attempt, Usage


def test_small_costs_keep_their_digits_and_unpriced_is_never_zero():
    assert fmt.usd(Decimal("0.0000123")) == "$0.000012"
    assert fmt.usd(Decimal("12.5")) == "$12.5000"
    assert fmt.usd(Decimal("1234.5")) == "$1,234.50"
    assert fmt.usd(None) == "unpriced"
    assert fmt.usd(Decimal(0)) == "$0"


@pytest.mark.parametrize(
    "described,expected",
    [
        (
            {"enabled": False, "reason": "no OTEL_* variable is set", "endpoint": None},
            "Telemetry **off** · no OTEL_* variable is set",
        ),
        (
            {
                "enabled": True,
                "endpoint": "http://collector:4318",
                "protocol": "http/protobuf",
                "traces": "otlp",
                "metrics": "otlp",
                "content": False,
                "dropped_requests": 0,
            },
            "Telemetry **on** → `http://collector:4318` (http/protobuf) · traces otlp, metrics otlp",
        ),
        (
            {"enabled": True, "endpoint": None, "traces": "console", "metrics": "none", "content": True, "dropped_requests": 12},
            "Telemetry **on** → the console · traces console · content masked · 12 requests dropped",
        ),
    ],
)
def test_telemetry_line_says_on_and_where_or_off_and_why(described, expected):
    assert fmt.telemetry_text(described) == expected


def test_saving_text_says_saved_or_cost_more():
    assert fmt.saving_text(Decimal("0.25"), Decimal("1.00")) == "saved $0.7500 (75%)"
    assert fmt.saving_text(Decimal("2"), Decimal("1")) == "cost $1.0000 more (100%)"
    assert fmt.saving_text(None, Decimal("1")) == ""


def test_durations_switch_to_seconds():
    assert fmt.ms(None) == "—"
    assert fmt.ms(234.4) == "234 ms"
    assert fmt.ms(2340) == "2.34 s"


def test_attempts_frame_explains_each_failure():
    attempts = (
        Attempt("azure", "gpt-4o-mini", "error", 12.0, error_type="rate_limited", error_message="429 throttled", retryable=True),
        Attempt("bedrock", "anthropic.claude-3-haiku", "ok", 80.0, 30.0, Usage(10, 20), Decimal("0.00001")),
    )
    frame = fmt.attempts_frame(attempts)
    assert list(frame["provider"]) == ["azure", "bedrock"]
    assert frame.loc[0, "why"] == "429 throttled" and frame.loc[0, "retryable"] == "yes"
    assert frame.loc[1, "cost"] == "$0.000010" and frame.loc[1, "tokens"] == "10/20"


def test_lifecycle_warnings_name_retired_legacy_and_unpriced_models():
    status = [
        {"provider": "azure", "model": "gpt-4o-mini", "price_status": "active"},
        {"provider": "azure", "model": "gpt-35-turbo", "price_status": "retired"},
        {"provider": "bedrock", "model": "claude-2", "price_status": "legacy"},
        {"provider": "bedrock", "model": "mystery", "price_status": None},
    ]
    warnings = fmt.lifecycle_warnings(status)
    assert len(warnings) == 3
    assert "azure/gpt-35-turbo is retired" in warnings[0]
    assert "unpriced" in warnings[2]


def test_prices_frame_shows_provenance():
    row = Price(
        "azure",
        "gpt-4o",
        Decimal("2.5"),
        Decimal("10"),
        source="https://example.invalid/p",
        verified_at=date(2025, 1, 2),
        status="legacy",
    )
    frame = fmt.prices_frame([row], {("azure", "gpt-4o")})
    assert frame.loc[0, "verified"] == "2025-01-02" and frame.loc[0, "status"] == "legacy"
    assert bool(frame.loc[0, "in use"])
    assert frame.loc[0, "output $/1M"] == 10.0


class Scripted:
    """A stream that yields fixed chunks, then finishes with a result or raises."""

    def __init__(self, chunks, result=None, error=None):
        self.chunks, self.result, self._error = chunks, None, error
        self._final = result

    def __iter__(self):
        for c in self.chunks:
            time.sleep(0.001)
            yield c
        if self._error:
            raise self._error
        self.result = self._final


def test_side_by_side_collects_each_stream_and_its_own_failure():
    err = StreamInterrupted("cut", partial_text="Hel", provider="azure")
    live = SideBySide([Scripted(["Hel"], error=err), Scripted(["Good ", "day"], result="done")], poll_s=0.01)
    updated = list(live.updates())
    assert set(updated) == {0, 1}
    assert live.texts == ["Hel", "Good day"]
    assert live.outcomes[0] is err and live.outcomes[1] == "done"


def test_side_by_side_reports_a_failure_before_any_text():
    live = SideBySide([Scripted([], error=RateLimited("429", provider="bedrock"))], poll_s=0.01)
    list(live.updates())
    assert isinstance(live.outcomes[0], RateLimited) and live.texts == [""]


def test_chaos_presets_are_derived_from_the_emulated_providers_and_stack():
    with start_emulators(profile="zero") as emu:
        named = chaos.targets(emu, ["azure", "bedrock"])
        assert named == {"azure": "Azure OpenAI", "bedrock": "AWS Bedrock"}
        available = chaos.presets(named)
        assert chaos.apply_preset(emu, available["Azure OpenAI throttled 100%"]) == ["azure"]
        chaos.apply_preset(emu, available["AWS Bedrock 503 30%"])
        faults = chaos.current_faults(emu, named)
        assert faults["Azure OpenAI"]["status"] == 429 and faults["Azure OpenAI"]["error_rate"] == 1.0
        assert faults["AWS Bedrock"]["status"] == 503  # presets on different providers stack
        chaos.apply_preset(emu, available[chaos.CLEAR])
        assert chaos.current_faults(emu, named) == {"Azure OpenAI": {}, "AWS Bedrock": {}}


def test_chaos_offers_nothing_for_a_provider_that_is_not_emulated():
    with start_emulators(profile="zero", providers=("bedrock",)) as emu:
        named = chaos.targets(emu, ["azure", "bedrock"])
    assert named == {"bedrock": "AWS Bedrock"}
    assert not any(name.startswith("Azure") for name in chaos.presets(named))


def test_every_chaos_preset_is_accepted_by_the_emulators():
    with start_emulators(profile="zero") as emu:
        for preset in chaos.presets(chaos.targets(emu, ["azure", "bedrock"])).values():
            chaos.apply_preset(emu, preset)


def test_chaos_is_a_no_op_when_nothing_is_emulated():
    assert chaos.targets(None, ["azure", "bedrock"]) == {}
    assert chaos.apply_preset(None, chaos.Preset("x", "", {"azure": {"status": 429}})) == []


def test_launch_binds_to_localhost_without_usage_stats_by_default():
    args = launch.streamlit_args()
    assert args[:2] == ["run", str(ROOT / "console" / "app.py")]
    assert "--server.address=localhost" in args and "--server.port=8501" in args
    assert "--browser.gatherUsageStats=false" in args and "--client.showErrorDetails=none" in args
    assert "--server.port=9000" in launch.streamlit_args(["--port", "9000"])


def test_launch_carries_every_client_and_theme_option_of_the_config_file():
    """An installed console may start where .streamlit/config.toml is not found, so the
    launcher must repeat what keeps the Deploy button hidden and the theme the console's own."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    args = launch.streamlit_args()
    for section in ("client", "theme"):
        for key, value in config[section].items():
            assert f"--{section}.{key}={value}" in args, (section, key)
    assert config["client"]["toolbarMode"] in ("minimal", "viewer")  # no developer menu, no Deploy
    assert config["theme"]["primaryColor"].lower() not in ("#ff4b4b", "#ff0000")  # not Streamlit's red


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_launch_serves_the_console(console_env):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", f"import sys; from console.launch import main; sys.exit(main(['--port', '{port}']))"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the console did not start (exit code {proc.poll()})")
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    "value, shown",
    [
        (28.1234, "$28.12"),
        (0.5, "$0.50"),
        (0.00142, "$0.00142"),
        (1345.2, "$1.3k"),
        (23456, "$23k"),
        (0, "$0"),
        (None, "unpriced"),
    ],
)
def test_headline_money_stays_short_enough_for_a_tile(value, shown):
    from console.format import usd_short

    assert usd_short(value) == shown
    assert len(shown) <= 8


@pytest.mark.parametrize(
    "faults, sentence",
    [
        ({"error_rate": 1.0, "status": 429}, "HTTP 429 on 100% of calls"),
        ({"status": 400, "code": "content_filter"}, "HTTP 400 content_filter on 100% of calls"),
        ({"error_rate": 0.3, "status": 503, "extra_latency_ms": 2000}, "HTTP 503 on 30% of calls; +2000 ms on every call"),
        ({"cut_stream_after": 3}, "streams cut after 3 chunks on 100% of calls"),
    ],
)
def test_chaos_panel_describes_faults_in_words(faults, sentence):
    from console.chaos import describe

    assert describe(faults) == sentence


def test_request_label_treats_nan_fields_as_missing():
    nan = float("nan")
    row = {"ts": "2026-01-02 03:04:05", "provider": nan, "model": nan, "status": "error", "error_type": nan, "user": nan}
    row |= {"task": "chat", "attempts": nan, "cost_usd": nan, "latency_ms": nan}
    assert fmt.request_label(row) == "2026-01-02 03:04:05 · not sent · error (?) · — · — · anonymous / chat"
    assert fmt.present(nan) is None and fmt.present("azure") == "azure" and fmt.present(0) == 0
