"""Provider adapters and their registry, ``PROVIDERS``: the one list of providers.

Adding a provider is one module implementing ``base.Provider`` plus one entry in
``PROVIDERS``; nothing is discovered by file name, and nothing outside this package and
the emulators names a provider. Everything the rest of the gateway needs to know about a
provider is a fact on its class: display name and colours, whether its input-token
estimates need calibration, its settings (which variables configure it, when it is
complete, how a configured model maps to a priced one), and how it is emulated.

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
from .openai_compat import OpenAICompatProvider

PROVIDERS: dict[str, type] = {cls.name: cls for cls in (AzureOpenAIProvider, BedrockProvider, OpenAICompatProvider)}
PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDERS)


def label(name: str) -> str:
    """The display name of a provider (the name itself when it is not registered)."""
    cls = PROVIDERS.get(name)
    return cls.label if cls is not None else name


__all__ = [
    "PROVIDERS",
    "PROVIDER_NAMES",
    "AzureOpenAIProvider",
    "BedrockProvider",
    "Completion",
    "OpenAICompatProvider",
    "Provider",
    "ProviderCall",
    "StreamItem",
    "label",
]
