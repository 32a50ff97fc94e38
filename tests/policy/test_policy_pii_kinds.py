"""The PII kinds a policy sees are the kinds the log masking finds, reported without masking."""

from __future__ import annotations

import random

import pytest

from gateway_core import redact
from gateway_core.redact import mask_content, pii_kinds

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("Summarise this meeting.", ()),
        ("Write to ana.lopez@example.com", ("email",)),
        ("Call +33 1 42 68 53 00 or (415) 555-0132", ("phone",)),
        ("Card 4111 1111 1111 1111 expires soon", ("card",)),
        ("My key is sk-abcdefghijklmnopqrstuvwx", ("secret",)),
        ("AWS AKIAABCDEFGHIJKLMNOP", ("secret",)),
        (f"Bearer {JWT}", ("jwt",)),
        ("ana@example.com, 4111-1111-1111-1111, +44 20 7946 0958", ("email", "card", "phone")),
        ("Meeting on 2024-01-15 about 12345 units", ()),
        ("", ()),
        (None, ()),
    ],
)
def test_pii_kinds_name_what_masking_would_hide(text, kinds):
    assert pii_kinds(text) == kinds
    # A kind is reported exactly when masking changes the text.
    assert bool(kinds) == (mask_content(text) != text)


def _plain_masking(text: str) -> tuple[str, tuple[str, ...]]:
    """Every pattern run over the whole text, in order, with no shortcut: what the fast path must equal."""
    found = []
    for kind, pattern, replacement in (
        ("email", redact._EMAIL, "[email]"),
        ("jwt", redact._JWT, redact.SECRET),
        ("secret", redact._KEYS_IN_CONTENT, redact.SECRET),
        ("card", redact._CARD, "[card]"),
        ("phone", redact._PHONE, redact._phone),
    ):
        masked = pattern.sub(replacement, text)
        if masked != text:
            found.append(kind)
        text = masked
    return text, tuple(found)


def test_the_cheap_checks_never_change_what_is_found_or_masked():
    # Random text dense in the characters the patterns care about: digits, separators,
    # '@', key prefixes, non-ASCII digits, and whole numbers, cards and addresses.
    pieces = [*"0159 -.()+aZ@_/=\n", "٣", "x.com", "sk-", "AKIA", "eyJ", "4111 1111 1111 1111", "+44 20 7946 0958"]
    pieces += ["2024-01-15", "ana@example.com", "abcdefghij0123456789ABCDEFGHIJ0123", JWT, "(415) 555-0132"]
    rng = random.Random(20250106)
    for _ in range(5_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        masked, kinds = _plain_masking(text)
        assert (mask_content(text), pii_kinds(text)) == (masked, kinds), repr(text)
