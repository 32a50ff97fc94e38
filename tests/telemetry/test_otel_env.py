"""Which OTEL_* settings turn telemetry on, where they point it, and the clear error a bad one gets."""

from __future__ import annotations

import importlib.util

import pytest

from gateway_core.errors import ConfigError
from gateway_core.telemetry import Telemetry
from gateway_core.telemetry.otel_env import parse_otel_env

ON_CASES = [
    # env, endpoint, traces, metrics, service name
    (
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
        "http://collector:4318",
        ("otlp",),
        ("otlp",),
        "genai-cloud-gateway",
    ),
    ({"OTEL_SERVICE_NAME": "gw-eu"}, "http://localhost:4318", ("otlp",), ("otlp",), "gw-eu"),
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "http://localhost:4318", ("otlp",), ("otlp",), "genai-cloud-gateway"),
    (
        {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-resource,deployment.environment=prod"},
        "http://localhost:4318",
        ("otlp",),
        ("otlp",),
        "from-resource",
    ),
    (
        {"OTEL_SERVICE_NAME": "wins", "OTEL_RESOURCE_ATTRIBUTES": "service.name=loses"},
        "http://localhost:4318",
        ("otlp",),
        ("otlp",),
        "wins",
    ),
    ({"OTEL_METRICS_EXPORTER": "none"}, "http://localhost:4318", ("otlp",), (), "genai-cloud-gateway"),
    (
        {"OTEL_TRACES_EXPORTER": "console, otlp", "OTEL_METRICS_EXPORTER": "none"},
        "http://localhost:4318",
        ("console", "otlp"),
        (),
        "genai-cloud-gateway",
    ),
    (
        {"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otlp.example.net/base/"},
        "https://otlp.example.net/base/",
        ("otlp",),
        ("otlp",),
        "genai-cloud-gateway",
    ),
]


@pytest.mark.parametrize("env,endpoint,traces,metrics,service", ON_CASES)
def test_any_standard_variable_turns_telemetry_on(env, endpoint, traces, metrics, service):
    cfg = parse_otel_env(env)
    assert cfg.enabled
    assert (cfg.endpoint, cfg.traces, cfg.metrics, cfg.service_name) == (endpoint, traces, metrics, service)
    assert cfg.resource["service.name"] == service


@pytest.mark.parametrize(
    "env,reason",
    [
        ({}, "no OTEL_* variable is set"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, "no OTEL_* variable is set"),
        ({"OTEL_SDK_DISABLED": "false"}, "no OTEL_* variable is set"),
        ({"OTEL_SDK_DISABLED": "True", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "OTEL_SDK_DISABLED=true"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}, "both none"),
        ({"GATEWAY_MODE": "demo", "AZURE_OPENAI_ENDPOINT": "http://x"}, "no OTEL_* variable is set"),
    ],
)
def test_telemetry_stays_off_and_says_why(env, reason):
    cfg = parse_otel_env(env)
    assert not cfg.enabled and reason in cfg.reason
    assert Telemetry.from_env(env).describe() == {"enabled": False, "reason": cfg.reason, "endpoint": None}


@pytest.mark.parametrize(
    "env,variable,fragment",
    [
        ({"OTEL_SDK_DISABLED": "maybe"}, "OTEL_SDK_DISABLED", "true or false"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:port"}, "OTEL_EXPORTER_OTLP_ENDPOINT", "not a valid URL"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER", "zipkin"),
        ({"OTEL_METRICS_EXPORTER": "prometheus"}, "OTEL_METRICS_EXPORTER", "prometheus"),
        ({"OTEL_METRICS_EXPORTER": "none,otlp"}, "OTEL_METRICS_EXPORTER", "cannot be combined"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "team"}, "OTEL_RESOURCE_ATTRIBUTES", "key=value"),
        ({"OTEL_SERVICE_NAME": "gw", "OTEL_METRIC_EXPORT_INTERVAL": "soon"}, "OTEL_METRIC_EXPORT_INTERVAL", "milliseconds"),
        ({"OTEL_SERVICE_NAME": "gw", "OTEL_BSP_SCHEDULE_DELAY": "0"}, "OTEL_BSP_SCHEDULE_DELAY", "between"),
        ({"OTEL_SERVICE_NAME": "gw", "OTEL_TRACES_SAMPLER": "xray"}, "OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        (
            {"OTEL_SERVICE_NAME": "gw", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "10%"},
            "OTEL_TRACES_SAMPLER_ARG",
            "between 0 and 1",
        ),
        (
            {"OTEL_SERVICE_NAME": "gw", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
            "OTEL_TRACES_SAMPLER_ARG",
            "between 0 and 1",
        ),
    ],
)
def test_a_value_that_cannot_work_is_a_config_error_naming_the_variable(env, variable, fragment):
    with pytest.raises(ConfigError) as err:
        Telemetry.from_env(env)
    assert err.value.variable == variable and fragment in str(err.value)


@pytest.mark.skipif(
    importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None,
    reason="the grpc exporter is installed here, so grpc is accepted",
)
def test_grpc_without_its_exporter_package_is_refused_with_the_fix():
    with pytest.raises(ConfigError) as err:
        parse_otel_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert err.value.variable == "OTEL_EXPORTER_OTLP_PROTOCOL"
    assert "opentelemetry-exporter-otlp-proto-grpc" in str(err.value) and "http/protobuf" in str(err.value)


def test_resource_attributes_and_headers_are_percent_decoded():
    cfg = parse_otel_env(
        {
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod%20eu, team=platform",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc123,x-tenant=acme",
        }
    )
    assert cfg.resource == {"deployment.environment": "prod eu", "team": "platform", "service.name": "genai-cloud-gateway"}
    assert cfg.headers == {"authorization": "Bearer abc123", "x-tenant": "acme"}


@pytest.mark.parametrize(
    "endpoint,signal_url,shown",
    [
        ("http://collector:4318", "http://collector:4318/v1/traces", "http://collector:4318"),
        ("http://collector:4318/", "http://collector:4318/v1/traces", "http://collector:4318/"),
        (
            "https://user:hunter2@otlp.example.net/otlp?token=t0k",
            "https://user:hunter2@otlp.example.net/otlp/v1/traces?token=t0k",
            "https://otlp.example.net/otlp",
        ),
        ("http://[::1]:4318", "http://[::1]:4318/v1/traces", "http://[::1]:4318"),
    ],
)
def test_signal_urls_and_the_endpoint_shown_without_credentials(endpoint, signal_url, shown):
    cfg = parse_otel_env({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
    assert cfg.signal_url("traces") == signal_url
    assert cfg.display_endpoint() == shown
