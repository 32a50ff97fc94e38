"""Provider adapters and their registry.

Adding a provider is one module implementing ``base.Provider`` plus one entry in
``PROVIDERS``; nothing is discovered by file name.

Bound on HTTP calls: the gateway's fallback sits on top of the SDKs' own retries, and both
are bounded. Each candidate makes at most ``settings.sdk_max_attempts`` SDK attempts
(default 2: ``max_retries=sdk_max_attempts-1`` for openai, ``total_max_attempts`` for
botocore), so a request with fallback over N candidates makes at most
N × sdk_max_attempts HTTP calls — with the defaults, 2 candidates × 2 attempts = 4.
Errors raised inside an open stream are never retried by either SDK.
"""

from __future__ import annotations

from .azure_openai import AzureOpenAIProvider
from .base import Completion, Provider, ProviderCall, StreamItem
from .bedrock import BedrockProvider

PROVIDERS: dict[str, type] = {
    "azure": AzureOpenAIProvider,
    "bedrock": BedrockProvider,
}

__all__ = [
    "PROVIDERS",
    "AzureOpenAIProvider",
    "BedrockProvider",
    "Completion",
    "Provider",
    "ProviderCall",
    "StreamItem",
]
