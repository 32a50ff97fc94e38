"""What telemetry must never do: export when it is off, load OpenTelemetry when it is off, take over
the process's global providers, or let content or a secret reach the collector unasked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from otlp_receiver import attributes
from telemetry_shapes import (
    CONFIGURED_SECRET,
    PLANTED,
    PLANTED_ANSWER,
    PLANTED_EMAIL,
    PLANTED_KEY,
    PLANTED_PROMPT,
    PLANTED_SYSTEM,
    drive_fallback,
)

from gateway_core.telemetry import Telemetry


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_SDK_DISABLED": "TRUE", "OTEL_SERVICE_NAME": "gw"},
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"},
    ],
    ids=["unset", "disabled", "disabled-with-name", "both-exporters-none"],
)
def test_nothing_reaches_the_collector_when_telemetry_is_off(receiver, env):
    # The endpoint is only added when something else already asks for telemetry to be off.
    full = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url} if env else env
    tel = Telemetry.from_env(full)
    drive_fallback(tel, parent_headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    tel.register_gauges(lambda: [("p", "m", "open")], lambda: [(1, {"team": "t"})])
    tel.shutdown()

    assert tel.enabled is False and tel.describe()["enabled"] is False and tel.describe()["endpoint"] is None
    assert receiver.received == []


def test_off_telemetry_never_imports_opentelemetry():
    script = (
        "import sys, json\n"
        "from gateway_core.telemetry import Telemetry\n"
        "tel = Telemetry.from_env({'OTEL_SDK_DISABLED': 'true', 'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:9'})\n"
        "t = tel.start_request('chat', 'm', parent_headers={})\n"
        "a = t.attempt('p', 'm')\n"
        "print(json.dumps({'headers': a.inject_headers(), 'describe': tel.describe(),\n"
        "                  'loaded': sorted(m for m in sys.modules if m.startswith('opentelemetry'))}))\n"
        "a.end(None); t.end(None); tel.shutdown()\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(out.stdout)

    assert report["loaded"] == []
    assert report["headers"] == {}
    assert report["describe"] == {"enabled": False, "reason": "OTEL_SDK_DISABLED=true", "endpoint": None}


def test_global_tracer_and_meter_providers_are_left_alone(telemetry_for):
    from opentelemetry import metrics as otel_metrics

    before = (otel_trace.get_tracer_provider(), otel_metrics.get_meter_provider())
    drive_fallback(telemetry_for())
    drive_fallback(telemetry_for())  # a second gateway in the same process

    assert (otel_trace.get_tracer_provider(), otel_metrics.get_meter_provider()) == before
    assert type(before[0]).__name__.startswith("Proxy")


def test_no_content_or_secret_in_any_exported_byte_when_content_storage_is_off(receiver, telemetry_for):
    tel = telemetry_for(store_content=False, secrets=[CONFIGURED_SECRET])
    drive_fallback(tel)
    tel.register_gauges(lambda: [("aws.bedrock", "m", "closed")], lambda: [(5, {"team": "research"})])
    tel.shutdown()

    assert {r.path for r in receiver.received} == {"/v1/traces", "/v1/metrics"}
    everything = b"".join(r.raw + r.body for r in receiver.received)
    for planted in PLANTED:
        assert planted.encode() not in everything, f"{planted!r} was exported"
    assert all(not span.events for span in receiver.spans())


def test_content_storage_on_records_masked_content_as_a_genai_event(receiver, telemetry_for):
    tel = telemetry_for(store_content=True, secrets=[CONFIGURED_SECRET])
    drive_fallback(tel)
    tel.shutdown()
    everything = b"".join(r.raw + r.body for r in receiver.received)

    for masked_away in (PLANTED_EMAIL, PLANTED_KEY, CONFIGURED_SECRET):
        assert masked_away.encode() not in everything
    attempts = [s for s in receiver.spans() if s.kind == Span.SPAN_KIND_CLIENT]
    assert len(attempts) == 2 and all(s.events for s in attempts)  # what was sent is recorded on each call
    answered = [s for s in attempts if attributes(s.attributes).get("gen_ai.response.id")][0]
    (event,) = answered.events
    attrs = attributes(event.attributes)
    assert event.name == "gen_ai.client.inference.operation.details"
    chat = json.loads(attrs["gen_ai.input.messages"])
    assert [m["role"] for m in chat] == ["user"]
    assert PLANTED_PROMPT in chat[0]["parts"][0]["content"]
    assert "[email]" in chat[0]["parts"][0]["content"] and "[secret]" in chat[0]["parts"][0]["content"]
    assert PLANTED_SYSTEM in json.loads(attrs["gen_ai.system_instructions"])[0]["content"]
    (output,) = json.loads(attrs["gen_ai.output.messages"])
    assert output["role"] == "assistant" and output["finish_reason"] == "end_turn"
    assert output["parts"] == [{"type": "text", "content": f"{PLANTED_ANSWER}. Done."}]


def test_shutdown_gives_up_on_an_unreachable_collector_instead_of_hanging(caplog):
    import time

    # Port 9 (discard) on loopback: nothing listens there, so every export is refused and
    # the exporter would keep retrying for its whole timeout, once per signal.
    tel = Telemetry.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    drive_fallback(tel)
    t0 = time.monotonic()
    tel.shutdown(timeout_s=1.0)

    assert time.monotonic() - t0 < 8  # the exporters alone would wait out their retries (~17 s)
    assert "did not take the last export" in caplog.text and "127.0.0.1:9" in caplog.text
