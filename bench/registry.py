"""The benchmarks, in the order ``python -m bench`` runs them. Adding one is a module plus a line here."""

from __future__ import annotations

from . import (
    b1_overhead,
    b2_compare,
    b3_stream_ttft,
    b4_usage_log,
    b5_analytics,
    b6_rest_api,
    b7_console_start,
    b8_governance,
    b9_policy,
    b10_telemetry,
    b11_replay,
)

BENCHMARKS = (
    b1_overhead,
    b2_compare,
    b3_stream_ttft,
    b4_usage_log,
    b5_analytics,
    b6_rest_api,
    b7_console_start,
    b8_governance,
    b9_policy,
    b10_telemetry,
    b11_replay,
)
