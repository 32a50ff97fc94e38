"""The routing policy's decision on the request span, as ``gateway.policy.decision``, exported
to the real OTLP receiver from a demo gateway with a policy: one word, refusals included."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway_fixtures import demo_env
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from otlp_receiver import attributes

from gateway_core import Gateway, GenerateRequest, Settings
from gateway_core.errors import PolicyDenied

POLICY = 'package gateway.routing\n\nexclude contains "bedrock" if input.request.task == "summarise"\n'
POLICY += 'deny contains "no classifying today" if input.request.task == "classify"\n'


@pytest.fixture
def gw(receiver, tmp_path):
    path = Path(tmp_path, "policy.rego")
    path.write_text(POLICY)
    env = demo_env(
        tmp_path / "log.sqlite",
        GATEWAY_POLICY_FILE=str(path),
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_SERVICE_NAME="gateway-policy",
    )
    with Gateway(Settings.from_mapping(env)) as gateway:
        yield gateway


def _request_spans(receiver, gw) -> list:
    assert gw.telemetry.force_flush(timeout_s=10)
    return [s for s in receiver.spans() if s.kind != Span.SPAN_KIND_CLIENT]


def test_the_request_span_says_what_the_policy_decided_refusals_included(receiver, gw):
    gw.generate(GenerateRequest(prompt="Name one colour.", task="chat"))
    gw.generate(GenerateRequest(prompt="A long text about rivers and their deltas.", task="summarise"))
    with pytest.raises(PolicyDenied):
        gw.generate(GenerateRequest(prompt="Rivers are wet.", task="classify"))
    spans = _request_spans(receiver, gw)
    decisions = [attributes(s.attributes)["gateway.policy.decision"] for s in spans]
    assert decisions == ["allow", "exclude", "deny"]
    refused = attributes(spans[2].attributes)
    assert spans[2].status.code == Status.STATUS_CODE_ERROR and refused["error.type"] == "policy_denied"
    assert f"policy {gw.policy.version}" in attributes(spans[1].attributes)["gateway.route_reason"]
