"""Keeps secrets out of every log record the process emits, ours and the SDKs'.

At DEBUG level botocore logs signed request headers (the access key id sits in the
SigV4 ``Credential=`` field) and the SDKs log request options. A filter on one logger
would miss records from the many module loggers below it, so a log-record factory
scrubs each record as it is created: the configured secret values, SigV4 credentials
and signatures, and ``api-key`` / bearer headers. Records are only created for enabled
levels, so this costs nothing when debug logging is off.
"""

from __future__ import annotations

import logging
import re
import threading

_PATTERNS = (
    (re.compile(r"(Credential=)[^/\s,'\"]+"), r"\1[redacted]"),
    (re.compile(r"(Signature=)[0-9a-fA-F]+"), r"\1[redacted]"),
    (re.compile(r"((?:api-key|Authorization|X-Amz-Security-Token)['\"]?\s*[:=]\s*b?['\"]?)(?:Bearer\s+)?[^'\"\s,}]+", re.I), r"\1[redacted]"),
)

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def protect(secrets) -> None:
    """Register secret values and make sure the scrubbing record factory is installed."""
    global _installed
    with _lock:
        _secrets.update(s for s in secrets if s and len(s) >= 4)
        if _installed:
            return
        base = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            record = base(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a broken format is logging's problem, not ours
                return record
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
