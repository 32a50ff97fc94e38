"""GenAI Cloud Gateway: cost-aware routing between Azure OpenAI and AWS Bedrock.

The public names are listed in ``__all__`` and are stable; everything else is private.
"""

from .config import Settings
from .errors import (
    AllProvidersFailed,
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
from .gateway import Gateway, GatewayStream
from .types import Attempt, ChatMessage, GenerateRequest, GenerateResult, Usage

__all__ = [
    "AllProvidersFailed",
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
    "Settings",
    "StreamInterrupted",
    "Usage",
    "ValidationError",
]
