"""GenAI Cloud Gateway: cost-aware routing between Azure OpenAI, AWS Bedrock and OpenAI-compatible endpoints.

The public names are listed in ``__all__`` and are stable; everything else is private.
``Gateway`` is imported on first use: it pulls in the SDKs (over a second), which
processes that only read the log or the prices should not pay for.
"""

from .config import Settings
from .errors import (
    AllProvidersFailed,
    AuditLogUnavailable,
    AuthFailed,
    BadRequest,
    ConfigError,
    ContentFiltered,
    ContextTooLong,
    GatewayError,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
    ValidationError,
)
from .tools import ResponseFormat, Tool, ToolCall, ToolCallDelta
from .types import Attempt, ChatMessage, GenerateRequest, GenerateResult, Usage

__all__ = [
    "AllProvidersFailed",
    "AuditLogUnavailable",
    "Attempt",
    "AuthFailed",
    "BadRequest",
    "ChatMessage",
    "ConfigError",
    "ContentFiltered",
    "ContextTooLong",
    "Gateway",
    "GatewayError",
    "GatewayStream",
    "GenerateRequest",
    "GenerateResult",
    "ModelNotFound",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "ResponseFormat",
    "Settings",
    "StreamInterrupted",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "ValidationError",
]


def __getattr__(name: str):
    if name in ("Gateway", "GatewayStream"):
        from . import gateway

        return getattr(gateway, name)
    raise AttributeError(f"module 'gateway_core' has no attribute {name!r}")
