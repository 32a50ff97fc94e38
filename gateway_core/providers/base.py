"""The provider seam: a tiny Protocol every adapter implements, and the values it exchanges.

An adapter turns a ``ProviderCall`` into one SDK call and the SDK's answer into a
``Completion``. It raises only ``ProviderError`` subclasses (see ``errors.py``); the
router decides what to do with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Union, runtime_checkable

from ..types import ChatMessage, Usage


@dataclass(frozen=True)
class ProviderCall:
    """What an adapter needs for one call. ``messages`` may start with a system turn."""

    model: str  # Azure deployment name or Bedrock model id / profile / ARN
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float | None = None


@dataclass(frozen=True)
class Completion:
    """A finished answer. ``model`` is what the service reported (Azure reports the model
    version, not the deployment); ``usage.source`` is ``provider``."""

    text: str
    model: str
    usage: Usage
    finish_reason: str | None = None
    request_id: str | None = None


# A stream yields text deltas (str) and, last, exactly one Completion with the usage.
StreamItem = Union[str, Completion]


@runtime_checkable
class Provider(Protocol):
    name: str
    supports_streaming: bool
    calibrate_input_tokens: bool  # the service's tokenizer is unpublished: scale tiktoken counts

    def complete(self, call: ProviderCall) -> Completion: ...

    def stream(self, call: ProviderCall) -> Iterator[StreamItem]: ...

    def close(self) -> None: ...
