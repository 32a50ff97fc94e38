"""The one place secrets and content are masked, with one marker scheme.

A masked span is replaced by its kind in square brackets: ``[secret]`` for anything that
grants access (a configured key, a bearer token, a SigV4 credential or signature, an AWS
access key id, a JWT, one of the gateway's own API keys, a long key-like string), and ``[email]``, ``[phone]`` or ``[card]``
for personal data in stored content. A header or parameter name is kept and only its value
is masked (``api-key: [secret]``), so a masked line still says what was there.

- ``scrub`` cleans text bound for a log, a database row or a user: configured secret values
  and credential patterns.
- ``sanitize`` turns a provider's error message into one short line: ``scrub``, plus any
  key-like run and any echoed request body (which may hold the prompt) removed.
- ``mask_content`` masks stored prompt and response text (``GATEWAY_STORE_CONTENT``);
  ``pii_kinds`` names the kinds it would mask, for routing policies.
- ``protect`` installs a log-record factory that scrubs every record the process creates,
  ours and the SDKs' (botocore logs signed headers at DEBUG). Records are only created for
  enabled levels, so it costs nothing while debug logging is off.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

SECRET = "[secret]"
MAX_MESSAGE_CHARS = 200
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words

_CREDENTIALS = (
    # A named credential: keep the name, mask the value (up to a quote, space, comma or '/',
    # so a SigV4 Credential keeps its date and region scope).
    (
        re.compile(
            r"(?i)\b(signature|credential|x-amz-security-token|api[-_]?key|authorization)"
            r"(['\"]?\s*[=:]\s*(?:b?['\"])?(?:bearer\s+)?)[^'\"\s,}/]+"
        ),
        r"\1\2" + SECRET,
    ),
    (re.compile(r"(?i)\b(bearer\s+)[^'\"\s,}]+"), r"\1" + SECRET),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b"), SECRET),
    # JSON web tokens: three base64url segments; the header and payload carry claims too.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), SECRET),
    # The gateway's own API keys (``governance.keys``): keep the public key id, mask the secret.
    (re.compile(r"\bgwk_([a-z2-7]{10})_[A-Za-z0-9_-]{16,}"), r"gwk_\1_" + SECRET),
)
# In provider messages, a long unbroken run of letters and digits is a key or token; model
# and request ids survive because '-', '.' or ':' break them up.
_KEYLIKE_IN_MESSAGE = re.compile(r"\b(?=[A-Za-z0-9+/=]*\d)(?=[A-Za-z0-9+/=]*[A-Za-z])[A-Za-z0-9+/=]{24,}")
# A body echoed back by a proxy or an old SDK's str(e) starts like JSON; it may hold the prompt.
_BODY_ECHO = re.compile(r"\{.*", re.S)


def scrub(text: str | None, secrets: Iterable[str] = (), limit: int | None = None) -> str | None:
    """``text`` with configured ``secrets`` and credential patterns masked, cut to ``limit``."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_CHARS and secret in text:
            text = text.replace(secret, SECRET)
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return text if limit is None else text[:limit]


def sanitize(text: object, secrets: Iterable[str] = ()) -> str:
    """One short line of a provider message, with secrets, key-like runs and echoed bodies removed."""
    s = scrub(" ".join(str(text or "").split()), secrets) or ""
    s = _KEYLIKE_IN_MESSAGE.sub(SECRET, s)
    s = _BODY_ECHO.sub("", s).strip()
    if len(s) > MAX_MESSAGE_CHARS:
        s = s[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"
    return s


# --- stored content ------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_KEYS_IN_CONTENT = re.compile(
    r"\bsk-[A-Za-z0-9_-]{16,}"  # OpenAI-style secret keys
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Za-z])[A-Za-z0-9+/_-]{32,}={0,2}"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# Phones: an optional +country code, an optional (area) group, then digit groups of 1-5
# separated by space, dot or dash, 9-15 digits in all (checked in _phone), so French
# "+33 1 42 68 53 00" and a bare "415) 555-0132" both match.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(?\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]\d{1,5}){1,5}(?!\w)"
    r"|(?<![\w+])\+?\d{10,12}(?!\w)"
)
_JWT = _CREDENTIALS[3][0]
_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _phone(match: re.Match) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    # Dates and short number runs are left alone; masking them would make logs useless.
    if not 9 <= digits <= 15 or _DATE_LIKE.match(text):
        return text
    return "[phone]"


# Most prompts hold no personal data, so each pattern is guarded by a cheap necessary
# condition: a substring test, or the text's digit count, taken once per text (masking
# never adds a digit, so the first count bounds every later one). Card and phone numbers
# need 13 and 9 digits, and are only looked for inside "islands": maximal runs of digits,
# spaces and + ( ) . - holding nine digits close together (the least a phone number has).
# Every character either pattern can match is in that set, so a match never leaves its
# island, and each island is searched with the one character on either side that the
# patterns' look-behind and look-ahead need.
_NINE_DIGITS = re.compile(r"\d(?:[ .()-]{0,2}\d){8}")
_KEY_HINTS = ("sk-", "AKIA", "ASIA")
_ASCII_DIGITS = "0123456789"


def _digit_bound(text: str) -> int:
    """At least the number of digits in ``text``: counted (one C pass per digit) when it is
    ASCII; otherwise its length, since ``\\d`` also matches other scripts' digits."""
    return sum(map(text.count, _ASCII_DIGITS)) if text.isascii() else len(text)


def _may_hold_key(text: str, digits: int) -> bool:
    # The long-run alternative needs 32 key characters in a row, one of them a digit, so a
    # token at least that long.
    if any(h in text for h in _KEY_HINTS):
        return True
    return digits > 0 and max(map(len, text.split()), default=0) >= 32


def _numberish(ch: str) -> bool:
    return ch.isdecimal() or ch in " +().-"


def _islands(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _NINE_DIGITS.finditer(text):
        if spans and m.start() < spans[-1][1]:
            continue  # inside the island already found
        start, end = m.start(), m.end()
        while start > 0 and _numberish(text[start - 1]):
            start -= 1
        while end < len(text) and _numberish(text[end]):
            end += 1
        spans.append((start, end))
    return spans


def _in_islands(pattern: re.Pattern, replacement):
    def mask(text: str) -> str:
        parts, last = [], 0
        for start, end in _islands(text):
            lo, hi = max(start - 1, 0), min(end + 1, len(text))
            # The neighbours are never part of a match, so they come back unchanged.
            masked = pattern.sub(replacement, text[lo:hi])
            parts += (text[last:start], masked[start - lo : len(masked) - (hi - end)])
            last = end
        return "".join(parts) + text[last:] if parts else text

    return mask


def _whole(pattern: re.Pattern, replacement):
    return lambda text: pattern.sub(replacement, text)


# (kind, necessary condition on (text, digit bound), masker) in the order they apply. Keys
# go first so a long token is never half-masked as a phone number; cards go before phones
# because a 16-digit card would otherwise read as a phone number.
_CONTENT_MASKS = (
    ("email", lambda text, digits: "@" in text, _whole(_EMAIL, "[email]")),
    ("jwt", lambda text, digits: "eyJ" in text, _whole(_JWT, SECRET)),
    ("secret", _may_hold_key, _whole(_KEYS_IN_CONTENT, SECRET)),
    ("card", lambda text, digits: digits >= 13, _in_islands(_CARD, "[card]")),
    ("phone", lambda text, digits: digits >= 9, _in_islands(_PHONE, _phone)),
)


def mask_content(text: str | None) -> str | None:
    """Mask emails, phone numbers, card-like numbers and key-like strings in stored content."""
    if not text:
        return text
    digits = _digit_bound(text)
    for _, may_hold, mask in _CONTENT_MASKS:
        if may_hold(text, digits):
            text = mask(text)
    return text


def pii_kinds(text: str | None) -> tuple[str, ...]:
    """The kinds ``mask_content`` would mask in ``text`` (email, jwt, secret, card, phone), unmasked.

    Each kind is looked for in what the earlier ones left, as masking does, so a token is
    counted once (as jwt) and a card number is not also a phone number. A kind whose cheap
    condition fails costs no pattern at all, so a prompt without personal data is cheap.
    """
    found = []
    digits = _digit_bound(text) if text else 0
    for kind, may_hold, mask in _CONTENT_MASKS if text else ():
        if not may_hold(text, digits):
            continue
        masked = mask(text)
        if masked != text:
            found.append(kind)
            text = masked
    return tuple(found)


# --- the process's log records ---------------------------------------------------------------

_lock = threading.Lock()
_protected: set[str] = set()
_installed = False


def protect(secrets: Iterable[str]) -> None:
    """Register secret values and make sure the scrubbing log-record factory is installed."""
    global _installed
    with _lock:
        _protected.update(s for s in secrets if s and len(s) >= MIN_SECRET_CHARS)
        if _installed:
            return
        base = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            record = base(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a broken format is logging's problem, not ours
                return record
            clean = scrub(message, tuple(_protected))
            if clean != message:
                record.msg, record.args = clean, None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
