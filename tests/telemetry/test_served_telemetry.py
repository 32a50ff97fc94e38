"""Telemetry through ``gateway serve``, as an operator runs it: OTEL_* set, a collector listening.

One server (two worker processes, each building its own telemetry after the fork) is
shared by the module. Its providers are this test's loopback emulators, reached as real
endpoints with planted credentials, so faults go in through the emulators' HTTP fault
route and each emulator reports the ``traceparent`` its calls carried. Every request
carries a ``traceparent`` of the test's own, which both continues the trace and lets each
test find its spans among everything the server exports. Then: a server with telemetry
disabled exports nothing at all.
"""

from __future__ import annotations

import secrets

import httpx
import pytest
from gateway_fixtures import HAIKU, demo_env
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from otlp_receiver import OtlpReceiver, attributes
from served_gateway import ServedGateway, wait_for
from telemetry_shapes import PLANTED_EMAIL, PLANTED_KEY, PLANTED_PROMPT

from gateway_core.emulators import start_emulators

AZURE_OTEL, BEDROCK_OTEL = "azure.ai.openai", "aws.bedrock"
BEARER = "gw-Bearer-Planted-Falcon-5521"
AWS_SECRET = "aws-Secret-Planted-Heron-7734"
COLLECTOR_TOKEN = "Collector-Token-Planted-Ibis-1188"
PLANTED_USER = "user-Planted-Okapi-6402"


@pytest.fixture(scope="module")
def receiver():
    with OtlpReceiver() as rx:
        yield rx


@pytest.fixture(scope="module")
def emulators():
    with start_emulators(profile="zero", azure_api_key=PLANTED_KEY) as emus:
        yield emus


@pytest.fixture(scope="module")
def served(receiver, emulators, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served-telemetry")
    env = demo_env(
        tmp / "usage.sqlite",
        GATEWAY_MODE="auto",  # live adapters, pointed at this test's emulators
        GATEWAY_API_KEYS=BEARER,
        GATEWAY_SDK_MAX_ATTEMPTS="1",
        AZURE_OPENAI_ENDPOINT=emulators.azure.url,
        AZURE_OPENAI_API_KEY=PLANTED_KEY,
        AWS_ACCESS_KEY_ID="AKIDPLANTEDEXAMPLE",
        AWS_SECRET_ACCESS_KEY=AWS_SECRET,
        BEDROCK_ENDPOINT_URL=emulators.bedrock.url,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS=f"x-collector-token={COLLECTOR_TOKEN}",
        OTEL_SERVICE_NAME="gateway-served",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_METRIC_EXPORT_INTERVAL="300",
    )
    with ServedGateway(env, tmp, workers=2) as gw:
        yield gw
    assert gw.proc.returncode == 0, gw.output[-3000:]
    assert "Traceback" not in gw.output, gw.output[-3000:]


def _caller() -> tuple[str, str, str]:
    """A fresh caller context: (trace id, span id, traceparent header)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _post(served, path: str, body: dict, traceparent: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {BEARER}", "traceparent": traceparent}
    response = httpx.post(served.url + path, json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response


def _trace(receiver, trace_id: str, spans: int) -> list:
    """The spans of one trace, once ``spans`` of them have arrived (request first, then attempts by start)."""

    def arrived():
        found = [s for s in receiver.spans() if s.trace_id.hex() == trace_id]
        return found if len(found) >= spans else None

    found = wait_for(arrived, what=f"{spans} spans of trace {trace_id}")
    return sorted(found, key=lambda s: (s.kind == Span.SPAN_KIND_CLIENT, s.start_time_unix_nano))


@pytest.mark.parametrize(
    "path,body",
    [
        ("/generate", {"prompt": "Say hello.", "provider_hint": "bedrock", "fallback": False}),
        (
            "/v1/chat/completions",
            {"model": HAIKU, "messages": [{"role": "user", "content": "Say hello."}], "stream": True},
        ),
    ],
    ids=["generate", "chat-stream"],
)
def test_an_incoming_traceparent_continues_as_a_server_span_and_travels_on(served, receiver, emulators, path, body):
    trace_id, caller_span, header = _caller()
    _post(served, path, body, header)
    request, attempt = _trace(receiver, trace_id, 2)

    assert request.kind == Span.SPAN_KIND_SERVER and request.parent_span_id.hex() == caller_span
    assert attempt.kind == Span.SPAN_KIND_CLIENT and attempt.parent_span_id == request.span_id
    assert attributes(attempt.attributes)["gen_ai.provider.name"] == BEDROCK_OTEL
    onward = [c["traceparent"] for c in emulators.bedrock.trace_context() if trace_id in c["traceparent"]]
    assert onward == [f"00-{trace_id}-{attempt.span_id.hex()}-01"]


def test_a_request_that_fell_back_exports_the_span_tree_with_the_failure_on_the_first_attempt(served, receiver, emulators):
    trace_id, _, header = _caller()
    assert httpx.post(emulators.azure.url + "/_emulator/faults", json={"status": 503}).status_code == 200
    try:
        answer = _post(served, "/generate", {"prompt": "Name a river.", "provider_hint": "azure"}, header).json()
    finally:
        httpx.delete(emulators.azure.url + "/_emulator/faults")
    request, failed, answered = _trace(receiver, trace_id, 3)

    assert answer["fallback_used"] is True
    assert failed.parent_span_id == answered.parent_span_id == request.span_id
    first, second = attributes(failed.attributes), attributes(answered.attributes)
    assert (first["gen_ai.provider.name"], second["gen_ai.provider.name"]) == (AZURE_OTEL, BEDROCK_OTEL)
    assert failed.status.code == Status.STATUS_CODE_ERROR and first["error.type"] == "unavailable"
    assert "error.type" not in second and second["gen_ai.usage.output_tokens"] == answer["usage"]["output_tokens"]
    attrs = attributes(request.attributes)
    assert attrs["gateway.fallback"] is True and attrs["gateway.route_reason"] == answer["route_reason"]
    assert attrs["gateway.key_name"] == "static-1", "the bearer key is named by position, never by its value"
    assert attrs["gateway.cost_usd"] == pytest.approx(float(answer["cost_usd"]))
    azure_calls = [c for c in emulators.azure.trace_context() if trace_id in c["traceparent"]]
    assert [c["traceparent"].split("-")[2] for c in azure_calls] == [failed.span_id.hex()]


def _sum_points(metric) -> list:
    return list(getattr(metric, metric.WhichOneof("data")).data_points)


def test_metric_points_arrive_for_tokens_duration_cost_and_fallbacks(served, receiver, emulators):
    _, _, header = _caller()
    httpx.post(emulators.azure.url + "/_emulator/faults", json={"status": 503})
    try:
        _post(served, "/generate", {"prompt": "Count to three.", "provider_hint": "azure"}, header)
    finally:
        httpx.delete(emulators.azure.url + "/_emulator/faults")

    def fallbacks_counted():
        # Each worker process exports its own totals under its own service.instance.id.
        for metrics in receiver.metrics_by_instance().values():
            fell = metrics.get("gateway.fallbacks")
            if fell and any(p.as_int >= 1 for p in _sum_points(fell)):
                return metrics
        return None

    metrics = wait_for(fallbacks_counted, what="gateway.fallbacks point")
    fell = [attributes(p.attributes) for p in _sum_points(metrics["gateway.fallbacks"])]
    assert {"gen_ai.provider.name": AZURE_OTEL, "error.type": "unavailable"} in fell
    tokens = {attributes(p.attributes)["gen_ai.token.type"]: p for p in _sum_points(metrics["gen_ai.client.token.usage"])}
    assert set(tokens) == {"input", "output"} and all(p.count >= 1 and p.sum > 0 for p in tokens.values())
    durations = _sum_points(metrics["gen_ai.client.operation.duration"])
    assert any(attributes(p.attributes).get("error.type") == "unavailable" for p in durations)
    assert metrics["gateway.cost"].sum.is_monotonic and sum(p.as_double for p in _sum_points(metrics["gateway.cost"])) > 0
    assert "gateway.breaker.state" in metrics


def test_no_content_and_no_secret_in_any_exported_byte(served, receiver):
    trace_id, _, header = _caller()
    prompt = f"{PLANTED_PROMPT}: write to {PLANTED_EMAIL} quoting {PLANTED_KEY}"
    _post(served, "/generate", {"prompt": prompt, "user": PLANTED_USER, "provider_hint": "bedrock"}, header)
    chat = {"model": HAIKU, "messages": [{"role": "user", "content": prompt}], "user": PLANTED_USER, "stream": True}
    _post(served, "/v1/chat/completions", chat, header)
    _trace(receiver, trace_id, 4)

    planted = (PLANTED_PROMPT, PLANTED_EMAIL, PLANTED_KEY, PLANTED_USER, BEARER, AWS_SECRET, COLLECTOR_TOKEN)
    received = receiver.received
    assert received and all(r.headers.get("x-collector-token") == COLLECTOR_TOKEN for r in received)
    for item in received:
        for text in planted:
            needle = text.encode()
            assert needle not in item.body and needle not in item.raw, f"{text} left the gateway in {item.path}"


@pytest.mark.parametrize(
    "switch", [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}]
)
def test_a_served_gateway_with_telemetry_disabled_exports_nothing(tmp_path, switch):
    with OtlpReceiver() as quiet:
        env = demo_env(
            tmp_path / "quiet.sqlite", OTEL_EXPORTER_OTLP_ENDPOINT=quiet.url, OTEL_METRIC_EXPORT_INTERVAL="100", **switch
        )
        with ServedGateway(env, tmp_path) as gw:
            for i in range(3):
                r = httpx.post(gw.url + "/generate", json={"prompt": f"Hello {i}"}, headers={"traceparent": _caller()[2]})
                assert r.status_code == 200
        assert gw.proc.returncode == 0, gw.output[-2000:]
        assert quiet.received == [] and quiet.rejected == 0
