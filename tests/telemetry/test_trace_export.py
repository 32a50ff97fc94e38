"""Spans as a collector receives them: the tree of a request that fell back, its attributes, and
trace context carried in from a caller and on to the providers."""

from __future__ import annotations

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.sdk.trace import TracerProvider
from otlp_receiver import attributes
from telemetry_shapes import (
    AZURE_MODEL,
    AZURE_OTEL,
    BEDROCK_MODEL,
    BEDROCK_OTEL,
    COST,
    COUNTERFACTUAL,
    drive_fallback,
)

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _exported(receiver, tel) -> dict:
    tel.force_flush()
    spans = receiver.spans()
    request = [s for s in spans if s.kind != Span.SPAN_KIND_CLIENT]
    attempts = [s for s in spans if s.kind == Span.SPAN_KIND_CLIENT]
    assert len(request) == 1, f"expected one request span, got {[s.name for s in spans]}"
    return {"request": request[0], "attempts": sorted(attempts, key=lambda s: s.start_time_unix_nano)}


def test_fallback_request_exports_one_request_span_with_two_attempt_children(receiver, telemetry_for):
    tel = telemetry_for()
    drive_fallback(tel)
    got = _exported(receiver, tel)
    request, attempts = got["request"], got["attempts"]

    assert request.name == "chat" and request.kind == Span.SPAN_KIND_INTERNAL
    assert [a.name for a in attempts] == [f"chat {AZURE_MODEL}", f"chat {BEDROCK_MODEL}"]
    for a in attempts:
        assert a.trace_id == request.trace_id and a.parent_span_id == request.span_id
    first, second = attempts
    assert first.status.code == Status.STATUS_CODE_ERROR
    assert attributes(first.attributes)["error.type"] == "rate_limited"
    assert second.status.code != Status.STATUS_CODE_ERROR and "error.type" not in attributes(second.attributes)
    assert request.status.code != Status.STATUS_CODE_ERROR
    assert receiver.resources()[0]["service.name"] == "gateway-under-test"


def test_attempt_spans_carry_the_genai_attributes_of_each_call(receiver, telemetry_for):
    tel = telemetry_for()
    drive_fallback(tel)
    first, second = (attributes(a.attributes) for a in _exported(receiver, tel)["attempts"])

    assert first["gen_ai.provider.name"] == first["gen_ai.system"] == AZURE_OTEL
    assert first["gen_ai.request.model"] == AZURE_MODEL and first["server.address"] == "azure.test"
    assert "gen_ai.usage.input_tokens" not in first
    assert second == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": BEDROCK_OTEL,
        "gen_ai.system": BEDROCK_OTEL,
        "gen_ai.request.model": BEDROCK_MODEL,
        "server.address": "bedrock-runtime.test",
        "server.port": 443,
        "gen_ai.usage.input_tokens": 96,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.response.model": "claude-3-haiku-20240307",
        "gen_ai.response.id": "msg_planted_01",
        "gen_ai.response.finish_reasons": ["end_turn"],
    }


def test_request_span_carries_the_answer_and_the_gateway_attributes(receiver, telemetry_for):
    tel = telemetry_for()
    drive_fallback(tel)
    attrs = attributes(_exported(receiver, tel)["request"].attributes)

    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.max_tokens"] == 64 and attrs["gen_ai.request.temperature"] == pytest.approx(0.2)
    assert attrs["gen_ai.provider.name"] == BEDROCK_OTEL and attrs["gen_ai.response.model"] == "claude-3-haiku-20240307"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (96, 7)
    assert attrs["gen_ai.response.finish_reasons"] == ["end_turn"] and attrs["gen_ai.response.id"] == "msg_planted_01"
    gateway = {k: v for k, v in attrs.items() if k.startswith("gateway.")}
    assert gateway == {
        "gateway.task": "chat",
        "gateway.priority": "low_cost",
        "gateway.team": "research",
        "gateway.key_name": "ci-key",
        "gateway.route_reason": "low_cost: cheapest",
        "gateway.cost_usd": pytest.approx(float(COST)),
        "gateway.counterfactual_cost_usd": pytest.approx(float(COUNTERFACTUAL)),
        "gateway.fallback": True,
        "gateway.policy.decision": "allow",
    }


def test_a_failed_request_ends_its_span_with_the_error_type(receiver, telemetry_for):
    from telemetry_shapes import FAILED

    from gateway_core.errors import AllProvidersFailed

    tel = telemetry_for()
    trace = tel.start_request("chat", AZURE_MODEL, parent_headers={})
    trace.attempt(AZURE_OTEL, AZURE_MODEL).end(FAILED)
    trace.end(AllProvidersFailed((FAILED,)), {"task": "chat"})
    request = _exported(receiver, tel)["request"]

    assert request.name == f"chat {AZURE_MODEL}" and request.kind == Span.SPAN_KIND_SERVER
    assert request.status.code == Status.STATUS_CODE_ERROR
    attrs = attributes(request.attributes)
    assert attrs["error.type"] == "all_providers_failed" and "gateway.cost_usd" not in attrs
    metrics = receiver.metrics()  # a failure with nowhere left to go is not a fallback, and costs nothing
    assert "gateway.fallbacks" not in metrics and "gateway.cost" not in metrics
    assert "gen_ai.client.operation.duration" in metrics


def test_incoming_traceparent_is_continued_and_passed_on_to_each_provider_call(receiver, telemetry_for):
    tel = telemetry_for()
    injected: list = []
    headers = {"Traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "content-type": "application/json"}
    trace = drive_fallback(tel, parent_headers=headers, injected=injected)
    got = _exported(receiver, tel)
    request, attempts = got["request"], got["attempts"]

    assert request.kind == Span.SPAN_KIND_SERVER
    assert request.trace_id.hex() == CALLER_TRACE == trace.trace_id
    assert request.parent_span_id.hex() == CALLER_SPAN
    assert [h["traceparent"] for h in injected] == [f"00-{CALLER_TRACE}-{a.span_id.hex()}-01" for a in attempts]


def test_unsampled_caller_is_honoured_nothing_recorded_and_the_flag_passed_on(receiver, telemetry_for):
    tel = telemetry_for(OTEL_METRICS_EXPORTER="none")
    injected: list = []
    drive_fallback(tel, parent_headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"}, injected=injected)
    tel.force_flush()

    assert receiver.spans() == []
    assert injected[0]["traceparent"].startswith(f"00-{CALLER_TRACE}-") and injected[0]["traceparent"].endswith("-00")


def test_malformed_traceparent_starts_a_new_trace(receiver, telemetry_for):
    tel = telemetry_for()
    drive_fallback(tel, parent_headers={"traceparent": "00-not-a-trace-01"})
    request = _exported(receiver, tel)["request"]

    assert request.kind == Span.SPAN_KIND_SERVER and request.parent_span_id == b""
    assert request.trace_id != bytes(16)


def test_python_api_request_nests_under_the_callers_current_span(receiver, telemetry_for):
    tel = telemetry_for()
    app_tracer = TracerProvider().get_tracer("the-calling-app")
    with app_tracer.start_as_current_span("handle-order") as app_span:
        drive_fallback(tel)
    request = _exported(receiver, tel)["request"]

    assert request.kind == Span.SPAN_KIND_INTERNAL
    assert request.trace_id == app_span.get_span_context().trace_id.to_bytes(16, "big")
    assert request.parent_span_id == app_span.get_span_context().span_id.to_bytes(8, "big")


def test_collector_headers_are_sent_but_never_described(receiver, telemetry_for):
    tel = telemetry_for(OTEL_EXPORTER_OTLP_HEADERS="x-collector-token=tok%20Planted-Header-9920")
    drive_fallback(tel)
    tel.force_flush()

    assert receiver.received and all(r.headers.get("x-collector-token") == "tok Planted-Header-9920" for r in receiver.received)
    described = tel.describe()
    assert described["endpoint"] == receiver.url and described["enabled"] is True
    assert "Planted-Header-9920" not in repr(described) and "Planted-Header-9920" not in repr(tel.config)


def test_tracestate_from_the_caller_travels_on_to_the_providers(receiver, telemetry_for):
    tel = telemetry_for()
    injected: list = []
    drive_fallback(
        tel,
        parent_headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "tracestate": "vendor=opaque-42"},
        injected=injected,
    )
    request = _exported(receiver, tel)["request"]

    assert all(h["tracestate"] == "vendor=opaque-42" for h in injected)
    assert request.trace_state == "vendor=opaque-42"


def test_an_attempt_left_open_is_closed_with_the_request_as_an_unknown_error(receiver, telemetry_for):
    from telemetry_shapes import RESULT

    tel = telemetry_for()
    trace = tel.start_request("chat", None)
    trace.attempt(AZURE_OTEL, AZURE_MODEL)  # never ended: the caller moved on
    trace.end(RESULT)
    (attempt,) = _exported(receiver, tel)["attempts"]

    assert attempt.status.code == Status.STATUS_CODE_ERROR and attributes(attempt.attributes)["error.type"] == "_OTHER"
    assert attempt.end_time_unix_nano > attempt.start_time_unix_nano


def test_an_unknown_gateway_attribute_fails_where_it_is_passed(telemetry_for):
    tel = telemetry_for()
    with pytest.raises(ValueError, match="prompt_text"):
        tel.start_request("chat", gateway_attrs={"team": "ml", "prompt_text": "hello"})
    trace = tel.start_request("chat")
    with pytest.raises(ValueError, match="user_email"):
        trace.end(RuntimeError("x"), {"user_email": "a@b.c"})


def test_records_beyond_the_pending_limit_are_dropped_and_counted(receiver, telemetry_for, monkeypatch):
    from gateway_core.telemetry import sdk

    tel = telemetry_for()
    monkeypatch.setattr(sdk, "MAX_PENDING", 0)  # as if the worker had fallen hopelessly behind
    for _ in range(3):
        drive_fallback(tel)
    tel.force_flush()

    assert receiver.spans() == [] and tel.describe()["dropped_requests"] == 3
