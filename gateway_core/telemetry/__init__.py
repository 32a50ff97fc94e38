"""OpenTelemetry traces and metrics for the gateway, following the GenAI semantic conventions.

``Telemetry.from_env(env)`` reads the standard ``OTEL_*`` variables (see ``otel_env``) and
returns either this module's ``Telemetry``, whose every method is a constant-time no-op
and which never imports OpenTelemetry, or ``sdk.OtelTelemetry``, backed by private tracer
and meter providers (the global ones are left alone, so tests and several gateways in one
process never fight). With telemetry on, a request only fills a plain record (``recording``);
a worker thread turns finished records into spans and metric points (``builder``), which
leave through a batch span processor and a periodic metric reader. What each span and
point carries is decided in ``conventions``; W3C trace context parsing is in ``wire``.
The request path calls::

    trace = tel.start_request("chat", model, max_tokens=..., temperature=..., messages=...,
                              parent_headers=headers_or_None, gateway_attrs={...})
    att = trace.attempt(provider.otel_name, model, server_address, server_port)
    extra_headers = att.inject_headers()      # W3C traceparent for the provider call
    att.end(attempt, response_model=..., response_id=..., finish_reason=..., output_text=...)
    trace.end(result_or_error, {"team": ..., "key_name": ..., "policy.decision": ...})

A request span is SERVER when ``parent_headers`` is given (the REST API passes its request
headers, continuing any ``traceparent``) and INTERNAL otherwise (the Python API, parented
on the caller's current span if it has one). Attempt spans are CLIENT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .otel_env import OtelConfig, parse_otel_env

__all__ = ["AttemptTrace", "OtelConfig", "RequestTrace", "Telemetry", "parse_otel_env"]


class AttemptTrace:
    """One provider call. This base does nothing; the SDK-backed one records a CLIENT span."""

    __slots__ = ()

    def inject_headers(self) -> dict[str, str]:
        """Headers that carry the trace to the provider (``traceparent``); empty when off."""
        return {}

    def end(self, attempt, *, response_model=None, response_id=None, finish_reason=None, output_text=None) -> None:
        """End with the call's ``Attempt`` (usage, latency, ttft, cost, error_type) and what the service said."""


class RequestTrace:
    """One gateway request. This base does nothing; the SDK-backed one records the request span."""

    __slots__ = ()
    trace_id: str | None = None

    def attempt(
        self, provider_name: str, model: str, server_address: str | None = None, server_port: int | None = None
    ) -> AttemptTrace:
        """Start a provider call's span just before the call; ``provider_name`` is the provider's otel_name."""
        return _NOOP_ATTEMPT

    def end(self, outcome, gateway_attrs: Mapping[str, object] | None = None) -> None:
        """End with the ``GenerateResult`` or the exception that ended the request."""


_NOOP_ATTEMPT = AttemptTrace()
_NOOP_REQUEST = RequestTrace()


class Telemetry:
    """Telemetry that is off: every method returns at once and nothing is imported or exported."""

    enabled = False

    def __init__(self, config: OtelConfig | None = None):
        self.config = config or OtelConfig(enabled=False, reason="not configured")

    @staticmethod
    def from_env(env: Mapping[str, str], *, store_content: bool = False, secrets: Iterable[str] = ()) -> Telemetry:
        """Telemetry as the ``OTEL_*`` variables in ``env`` ask for; raises ``ConfigError`` naming a bad one.

        ``store_content`` is the gateway's content-storage setting: only then are prompts and
        answers recorded, masked as the usage log masks them and with the configured
        ``secrets`` scrubbed, as span events."""
        config = parse_otel_env(env)
        if not config.enabled:
            return Telemetry(config)
        from .sdk import OtelTelemetry

        return OtelTelemetry(config, store_content=store_content, secrets=secrets)

    def start_request(
        self,
        operation: str,
        request_model: str | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        messages=None,
        parent_headers: Mapping[str, str] | None = None,
        gateway_attrs: Mapping[str, object] | None = None,
    ) -> RequestTrace:
        return _NOOP_REQUEST

    def register_gauges(
        self,
        breaker_fn: Callable[[], Iterable[tuple[str, str, str]]] | None = None,
        budget_fn: Callable[[], Iterable[tuple[object, Mapping[str, object]]]] | None = None,
    ) -> None:
        """Observable gauges read at each export: ``breaker_fn`` yields ``(provider otel_name, model,
        state)``, ``budget_fn`` yields ``(remaining USD, {"team": ...} or {"key_name": ...})``."""

    def describe(self) -> dict:
        """On or off and where to, for the console sidebar; never carries header values."""
        return {"enabled": False, "reason": self.config.reason, "endpoint": None}

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        return True

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush what is buffered and stop the background exporters."""
