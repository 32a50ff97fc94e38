"""Telemetry through the Python API: a demo Gateway exporting to the real OTLP receiver.

Real SDK clients call the loopback emulators, so the spans describe real calls, the
emulators report the ``traceparent`` each call carried, and faults are injected the way an
operator would see them (an Azure 503, a stream abandoned by its reader).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from gateway_fixtures import HAIKU, demo_env
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from otlp_receiver import attributes

from gateway_core import Gateway
from gateway_core.errors import ConfigError, ProviderError
from gateway_core.types import GenerateRequest

AZURE_OTEL, BEDROCK_OTEL = "azure.ai.openai", "aws.bedrock"


@pytest.fixture
def gateway_for(receiver, tmp_path):
    """``gateway_for(**env)``: a demo gateway whose telemetry exports to the receiver; closed after."""
    made = []

    def make(**env):
        base = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "gateway-python-api",
            "GATEWAY_SDK_MAX_ATTEMPTS": "1",  # an injected 503 fails over at once instead of after SDK back-off
        }
        gw = Gateway.from_env(demo_env(tmp_path / f"log{len(made)}.sqlite", **{**base, **env}), dotenv_path=None)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.close()


def _tree(receiver, gw) -> tuple:
    assert gw.telemetry.force_flush(timeout_s=10)
    spans = receiver.spans()
    requests = [s for s in spans if s.kind != Span.SPAN_KIND_CLIENT]
    assert len(requests) == 1, [s.name for s in spans]
    attempts = sorted((s for s in spans if s.kind == Span.SPAN_KIND_CLIENT), key=lambda s: s.start_time_unix_nano)
    return requests[0], attempts


def test_a_fallback_through_the_python_api_exports_an_internal_span_over_two_attempt_spans(receiver, gateway_for):
    gw = gateway_for()
    gw.emulators.azure.set_faults(status=503)
    result = gw.generate(GenerateRequest(prompt="Name one colour.", provider_hint="azure", priority="low_cost"))
    request, attempts = _tree(receiver, gw)

    assert result.fallback_used and request.kind == Span.SPAN_KIND_INTERNAL and request.name == "chat"
    assert [attributes(a.attributes)["gen_ai.provider.name"] for a in attempts] == [AZURE_OTEL, BEDROCK_OTEL]
    assert all(a.parent_span_id == request.span_id and a.trace_id == request.trace_id for a in attempts)
    failed, answered = (attributes(a.attributes) for a in attempts)
    assert attempts[0].status.code == Status.STATUS_CODE_ERROR and failed["error.type"] == "unavailable"
    assert "error.type" not in answered and answered["gen_ai.usage.output_tokens"] == result.usage.output_tokens
    assert answered["server.address"] == "127.0.0.1" and answered["server.port"] == gw.emulators.bedrock.port
    assert failed["server.port"] == gw.emulators.azure.port
    attrs = attributes(request.attributes)
    assert attrs["gateway.fallback"] is True and attrs["gateway.priority"] == "low_cost" and attrs["gateway.task"] == "chat"
    assert attrs["gateway.route_reason"] == result.route_reason
    assert attrs["gateway.cost_usd"] == pytest.approx(float(result.cost_usd))
    assert attrs["gateway.counterfactual_cost_usd"] == pytest.approx(float(result.counterfactual_cost_usd))
    assert attrs["gen_ai.provider.name"] == BEDROCK_OTEL and attrs["gen_ai.request.max_tokens"] > 0


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("provider", ["azure", "bedrock"])
def test_each_provider_call_carries_its_attempt_spans_traceparent(receiver, gateway_for, provider, stream):
    gw = gateway_for()
    request = GenerateRequest(prompt="Say hi.", provider_hint=provider, fallback=False)
    if stream:
        s = gw.stream(request)
        assert "".join(s)
    else:
        gw.generate(request)
    span, (attempt,) = _tree(receiver, gw)

    (seen,) = gw.emulators.get(provider).trace_context()
    version, trace_id, parent_id, flags = seen["traceparent"].split("-")
    assert (version, flags) == ("00", "01")
    assert trace_id == span.trace_id.hex() and parent_id == attempt.span_id.hex()


def test_an_abandoned_stream_still_ends_its_spans_as_cancelled(receiver, gateway_for):
    gw = gateway_for(GATEWAY_EMULATOR_PROFILE="demo")  # paced, so the answer is still streaming
    stream = gw.stream(GenerateRequest(prompt="Write four paragraphs about rivers.", provider_hint="bedrock", max_tokens=400))
    chunks = iter(stream)
    assert next(chunks)
    chunks.close()
    request, (attempt,) = _tree(receiver, gw)

    assert attributes(request.attributes)["error.type"] == "cancelled"
    assert attributes(attempt.attributes)["error.type"] == "cancelled"
    assert request.status.code == attempt.status.code == Status.STATUS_CODE_ERROR


def test_a_request_the_configuration_cannot_serve_leaves_no_span(receiver, gateway_for):
    gw = gateway_for()
    with pytest.raises(Exception, match="configured model"):
        gw.generate(GenerateRequest(prompt="hi", model="not-a-configured-model"))
    assert gw.telemetry.force_flush() and receiver.spans() == []


def test_open_breakers_show_on_the_breaker_gauge(receiver, gateway_for):
    gw = gateway_for()
    gw.emulators.azure.set_faults(status=503)
    for _ in range(5):
        with pytest.raises(ProviderError):
            gw.generate(GenerateRequest(prompt="Ping.", model="gpt-4o-mini", fallback=False))
    assert gw.breaker.state(("azure", "gpt-4o-mini")) == "open"
    assert gw.telemetry.force_flush(timeout_s=10)
    points = receiver.metrics()["gateway.breaker.state"].gauge.data_points
    states = {
        (attributes(p.attributes)["gen_ai.provider.name"], attributes(p.attributes)["gen_ai.request.model"]): p.as_int
        for p in points
    }

    assert states[(AZURE_OTEL, "gpt-4o-mini")] == 2 and states[(BEDROCK_OTEL, HAIKU)] == 0
    assert len(states) == len(gw.candidates())


def test_head_sampling_drops_spans_but_keeps_metrics_and_follows_a_sampled_caller(receiver, gateway_for):
    gw = gateway_for(OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0")
    gw.generate(GenerateRequest(prompt="Unsampled.", provider_hint="bedrock", fallback=False))
    assert gw.telemetry.force_flush(timeout_s=10)
    assert receiver.spans() == [] and "gen_ai.client.token.usage" in receiver.metrics()
    (seen,) = gw.emulators.bedrock.trace_context()
    assert seen["traceparent"].endswith("-00"), "the unsampled decision travels onward"

    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    gw.generate(
        GenerateRequest(prompt="Sampled upstream.", provider_hint="bedrock", fallback=False),
        trace_headers={"traceparent": caller},
    )
    request, _ = _tree(receiver, gw)
    assert request.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736" and request.kind == Span.SPAN_KIND_SERVER


def test_telemetry_is_off_and_exports_nothing_when_the_sdk_is_disabled(receiver, gateway_for):
    gw = gateway_for(OTEL_SDK_DISABLED="true")
    gw.generate(GenerateRequest(prompt="Quiet."))
    gw.close()

    assert gw.telemetry.enabled is False and gw.telemetry.describe()["reason"] == "OTEL_SDK_DISABLED=true"
    assert receiver.received == []


def test_a_bad_telemetry_variable_stops_the_gateway_naming_it(tmp_path):
    with pytest.raises(ConfigError) as err:
        Gateway.from_env(
            demo_env(tmp_path / "x.sqlite", OTEL_SERVICE_NAME="gw", OTEL_TRACES_SAMPLER="sometimes"), dotenv_path=None
        )
    assert err.value.variable == "OTEL_TRACES_SAMPLER"


def test_with_no_otel_variable_the_gateway_never_loads_opentelemetry(tmp_path):
    """Off costs nothing: a whole request runs without the SDK (or even the API) being imported."""
    code = (
        "import json, sys\n"
        "from gateway_core import Gateway\n"
        "from gateway_core.types import GenerateRequest\n"
        f"gw = Gateway.from_env({demo_env(tmp_path / 'off.sqlite')!r}, dotenv_path=None)\n"
        "stream = gw.stream(GenerateRequest(prompt='hi'))\n"
        "text = ''.join(stream) + gw.generate(GenerateRequest(prompt='hello')).text\n"
        "gw.close()\n"
        "print(json.dumps({'loaded': sorted(m for m in sys.modules if m.startswith('opentelemetry')),\n"
        "                  'described': gw.telemetry.describe(), 'answered': bool(text)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])

    assert report["answered"] and report["loaded"] == []
    assert report["described"] == {"enabled": False, "reason": "no OTEL_* variable is set", "endpoint": None}


def test_a_python_caller_inside_its_own_span_gets_the_request_as_a_child(receiver, gateway_for):
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    caller = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False, TraceFlags(TraceFlags.SAMPLED))
    gw = gateway_for()
    with trace.use_span(NonRecordingSpan(caller)):
        gw.generate(GenerateRequest(prompt="Inside my span.", provider_hint="bedrock", fallback=False))
    request, _ = _tree(receiver, gw)

    assert request.kind == Span.SPAN_KIND_INTERNAL
    assert (request.trace_id.hex(), request.parent_span_id.hex()) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")


def test_a_keyed_request_names_its_team_and_key_and_budgets_show_what_is_left(receiver, gateway_for):
    gw = gateway_for()
    gw.governance.set_team("platform", budget_usd=Decimal("100"))
    gw.governance.create_key(name="ci-bot", team="platform", budget_usd=Decimal("5"))
    result = gw.generate(GenerateRequest(prompt="Hi.", provider_hint="bedrock", fallback=False), key="ci-bot")
    request, _ = _tree(receiver, gw)

    attrs = attributes(request.attributes)
    assert (attrs["gateway.team"], attrs["gateway.key_name"]) == ("platform", "ci-bot")
    points = receiver.metrics()["gateway.budget.remaining"].gauge.data_points
    remaining = {tuple(attributes(p.attributes).items()): p.as_double for p in points}
    assert remaining[(("gateway.key_name", "ci-bot"),)] == pytest.approx(5 - float(result.cost_usd))
    assert remaining[(("gateway.team", "platform"),)] == pytest.approx(100 - float(result.cost_usd))
    cost = receiver.metrics()["gateway.cost"].sum.data_points
    assert [attributes(p.attributes)["gateway.team"] for p in cost] == ["platform"]
