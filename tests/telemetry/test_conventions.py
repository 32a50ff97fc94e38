"""The GenAI conventions as plain values: span names, attribute sets, gauge points, content shapes,
and the traceparent the gateway writes, checked against the SDK's own W3C parser."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from opentelemetry.trace import get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway_core.errors import ContentFiltered, RateLimited
from gateway_core.telemetry import conventions as c
from gateway_core.telemetry.wire import (
    carrier,
    parent_from_headers,
    parse_traceparent,
    traceparent,
)
from gateway_core.types import ChatMessage, Usage


@pytest.mark.parametrize(
    "operation,model,name",
    [
        ("chat", "gpt-4o-mini", "chat gpt-4o-mini"),
        ("chat", None, "chat"),
        ("chat", "", "chat"),
        ("text_completion", "anthropic.claude-3-haiku-20240307-v1:0", "text_completion anthropic.claude-3-haiku-20240307-v1:0"),
    ],
)
def test_span_name_is_operation_then_model_when_known(operation, model, name):
    assert c.span_name(operation, model) == name


@pytest.mark.parametrize(
    "values,expected",
    [
        (None, {}),
        ({"team": "ml", "key_name": None}, {"gateway.team": "ml"}),
        ({"cost_usd": Decimal("0.0125"), "fallback": False}, {"gateway.cost_usd": 0.0125, "gateway.fallback": False}),
        ({"policy.decision": "prefer"}, {"gateway.policy.decision": "prefer"}),
    ],
)
def test_gateway_attributes_are_prefixed_and_plain(values, expected):
    assert c.gateway_attributes(values) == expected


def test_an_unknown_gateway_attribute_is_refused_so_content_cannot_ride_along():
    with pytest.raises(ValueError, match="prompt"):
        c.gateway_attributes({"team": "ml", "prompt": "hello"})


@pytest.mark.parametrize(
    "args,expected",
    [
        (("chat", None, None, None), {"gen_ai.operation.name": "chat"}),
        (
            ("chat", "gpt-4o", 256, 0),
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.request.max_tokens": 256,
                "gen_ai.request.temperature": 0.0,
            },
        ),
    ],
)
def test_request_attributes_leave_out_what_was_not_asked(args, expected):
    assert c.request_attributes(*args) == expected


@pytest.mark.parametrize(
    "address,port,expected",
    [
        (None, 443, {}),
        ("api.test", None, {"server.address": "api.test"}),
        ("api.test", 8443, {"server.address": "api.test", "server.port": 8443}),
    ],
)
def test_server_attributes(address, port, expected):
    assert c.server_attributes(address, port) == expected


def test_response_and_usage_attributes():
    assert c.response_attributes("gpt-4o-2024-08-06", "chatcmpl-1", "length") == {
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ("length",),
    }
    assert c.response_attributes(None, None, None) == {}
    assert c.usage_attributes(Usage(10, 3)) == {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 3}
    assert c.usage_attributes(None) == {}


@pytest.mark.parametrize(
    "error,name",
    [
        (RateLimited("slow down"), "rate_limited"),
        (ContentFiltered("no"), "content_filtered"),
        (TimeoutError("t"), "TimeoutError"),
    ],
)
def test_error_type_is_the_gateways_low_cardinality_name(error, name):
    assert c.error_type(error) == name


def test_breaker_points_map_states_to_ordered_values_and_skip_unknown_ones():
    rows = [
        ("aws.bedrock", "m1", "closed"),
        ("aws.bedrock", "m2", "half_open"),
        ("openai", "m3", "open"),
        ("openai", "m4", "melted"),
    ]
    assert [v for v, _ in c.breaker_points(rows)] == [0, 1, 2]
    assert c.breaker_points(rows)[2][1] == {"gen_ai.provider.name": "openai", "gen_ai.request.model": "m3"}


def test_budget_points_are_floats_labelled_under_gateway():
    assert c.budget_points([(Decimal("2.5"), {"team": "ml"}), (None, {"team": "x"})]) == [(2.5, {"gateway.team": "ml"})]


def test_content_attributes_follow_the_message_shapes_and_mask_every_text():
    messages = (
        ChatMessage("system", "rules"),
        ChatMessage("user", "hi"),
        ChatMessage("assistant", "yo"),
        ChatMessage("user", "again"),
    )
    attrs = c.content_attributes(messages, "answer", None, str.upper)

    assert json.loads(attrs[c.SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "RULES"}]
    assert json.loads(attrs[c.INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "HI"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "YO"}]},
        {"role": "user", "parts": [{"type": "text", "content": "AGAIN"}]},
    ]
    assert json.loads(attrs[c.OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "ANSWER"}], "finish_reason": "stop"}
    ]
    assert c.OUTPUT_MESSAGES not in c.content_attributes(messages, None, None, str.upper)


@pytest.mark.parametrize(
    "trace_id,span_id,sampled",
    [
        (0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, True),
        (1, 1, False),
        ((1 << 128) - 1, (1 << 64) - 1, True),
    ],
)
def test_written_traceparent_is_read_back_by_the_standard_propagator(trace_id, span_id, sampled):
    header = traceparent(trace_id, span_id, sampled)
    ctx = get_current_span(TraceContextTextMapPropagator().extract({"traceparent": header})).get_span_context()

    assert len(header) == 55
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled, ctx.is_remote) == (trace_id, span_id, sampled, True)


@pytest.mark.parametrize(
    "headers,expected",
    [
        ({"traceparent": "a", "tracestate": "b"}, {"traceparent": "a", "tracestate": "b"}),
        ({"Traceparent": "a", "TraceState": "b", "Host": "x"}, {"traceparent": "a", "tracestate": "b"}),
        ({"host": "x"}, {}),
    ],
)
def test_carrier_finds_trace_headers_whatever_their_case(headers, expected):
    assert carrier(headers) == expected


TID, SID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.mark.parametrize(
    "header",
    [
        f"00-{TID}-{SID}-01",
        f"00-{TID}-{SID}-00",
        f"00-{TID}-{SID}-03",
        f"  00-{TID}-{SID}-01\t",
        f"01-{TID}-{SID}-01-future-field",
        f"01-{TID}-{SID}-01",
        f"00-{TID.upper()}-{SID}-01",
        f"ff-{TID}-{SID}-01",
        f"00-{TID}-{SID}-01-extra",
        f"00-{'0' * 32}-{SID}-01",
        f"00-{TID}-{'0' * 16}-01",
        f"00-{TID[:-1]}-{SID}-01",
        f"00-{TID}-{SID}-1",
        f"00-{TID}-{SID}-zz",
        f"00_{TID}_{SID}_01",
        f"01-{TID}-{SID}-01-" + "x" * 600,
        "",
    ],
    ids=lambda h: h[:24] + ("..." if len(h) > 24 else ""),
)
def test_traceparent_reading_agrees_with_the_standard_propagator(header):
    ctx = get_current_span(TraceContextTextMapPropagator().extract({"traceparent": header})).get_span_context()
    expected = (ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled) if ctx.is_valid else None
    assert parse_traceparent(header) == expected


def test_parent_from_headers_keeps_a_valid_tracestate_and_drops_a_broken_one():
    ok = parent_from_headers({"traceparent": f"00-{TID}-{SID}-01", "tracestate": "vendor=abc, other=1"})
    assert (f"{ok.trace_id:032x}", f"{ok.span_id:016x}", ok.sampled, ok.tracestate) == (TID, SID, True, "vendor=abc, other=1")
    assert parent_from_headers({"traceparent": f"00-{TID}-{SID}-01", "tracestate": "bad\nvalue"}).tracestate is None
    assert parent_from_headers({"tracestate": "vendor=abc"}) is None
    assert parent_from_headers({"traceparent": ["not", "a", "string"]}) is None
