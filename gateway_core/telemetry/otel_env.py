"""Reads the standard ``OTEL_*`` variables into an ``OtelConfig``: a pure function of a mapping.

Telemetry turns on when any of the variables that point somewhere or name something is
set (endpoint, protocol, service name, resource attributes, traces or metrics exporter),
and stays off when none is, when ``OTEL_SDK_DISABLED=true``, or when both exporters are
``none``. ``OTEL_TRACES_SAMPLER`` and its argument choose head sampling (see ``sampling``).
Nothing here imports OpenTelemetry, so a gateway with telemetry off never loads it. A value that cannot work raises ``ConfigError`` naming its variable, at start-up
rather than as a silent loss of every span later.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import ConfigError
from .sampling import DEFAULT_SAMPLER, SAMPLERS

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
SERVICE_NAME = "OTEL_SERVICE_NAME"
RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
METRICS_EXPORTER = "OTEL_METRICS_EXPORTER"
SDK_DISABLED = "OTEL_SDK_DISABLED"
METRIC_EXPORT_INTERVAL = "OTEL_METRIC_EXPORT_INTERVAL"
BSP_SCHEDULE_DELAY = "OTEL_BSP_SCHEDULE_DELAY"
TRACES_SAMPLER = "OTEL_TRACES_SAMPLER"
TRACES_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"

# Any one of these being set means the operator asked for telemetry.
SWITCHES = (ENDPOINT, PROTOCOL, SERVICE_NAME, RESOURCE_ATTRIBUTES, TRACES_EXPORTER, METRICS_EXPORTER)
# Every variable read here: a change to any of them is a change of configuration.
VARIABLES = (
    *SWITCHES,
    HEADERS,
    SDK_DISABLED,
    METRIC_EXPORT_INTERVAL,
    BSP_SCHEDULE_DELAY,
    TRACES_SAMPLER,
    TRACES_SAMPLER_ARG,
)

DEFAULT_ENDPOINT = "http://localhost:4318"
DEFAULT_SERVICE_NAME = "genai-cloud-gateway"
PROTOCOLS = ("http/protobuf", "grpc")
EXPORTERS = ("otlp", "console", "none")
GRPC_EXPORTER_MODULE = "opentelemetry.exporter.otlp.proto.grpc"


@dataclass(frozen=True)
class OtelConfig:
    """What the SDK is to be built with. ``enabled`` False carries the ``reason`` instead."""

    enabled: bool
    reason: str = ""
    endpoint: str = DEFAULT_ENDPOINT
    protocol: str = "http/protobuf"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    service_name: str = DEFAULT_SERVICE_NAME
    resource: Mapping[str, str] = field(default_factory=dict)
    traces: tuple[str, ...] = ("otlp",)
    metrics: tuple[str, ...] = ("otlp",)
    metric_interval_ms: int = 60_000
    span_delay_ms: int = 5_000
    sampler: str = DEFAULT_SAMPLER
    sample_ratio: float = 1.0

    def signal_url(self, signal: str) -> str:
        """The OTLP/HTTP URL for ``traces`` or ``metrics``: the base endpoint's path plus ``/v1/<signal>``."""
        parts = urlsplit(self.endpoint)
        return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/v1/{signal}"))

    def display_endpoint(self) -> str:
        """The endpoint without user info or query: safe for a page or a log line."""
        parts = urlsplit(self.endpoint)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _get(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    return value.strip() if isinstance(value, str) else ""


def _disabled(env: Mapping[str, str]) -> bool:
    value = _get(env, SDK_DISABLED).lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise ConfigError(SDK_DISABLED, f"expected true or false, got {value!r}")


def _exporters(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _get(env, name)
    names = tuple(dict.fromkeys(p.strip().lower() for p in raw.split(",") if p.strip())) or ("otlp",)
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise ConfigError(name, f"unsupported exporter {unknown[0]!r}; use one of {', '.join(EXPORTERS)}")
    if "none" in names and len(names) > 1:
        raise ConfigError(name, "'none' cannot be combined with another exporter")
    return () if names == ("none",) else names


def _endpoint(env: Mapping[str, str]) -> str:
    raw = _get(env, ENDPOINT) or DEFAULT_ENDPOINT
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ConfigError(ENDPOINT, "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(ENDPOINT, "must be an http:// or https:// URL with a host, such as http://collector:4318")
    return raw


def _protocol(env: Mapping[str, str]) -> str:
    value = _get(env, PROTOCOL).lower() or "http/protobuf"
    if value not in PROTOCOLS:
        raise ConfigError(PROTOCOL, f"unsupported protocol {value!r}; use http/protobuf (or grpc)")
    if value == "grpc" and not _importable(GRPC_EXPORTER_MODULE):
        raise ConfigError(
            PROTOCOL, "grpc needs the opentelemetry-exporter-otlp-proto-grpc package; install it or use http/protobuf"
        )
    return value


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package
        return False


def _pairs(env: Mapping[str, str], name: str) -> dict[str, str]:
    """``key=value`` pairs separated by commas, values percent-encoded (the W3C baggage form)."""
    out: dict[str, str] = {}
    for item in _get(env, name).split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(name, "expected comma-separated key=value pairs")
        out[unquote(key.strip())] = unquote(value.strip())
    return out


def _millis(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected a whole number of milliseconds, got {raw!r}") from None
    if not 1 <= value <= 3_600_000:
        raise ConfigError(name, "must be between 1 and 3600000 milliseconds")
    return value


def _sampler(env: Mapping[str, str]) -> tuple[str, float]:
    name = _get(env, TRACES_SAMPLER).lower() or DEFAULT_SAMPLER
    if name not in SAMPLERS:
        raise ConfigError(TRACES_SAMPLER, f"unsupported sampler {name!r}; use one of {', '.join(SAMPLERS)}")
    raw = _get(env, TRACES_SAMPLER_ARG)
    if not name.endswith("traceidratio") or not raw:
        return name, 1.0
    try:
        ratio = float(raw)
    except ValueError:
        raise ConfigError(TRACES_SAMPLER_ARG, f"expected a sampling ratio between 0 and 1, got {raw!r}") from None
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(TRACES_SAMPLER_ARG, f"expected a sampling ratio between 0 and 1, got {raw!r}")
    return name, ratio


def parse_otel_env(env: Mapping[str, str]) -> OtelConfig:
    """The telemetry configuration a mapping of environment variables asks for."""
    if _disabled(env):
        return OtelConfig(enabled=False, reason=f"{SDK_DISABLED}=true")
    if not any(_get(env, name) for name in SWITCHES):
        return OtelConfig(enabled=False, reason="no OTEL_* variable is set")
    traces, metrics = _exporters(env, TRACES_EXPORTER), _exporters(env, METRICS_EXPORTER)
    if not traces and not metrics:
        return OtelConfig(enabled=False, reason=f"{TRACES_EXPORTER} and {METRICS_EXPORTER} are both none")
    resource = _pairs(env, RESOURCE_ATTRIBUTES)
    service = _get(env, SERVICE_NAME) or resource.get("service.name") or DEFAULT_SERVICE_NAME
    sampler, ratio = _sampler(env)
    return OtelConfig(
        enabled=True,
        endpoint=_endpoint(env),
        protocol=_protocol(env),
        headers=_pairs(env, HEADERS),
        service_name=service,
        resource={**resource, "service.name": service},
        traces=traces,
        metrics=metrics,
        metric_interval_ms=_millis(env, METRIC_EXPORT_INTERVAL, 60_000),
        span_delay_ms=_millis(env, BSP_SCHEDULE_DELAY, 5_000),
        sampler=sampler,
        sample_ratio=ratio,
    )
