"""Metric points as a collector receives them: the conventions' histograms and buckets, the gateway's
cost and fallback counters, and the gauges read from callbacks the gateway registers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from otlp_receiver import attributes
from telemetry_shapes import (
    AZURE_MODEL,
    AZURE_OTEL,
    BEDROCK_MODEL,
    BEDROCK_OTEL,
    COST,
    drive_fallback,
)

from gateway_core.telemetry.conventions import DURATION_BUCKETS, TOKEN_BUCKETS


def _points(metric) -> list:
    data = metric.WhichOneof("data")
    return list(getattr(metric, data).data_points)


def _by(points, key: str) -> dict:
    return {attributes(p.attributes).get(key): p for p in points}


def _bucket_of(point, value: float) -> int:
    """Index of the bucket ``value`` falls in: upper bounds are inclusive, as OTLP defines them."""
    idx = next((i for i, bound in enumerate(point.explicit_bounds) if value <= bound), len(point.explicit_bounds))
    assert point.bucket_counts[idx] == 1, f"{value} not counted in bucket {idx}: {list(point.bucket_counts)}"
    return idx


@pytest.fixture
def exported(receiver, telemetry_for):
    tel = telemetry_for()
    drive_fallback(tel)
    tel.force_flush()
    return receiver.metrics()


def test_token_usage_histogram_uses_the_conventions_buckets_per_token_type(exported):
    metric = exported["gen_ai.client.token.usage"]
    points = _by(_points(metric), "gen_ai.token.type")

    assert metric.unit == "{token}" and set(points) == {"input", "output"}
    for token_type, value in (("input", 96), ("output", 7)):
        point = points[token_type]
        assert tuple(point.explicit_bounds) == TOKEN_BUCKETS
        assert (point.count, point.sum) == (1, value)
        _bucket_of(point, value)
        attrs = attributes(point.attributes)
        assert attrs["gen_ai.provider.name"] == BEDROCK_OTEL and attrs["gen_ai.request.model"] == BEDROCK_MODEL
        assert attrs["gen_ai.response.model"] == "claude-3-haiku-20240307" and attrs["gen_ai.operation.name"] == "chat"


def test_operation_duration_records_each_provider_call_with_its_outcome(exported):
    metric = exported["gen_ai.client.operation.duration"]
    points = _by(_points(metric), "gen_ai.provider.name")

    assert metric.unit == "s" and set(points) == {AZURE_OTEL, BEDROCK_OTEL}
    failed, answered = points[AZURE_OTEL], points[BEDROCK_OTEL]
    assert tuple(failed.explicit_bounds) == DURATION_BUCKETS
    assert failed.sum == pytest.approx(0.012) and answered.sum == pytest.approx(0.030)
    assert _bucket_of(failed, 0.012) == 1 and _bucket_of(answered, 0.030) == 2
    assert attributes(failed.attributes)["error.type"] == "rate_limited"
    assert attributes(failed.attributes)["gen_ai.request.model"] == AZURE_MODEL
    assert "error.type" not in attributes(answered.attributes)


def test_time_to_first_chunk_is_recorded_for_streamed_calls_that_produced_one(exported):
    points = _points(exported["gen_ai.client.operation.time_to_first_chunk"])

    assert len(points) == 1  # the failed call never produced a chunk
    assert attributes(points[0].attributes)["gen_ai.provider.name"] == BEDROCK_OTEL
    assert points[0].sum == pytest.approx(0.015) and tuple(points[0].explicit_bounds) == DURATION_BUCKETS


def test_cost_counter_adds_the_billed_dollars_by_provider_team_and_task(exported):
    metric = exported["gateway.cost"]
    (point,) = _points(metric)

    assert metric.unit == "USD" and metric.sum.is_monotonic
    assert point.as_double == pytest.approx(float(COST))
    assert attributes(point.attributes) == {
        "gen_ai.provider.name": BEDROCK_OTEL,
        "gen_ai.request.model": BEDROCK_MODEL,
        "gateway.task": "chat",
        "gateway.team": "research",
    }


def test_fallback_counter_counts_the_hop_away_from_the_failed_provider(exported):
    (point,) = _points(exported["gateway.fallbacks"])

    assert point.as_int == 1
    assert attributes(point.attributes) == {"gen_ai.provider.name": AZURE_OTEL, "error.type": "rate_limited"}


def test_counters_accumulate_across_requests(receiver, telemetry_for):
    tel = telemetry_for()
    for _ in range(3):
        drive_fallback(tel)
    tel.force_flush()
    metrics = receiver.metrics()

    assert _points(metrics["gateway.fallbacks"])[0].as_int == 3
    assert _points(metrics["gateway.cost"])[0].as_double == pytest.approx(3 * float(COST))
    assert _by(_points(metrics["gen_ai.client.token.usage"]), "gen_ai.token.type")["input"].sum == 3 * 96


def test_breaker_and_budget_gauges_report_what_the_callbacks_return(receiver, telemetry_for):
    tel = telemetry_for()
    breakers = [(AZURE_OTEL, AZURE_MODEL, "open"), (BEDROCK_OTEL, BEDROCK_MODEL, "closed")]
    budgets = [(Decimal("12.50"), {"team": "research"}), (Decimal("0"), {"key_name": "ci-key"})]
    tel.register_gauges(breaker_fn=lambda: breakers, budget_fn=lambda: budgets)
    tel.force_flush()
    breakers[1] = (BEDROCK_OTEL, BEDROCK_MODEL, "half_open")  # read again at the next export
    tel.force_flush()
    metrics = receiver.metrics()

    states = {attributes(p.attributes)["gen_ai.provider.name"]: p.as_int for p in _points(metrics["gateway.breaker.state"])}
    assert states == {AZURE_OTEL: 2, BEDROCK_OTEL: 1}
    remaining = {tuple(attributes(p.attributes).items()): p.as_double for p in _points(metrics["gateway.budget.remaining"])}
    assert remaining == {(("gateway.team", "research"),): 12.5, (("gateway.key_name", "ci-key"),): 0.0}


def test_each_telemetry_process_exports_under_its_own_instance_id(receiver, telemetry_for):
    first, second = telemetry_for(), telemetry_for()
    for tel in (first, second):
        drive_fallback(tel)
        tel.force_flush()
    by_instance = receiver.metrics_by_instance()

    assert len(by_instance) == 2 and all(len(name) == 32 for name in by_instance)
    assert all(m["gen_ai.client.token.usage"] for m in by_instance.values())
