"""The provider seam: a small Protocol every adapter implements, and the values it exchanges.

An adapter turns a ``ProviderCall`` into one SDK call and the SDK's answer into a
``Completion``. It raises only ``ProviderError`` subclasses (see ``errors.py``); the
executor reads their ``retryable`` to decide what to do next. Everything else the gateway
knows about a provider is a class-level fact declared here, so no other module has to
name a provider.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ..tools import ResponseFormat, Tool, ToolCall, ToolCallDelta
from ..types import ChatMessage, Usage


@dataclass(frozen=True)
class ProviderCall:
    """What an adapter needs for one call. ``messages`` may start with a system turn.
    Every option here must be honoured or refused: an adapter never drops one silently."""

    model: str  # Azure deployment name or Bedrock model id / profile / ARN
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float | None = None
    # Trace-context headers (W3C ``traceparent``) the call carries to the service, if any.
    headers: Mapping[str, str] | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[Tool, ...] = ()
    tool_choice: str | None = None  # auto | none | required | a tool's name
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None

    @classmethod
    def for_request(cls, model: str, messages, max_tokens: int, request, headers=None) -> ProviderCall:
        return cls(
            model,
            messages,
            max_tokens,
            request.temperature,
            headers,
            request.top_p,
            request.stop or (),
            request.tools or (),
            request.tool_choice,
            request.parallel_tool_calls,
            request.response_format,
        )


@dataclass(frozen=True)
class Completion:
    """A finished answer. ``model`` is what the service reported (Azure reports the model
    version, not the deployment); ``usage.source`` is ``provider``."""

    text: str
    model: str
    usage: Usage
    finish_reason: str | None = None  # OpenAI's spelling: stop | length | tool_calls | content_filter
    request_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


# A stream yields text deltas (str), tool-call pieces (ToolCallDelta) and, last, exactly
# one Completion with the usage.
StreamItem = str | ToolCallDelta | Completion


@runtime_checkable
class Provider(Protocol):
    name: str
    supports_streaming: bool
    calibrate_input_tokens: bool  # the service's tokenizer is unpublished: scale tiktoken counts
    label: ClassVar[str]  # display name, e.g. on console badges
    color: ClassVar[str]  # Streamlit badge colour
    chart_color: ClassVar[str]  # hex colour on charts
    Settings: ClassVar[type]  # a config.ProviderSettings: its variables, models and pricing names
    emulator: ClassVar[str]  # which loopback emulator serves it when it is emulated
    bill_format: ClassVar[str | None]  # the cloud cost export that bills it (analytics.bill_formats), if any
    otel_name: ClassVar[str]  # gen_ai.provider.name in the OpenTelemetry GenAI conventions
    server_address: str | None  # the service's host and port, for server.address / server.port
    server_port: int | None

    @classmethod
    def from_settings(cls, settings) -> Provider: ...

    @classmethod
    def for_emulator(cls, settings, url: str) -> Provider: ...

    @classmethod
    def emulated_models(cls, own) -> Mapping[str, Any] | None: ...

    def complete(self, call: ProviderCall) -> Completion: ...

    def stream(self, call: ProviderCall) -> Iterator[StreamItem]: ...

    def close(self) -> None: ...


def host_and_port(url: object) -> tuple[str | None, int | None]:
    """The host and explicit port of an endpoint URL; ``(None, None)`` when it has none."""
    try:
        parts = urlsplit(str(url))
        return parts.hostname or None, parts.port
    except ValueError:
        return None, None
