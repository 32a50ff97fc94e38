"""Helpers every adapter uses to build ``ProviderError``s: message cleaning and class choice.

Provider messages are useful ("Please retry after 6 seconds") but may echo things that must
never leave the process: keys, SigV4 signatures, or the request body. ``redact.sanitize``
keeps one short line with anything credential-like masked, and every error message is
built as ``"<provider> HTTP <status> <code>: <text>"`` so the log can be grepped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import (
    AuthFailed,
    BadRequest,
    ContentFiltered,
    ContextTooLong,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)
from ..redact import sanitize


def build(
    cls: type[ProviderError],
    provider: str,
    text: object,
    *,
    status: int | None = None,
    code: str | None = None,
    retry_after: float | None = None,
    request_id: str | None = None,
    secrets: Iterable[str] = (),
    retryable: bool | None = None,
) -> ProviderError:
    head = f"{provider} HTTP {status}" if status else provider
    if code and code != str(status):
        head += f" {code}"
    body = sanitize(text, secrets)
    message = f"{head}: {body}" if body else head
    return cls(
        message,
        provider=provider,
        status=status,
        code=code,
        retry_after=retry_after,
        request_id=request_id,
        retryable=retryable,
    )


def by_status(status: int | None) -> type[ProviderError] | None:
    """The class a bare HTTP status implies, or None when the status alone does not decide."""
    if status is None:
        return None
    if status in (401, 403):
        return AuthFailed
    if status == 404:
        return ModelNotFound
    if status == 408:
        return ProviderTimeout
    if status == 429:
        return RateLimited
    if status == 409 or status == 424 or status >= 500:
        return ProviderUnavailable
    if 400 <= status < 500:
        return BadRequest
    return None


# Ordered message patterns for 4xx bodies whose status does not tell the whole story.
MESSAGE_RULES: tuple[tuple[re.Pattern, type[ProviderError]], ...] = (
    (
        re.compile(r"(?i)content[ _-]?(management )?(filter|policy)|content_filtered|blocked by (the )?(content|guardrail)"),
        ContentFiltered,
    ),
    (
        re.compile(r"(?i)too long|too many (input )?tokens|context (length|window)|maximum context|exceeds? the (maximum|max)"),
        ContextTooLong,
    ),
    (
        re.compile(
            r"(?i)model identifier is invalid|invalid model|unknown model|on-demand throughput isn.t supported|end of its life"
        ),
        ModelNotFound,
    ),
    (re.compile(r"(?i)service (is )?(temporarily )?unavailable|try again|too many connections|overloaded"), ProviderUnavailable),
)


def by_message(message: str) -> type[ProviderError] | None:
    for pattern, cls in MESSAGE_RULES:
        if pattern.search(message or ""):
            return cls
    return None


def interrupted(err: ProviderError, partial_text: str) -> StreamInterrupted:
    """Wrap a failure that happened after text reached the caller: it must not be retried,
    because a second answer would be appended to half of the first."""
    return StreamInterrupted(
        f"{err.message} (stream interrupted after {len(partial_text)} characters)",
        partial_text=partial_text,
        provider=err.provider,
        status=err.status,
        code=err.code or err.type_name,
        request_id=err.request_id,
    )


def parse_retry_after(headers) -> float | None:
    """Seconds from ``retry-after-ms`` (checked first, as the SDK does) or ``retry-after``."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0), ("x-amz-retry-after", 1000.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / scale
        except (TypeError, ValueError):
            continue  # an HTTP-date: let the caller fall back to its own backoff
        if value >= 0:
            return value
    return None
