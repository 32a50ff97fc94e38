"""Fixtures for the telemetry tests: a real OTLP/HTTP receiver, and telemetry pointed at it."""

from __future__ import annotations

import pytest
from otlp_receiver import OtlpReceiver

from gateway_core.telemetry import Telemetry


@pytest.fixture
def receiver():
    with OtlpReceiver() as rx:
        yield rx


@pytest.fixture
def telemetry_for(receiver):
    """``telemetry_for(store_content=False, secrets=(), **env)``: telemetry exporting to the receiver;
    shut down after."""
    made = []

    def make(*, store_content: bool = False, secrets=(), **env):
        base = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "gateway-under-test"}
        tel = Telemetry.from_env({**base, **env}, store_content=store_content, secrets=secrets)
        made.append(tel)
        return tel

    yield make
    for tel in made:
        tel.shutdown()
